package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "submit a violation report, over HTTP (default) or NATS",
		Description: "Build the report from flags, or read it as JSON (schema v1) with --file (- for standard input).\n" +
			"Prints the report id once truceline (or JetStream) has stored it.\n\n" +
			"   trucectl report --zone aleppo --category shelling --reported-by 'OP Sierra-3' --count 4 --weapon '82mm mortar'\n" +
			"   trucectl report --zone aleppo --category shelling --reported-by 'OP Sierra-3' --weapon MLRS --weapon-calibre 122mm \\\n" +
			"       --impacts 40 --observed-until 2026-11-23T11:07:00Z --observer-lat 36.25 --observer-lon 37.05 --direction 45 --distance 3000-5000\n" +
			"   trucectl report --via nats --file report.json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "JSON report file, or - for standard input"},
			&cli.StringFlag{Name: "via", Value: "http", Usage: "http or nats",
				Validator: func(s string) error {
					if s != "http" && s != "nats" {
						return usageError{fmt.Errorf("--via must be http or nats")}
					}
					return nil
				}},
			&cli.StringFlag{Name: "id", Usage: "report id (idempotency key); assigned when absent"},
			&cli.StringFlag{Name: "zone", Usage: "zone id"},
			&cli.StringFlag{Name: "category", Usage: "shelling, airstrike, drone_strike, small_arms, ground_assault, explosion, movement_of_forces, heavy_weapons_in_restricted_area, access_denial or other"},
			&cli.StringFlag{Name: "observed-at", Usage: "RFC 3339 time (default: now)"},
			&cli.StringFlag{Name: "reported-by", Usage: "who reports"},
			&cli.StringFlag{Name: "source-type", Usage: "own_monitor, party_allegation, ngo, media, public or sensor"},
			&cli.StringFlag{Name: "severity", Usage: "minor, moderate, severe or extreme"},
			&cli.StringFlag{Name: "certainty", Usage: "observed, likely, possible, unlikely or unknown"},
			&cli.IntFlag{Name: "count", Usage: "how many events (explosions, bursts)"},
			&cli.StringFlag{Name: "weapon", Usage: "weapon, when known"},
			&cli.StringFlag{Name: "weapon-calibre", Usage: "calibre, when known (122mm)"},
			&cli.IntFlag{Name: "impacts", Usage: "how many impacts were counted"},
			&cli.StringFlag{Name: "observed-until", Usage: "RFC 3339 time when what was observed ended"},
			&cli.Float64Flag{Name: "observer-lat", Usage: "latitude of the observer"},
			&cli.Float64Flag{Name: "observer-lon", Usage: "longitude of the observer"},
			&cli.Float64Flag{Name: "direction", Usage: "bearing from the observer to the fire or impact, degrees from true north (0-360)"},
			&cli.StringFlag{Name: "distance", Usage: "distance from the observer in metres: MIN-MAX, or one estimate"},
			&cli.StringFlag{Name: "attributed-to", Usage: "party id of the alleged perpetrator"},
			&cli.StringFlag{Name: "target", Usage: "party id, or civilian, infrastructure, humanitarian"},
			&cli.Float64Flag{Name: "lat", Usage: "latitude"},
			&cli.Float64Flag{Name: "lon", Usage: "longitude"},
			&cli.StringFlag{Name: "description", Usage: "free text, up to 4 KiB"},
			&cli.BoolFlag{Name: "exercise", Usage: "mark the report as an exercise"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			data, err := reportBody(cmd)
			if err != nil {
				return err
			}
			var id string
			if cmd.String("via") == "nats" {
				id, err = publishNATS(ctx, cmd, data)
			} else {
				var out struct {
					ID        string `json:"id"`
					Duplicate bool   `json:"duplicate"`
				}
				err = newClient(cmd).do(ctx, "POST", "/api/v1/reports", data, &out)
				id = out.ID
				if out.Duplicate {
					id += " (already stored: counted once)"
				}
			}
			if err != nil {
				return err
			}
			err = emit(cmd, map[string]string{"id": id}, "%s\n", id)
			return err
		},
	}
}

