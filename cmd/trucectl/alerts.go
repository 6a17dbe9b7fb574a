package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func alertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "alerts",
		Usage: "list, follow and act on alerts",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list alerts, most urgent first",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "zone", Usage: "zone ids, comma-separated (default: all)"},
					&cli.StringFlag{Name: "state", Usage: "open, acknowledged or resolved (default: all)"},
					&cli.IntFlag{Name: "limit", Value: 100},
				},
				Action: listAlerts,
			},
			{
				Name:      "show",
				Usage:     "show one alert with its timeline",
				ArgsUsage: "ALERT-ID",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					id, err := oneArg(cmd)
					if err != nil {
						return err
					}
					var a alerting.Alert
					if err := newClient(cmd).do(ctx, "GET", "/api/v1/alerts/"+url.PathEscape(id), nil, &a); err != nil {
						return err
					}
					return printJSON(cmd.Root().Writer, a)
				},
			},
			actionCommand("ack", "acknowledge an alert (as --party, for joint acknowledgement)", "ack"),
			actionCommand("resolve", "resolve an alert", "resolve"),
			actionCommand("verify", "record a party's verification: --party P --status confirmed|cannot_confirm|disputed|not_applicable --note REASON", "verify",
				&cli.StringFlag{Name: "status", Usage: "confirmed, disputed or not_applicable"}),
			actionCommand("comment", "add a comment (--note) to the timeline", "comment"),
			actionCommand("snooze", "hold escalation: --for 30m or --until RFC3339", "snooze",
				&cli.StringFlag{Name: "for", Usage: "how long, e.g. 30m"},
				&cli.StringFlag{Name: "until", Usage: "until when, RFC 3339"}),
			{
				Name:  "tail",
				Usage: "follow alert changes live (over the WebSocket), resuming after disconnects",
				Flags: []cli.Flag{&cli.StringSliceFlag{Name: "zone", Usage: "zones to follow (default: all)"}},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					zones := cmd.StringSlice("zone")
					if len(zones) == 0 {
						zones = []string{"*"}
					}
					return tail(ctx, cmd.Root().String("server"), cmd.Root().String("token"), zones, cmd.Root().String("output") == "json", cmd.Root().Writer, cmd.Root().ErrWriter)
				},
			},
		},
	}
}

func oneArg(cmd *cli.Command) (string, error) {
	if cmd.Args().Len() != 1 {
		return "", usageError{fmt.Errorf("%s takes exactly one alert id", cmd.Name)}
	}
	return cmd.Args().First(), nil
}

func actionCommand(name, usage, path string, extra ...cli.Flag) *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "party", Usage: "the party you act for: your user's own (the token's user acts; nobody acts for another party)"},
		&cli.StringFlag{Name: "note", Usage: "why, or the comment"},
	}
	return &cli.Command{
		Name:      name,
		Usage:     usage,
		ArgsUsage: "ALERT-ID",
		Flags:     append(flags, extra...),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			id, err := oneArg(cmd)
			if err != nil {
				return err
			}
			fields := map[string]string{"party": cmd.String("party"), "note": cmd.String("note")}
			for _, f := range extra {
				if n := f.Names()[0]; cmd.String(n) != "" {
					fields[n] = cmd.String(n)
				}
			}
			body, _ := json.Marshal(fields)
			var a alerting.Alert
			if err := newClient(cmd).do(ctx, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/"+path, body, &a); err != nil {
				return err
			}
			if cmd.Root().String("output") == "json" {
				return printJSON(cmd.Root().Writer, a)
			}
			if path == "verify" {
				_, err = fmt.Fprintf(cmd.Root().Writer, "%s is %s (%d parties judged)\n", a.ID, a.Verification, len(a.Verifications))
				return err
			}
			if path == "ack" && a.State != alerting.StateAcknowledged {
				_, err = fmt.Fprintf(cmd.Root().Writer, "%s: acknowledgement recorded; still waiting for %s\n", a.ID, strings.Join(a.AwaitingAck(), ", "))
				return err
			}
			_, err = fmt.Fprintf(cmd.Root().Writer, "%s is now %s\n", a.ID, a.State)
			return err
		},
	}
}

