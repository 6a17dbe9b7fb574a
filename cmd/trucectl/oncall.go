package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting/adapters/webhook"
)

// onCall is the server's answer to who is on call.
type onCall struct {
	Schedule string     `json:"schedule"`
	Name     string     `json:"name"`
	At       time.Time  `json:"at"`
	Layer    string     `json:"layer"`
	From     *time.Time `json:"from"`
	Until    *time.Time `json:"until"`
	People   []struct {
		ID    string `json:"id"`
		Name  string `json:"name"`
		Party string `json:"party"`
	} `json:"people"`
}

func onCallCommand() *cli.Command {
	return &cli.Command{
		Name:      "oncall",
		Usage:     "who is on call in a schedule (or in every schedule), now or --at a time",
		ArgsUsage: "[SCHEDULE-ID]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "at", Usage: "when: RFC 3339 (2026-11-23T08:00:00Z) or a duration from now (+2h, -30m)"}},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 1 {
				return usageError{errors.New("oncall takes at most one schedule id")}
			}
			q := url.Values{}
			if at := cmd.String("at"); at != "" {
				t, err := parseWhen(at, time.Now())
				if err != nil {
					return usageError{err}
				}
				q.Set("at", t.UTC().Format(time.RFC3339))
			}
			c := newClient(cmd)
			var answers []onCall
			if id := cmd.Args().First(); id != "" {
				var one onCall
				if err := c.do(ctx, "GET", "/api/v1/schedules/"+url.PathEscape(id)+"/oncall?"+q.Encode(), nil, &one); err != nil {
					return err
				}
				answers = []onCall{one}
			} else {
				var all struct {
					Schedules []onCall `json:"schedules"`
				}
				if err := c.do(ctx, "GET", "/api/v1/oncall?"+q.Encode(), nil, &all); err != nil {
					return err
				}
				answers = all.Schedules
			}
			if cmd.Root().String("output") == "json" {
				return printJSON(cmd.Root().Writer, answers)
			}
			return printOnCall(cmd.Root().Writer, answers)
		},
	}
}

// parseWhen reads an RFC 3339 time or a signed duration from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return time.Time{}, fmt.Errorf("--at %q: not a duration like +2h or -30m", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, fmt.Errorf("--at %q: not an RFC 3339 time like 2026-11-23T08:00:00Z", s)
	}
	return t, nil
}

func printOnCall(w io.Writer, answers []onCall) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tON CALL\tLAYER\tFROM\tUNTIL")
	stamp := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04Z")
	}
	for _, a := range answers {
		who := "NOBODY (the policy's fallback is notified)"
		if len(a.People) > 0 {
			names := make([]string, len(a.People))
			for i, p := range a.People {
				names[i] = p.ID
				if p.Name != "" {
					names[i] = fmt.Sprintf("%s (%s)", p.Name, p.ID)
				}
			}
			who = strings.Join(names, ", ")
		}
		layer := a.Layer
		if layer == "" {
			layer = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Schedule, who, layer, stamp(a.From), stamp(a.Until))
	}
	return tw.Flush()
}

func secretCommand() *cli.Command {
	return &cli.Command{
		Name:  "secret",
		Usage: "print a new webhook signing secret (whsec_…) for a contact method",
		Action: func(_ context.Context, cmd *cli.Command) error {
			s, err := webhook.GenerateSecret()
			if err != nil {
				return err
			}
			err = emit(cmd, map[string]string{"secret": s}, "%s\n", s)
			return err
		},
	}
}

func receiveCommand() *cli.Command {
	return &cli.Command{
		Name:  "receive",
		Usage: "run a webhook receiver that checks signatures and prints each notification (to test a contact)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9099", Usage: "address to listen on"},
			&cli.StringFlag{Name: "secret", Usage: "the method's whsec_ secret (prefer TRUCECTL_WEBHOOK_SECRET)", Sources: cli.EnvVars("TRUCECTL_WEBHOOK_SECRET"), Required: true},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			secret := cmd.String("secret")
			rc := webhook.NewReceiver(func(*http.Request) (string, bool) { return secret, true }, 100)
			l, err := net.Listen("tcp", cmd.String("listen"))
			if err != nil {
				return fmt.Errorf("listen: %w", err)
			}
			srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(l) }()
			defer srv.Close()
			arrivals, stop := rc.Subscribe()
			defer stop()
			w := cmd.Root().Writer
			fmt.Fprintf(w, "listening on http://%s/ (any path); signatures are checked with the given secret\n", l.Addr())
			enc := json.NewEncoder(w)
			for {
				select {
				case <-ctx.Done():
					return nil
				case r := <-arrivals:
					if cmd.Root().String("output") == "json" {
						_ = enc.Encode(r)
						continue
					}
					p := r.Payload
					fmt.Fprintf(w, "%s  %s  %s %s: %s (step %d via %s, attempt %d)\n", r.At.UTC().Format("15:04:05"), p.Key,
						p.Alert.Severity, p.Alert.Zone, p.Alert.Title, p.Step, p.Target, p.Attempt)
					if p.AckURL != "" {
						fmt.Fprintf(w, "          acknowledge: %s\n", p.AckURL)
					}
				}
			}
		},
	}
}