// reportBody is the JSON to send: the file as given, or built from flags.
func reportBody(cmd *cli.Command) ([]byte, error) {
	if path := cmd.String("file"); path != "" {
		if path == "-" {
			return io.ReadAll(cmd.Root().Reader)
		}
		return os.ReadFile(path)
	}
	if cmd.String("zone") == "" || cmd.String("category") == "" || cmd.String("reported-by") == "" {
		return nil, usageError{fmt.Errorf("give --file, or at least --zone, --category and --reported-by")}
	}
	r := alerting.Report{
		ID: cmd.String("id"), Zone: cmd.String("zone"), Category: alerting.Category(cmd.String("category")),
		ObservedAt: time.Now().UTC().Truncate(time.Second), ReportedBy: cmd.String("reported-by"),
		SourceType: cmd.String("source-type"), Severity: alerting.Severity(cmd.String("severity")),
		Certainty: cmd.String("certainty"), Count: cmd.Int("count"), Weapon: cmd.String("weapon"),
		AttributedTo: cmd.String("attributed-to"), Target: cmd.String("target"),
		Description: cmd.String("description"), Exercise: cmd.Bool("exercise"),
	}
	if s := cmd.String("observed-at"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, usageError{fmt.Errorf("--observed-at: %w", err)}
		}
		r.ObservedAt = t
	}
	if cmd.IsSet("lat") || cmd.IsSet("lon") {
		r.Location = &alerting.Location{Lat: cmd.Float64("lat"), Lon: cmd.Float64("lon")}
	}
	if err := observedFire(cmd, &r); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// observedFire adds what the flags say of observed fire; the server
// judges the values.
func observedFire(cmd *cli.Command, r *alerting.Report) error {
	r.WeaponCalibre = cmd.String("weapon-calibre")
	if cmd.IsSet("impacts") {
		n := int(cmd.Int("impacts"))
		r.Impacts = &n
	}
	if s := cmd.String("observed-until"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return usageError{fmt.Errorf("--observed-until: %w", err)}
		}
		r.ObservedUntil = &t
	}
	if cmd.IsSet("observer-lat") != cmd.IsSet("observer-lon") {
		return usageError{fmt.Errorf("give both --observer-lat and --observer-lon, or neither")}
	}
	if cmd.IsSet("observer-lat") {
		r.Observer = &alerting.Position{Lat: cmd.Float64("observer-lat"), Lon: cmd.Float64("observer-lon")}
	}
	if cmd.IsSet("direction") {
		d := cmd.Float64("direction")
		r.DirectionDeg = &d
	}
	if s := cmd.String("distance"); s != "" {
		lo, hi, isRange := strings.Cut(s, "-")
		if !isRange {
			hi = lo
		}
		min, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		max, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if err1 != nil || err2 != nil {
			return usageError{fmt.Errorf("--distance %q: give metres as MIN-MAX (3000-5000) or one number", s)}
		}
		r.DistanceM = &alerting.DistanceRange{Min: min, Max: max}
	}
	return nil
}

// publishNATS stores the report in JetStream on its subject and waits for
// the acknowledgement. truceline validates it then; problems are published
// on rejected.violations.
func publishNATS(ctx context.Context, cmd *cli.Command, data []byte) (string, error) {
	var head struct {
		ID       string `json:"id"`
		Zone     string `json:"zone"`
		Category string `json:"category"`
	}
	if err := json.Unmarshal(data, &head); err != nil || head.Zone == "" || head.Category == "" {
		return "", fmt.Errorf("the report needs zone and category to choose its subject")
	}
	if head.ID == "" {
		return "", fmt.Errorf("over NATS, give the report an id (--id) so that a resend is recognised")
	}
	nc, err := nats.Connect(cmd.Root().String("nats"), nats.Name("trucectl"))
	if err != nil {
		return "", fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	if _, err := js.Publish(ctx, "violations."+head.Zone+"."+head.Category, data, jetstream.WithMsgID(head.ID)); err != nil {
		return "", fmt.Errorf("publish: %w", err)
	}
	return head.ID, nil
}