func listAlerts(ctx context.Context, cmd *cli.Command) error {
	q := url.Values{}
	for _, k := range []string{"zone", "state"} {
		if v := cmd.String(k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", fmt.Sprint(cmd.Int("limit")))
	var out struct {
		Alerts []alerting.Alert `json:"alerts"`
	}
	if err := newClient(cmd).do(ctx, "GET", "/api/v1/alerts?"+q.Encode(), nil, &out); err != nil {
		return err
	}
	w := cmd.Root().Writer
	if cmd.Root().String("output") == "json" {
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSEVERITY\tSTATE\tZONE\tREPORTS\tLAST SEEN\tTITLE")
	for _, a := range out.Alerts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", a.ID, a.Severity, a.State, a.Zone, a.ReportCount, a.LastSeen.Format(time.RFC3339), a.Title)
	}
	return tw.Flush()
}

// tail prints alert changes as they happen, and what the server's
// heartbeats say of its health whenever that changes.
func tail(ctx context.Context, server, token string, zones []string, asJSON bool, out, errw io.Writer) error {
	health := "ok"
	return follow(ctx, server, token, zones, errw, func(data []byte, _ wsFrame) error {
		if asJSON {
			_, err := fmt.Fprintln(out, string(data))
			return err
		}
		var f struct {
			Type    string           `json:"type"`
			Zone    string           `json:"zone"`
			Seq     int64            `json:"seq"`
			Event   string           `json:"event"`
			Alert   *alerting.Alert  `json:"alert"`
			Alerts  []alerting.Alert `json:"alerts"`
			Reason  string           `json:"reason"`
			Message string           `json:"message"`
			Status  *struct {
				Problems []string `json:"problems"`
				Healing  []string `json:"healing"`
				Backlog  int64    `json:"backlog"`
				Oldest   float64  `json:"oldest_unprocessed_s"`
			} `json:"status"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("bad frame: %w", err)
		}
		now := time.Now().Format("15:04:05")
		switch f.Type {
		case "snapshot":
			note := ""
			if f.Reason != "" {
				note = " (could not resume: " + f.Reason + ")"
			}
			fmt.Fprintf(out, "%s  snapshot     %-16s seq %d, %d active alerts%s\n", now, f.Zone, f.Seq, len(f.Alerts), note)
		case "alert":
			fmt.Fprintf(out, "%s  %-12s %-16s #%-5d %-8s %-12s %3d reports  %s\n", now, f.Event, f.Zone, f.Seq,
				f.Alert.Severity, f.Alert.State, f.Alert.ReportCount, f.Alert.Title)
		case "error":
			fmt.Fprintf(out, "%s  error: %s\n", now, f.Message)
		case "heartbeat":
			said := "ok"
			if s := f.Status; s != nil {
				var parts []string
				parts = append(parts, s.Problems...)
				if len(s.Healing) > 0 {
					parts = append(parts, "healing "+strings.Join(s.Healing, ", "))
				}
				if s.Backlog > 0 {
					parts = append(parts, fmt.Sprintf("engine behind: %d reports waiting, the oldest for %.0f s", s.Backlog, s.Oldest))
				}
				if len(parts) > 0 {
					said = strings.Join(parts, "; ")
				}
			}
			if said != health {
				health = said
				fmt.Fprintf(out, "%s  server       %s\n", now, said)
			}
		}
		return nil
	})
}

// follow subscribes to zones over the WebSocket and calls fn with every
// frame until ctx ends, reconnecting with the last sequence seen per zone,
// so nothing is missed and nothing repeated across disconnects. fn gets the
// frame and its parsed head; both are valid only until fn returns (the
// buffer is reused for the next frame).
func follow(ctx context.Context, server, token string, zones []string, errw io.Writer, fn func([]byte, wsFrame) error) error {
	wsURL := "ws" + strings.TrimPrefix(strings.TrimRight(server, "/"), "http") + "/ws"
	resume := map[string]*int64{}
	backoff := 250 * time.Millisecond
	for {
		err := followOnce(ctx, wsURL, authHeader(token), zones, resume, fn)
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(errw, "trucectl: connection lost (%v); reconnecting\n", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff + rand.N(backoff)):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// followOnce runs one connection. resume maps a zone to the last sequence
// seen (pointers, so that updating a known zone does not allocate).
func followOnce(ctx context.Context, wsURL string, header http.Header, zones []string, resume map[string]*int64, fn func([]byte, wsFrame) error) error {
	d := websocket.Dialer{Subprotocols: []string{"truceline.v1"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.DialContext(ctx, wsURL, header)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	positions := make(map[string]int64, len(resume))
	for zone, seq := range resume {
		positions[zone] = *seq
	}
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "zones": zones, "resume": positions}); err != nil {
		return err
	}
	var buf bytes.Buffer
	// Silence longer than two heartbeats means the server, or the way to
	// it, is stuck: say so and reconnect. Until the first heartbeat (an
	// older server sends none), allow a minute.
	silence := time.Minute
	for {
		_ = conn.SetReadDeadline(time.Now().Add(silence))
		_, r, err := conn.NextReader()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("stale: no word from the server for %s", silence)
		}
		if err != nil {
			return err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		data := buf.Bytes()
		f, err := parseFrame(data)
		if err != nil {
			return fmt.Errorf("%w: %.80q", err, data)
		}
		if f.EveryMS > 0 {
			silence = 2*time.Duration(f.EveryMS)*time.Millisecond + time.Second
		}
		if len(f.Zone) > 0 && f.Seq > 0 {
			if seq, ok := resume[string(f.Zone)]; ok {
				*seq = f.Seq
			} else {
				seq := f.Seq
				resume[string(f.Zone)] = &seq
			}
		}
		if err := fn(data, f); err != nil {
			return err
		}
	}
}
