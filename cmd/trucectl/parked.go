package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func parkedCommand() *cli.Command {
	return &cli.Command{
		Name:  "parked",
		Usage: "reports that failed every try (admins): list them, replay one once the cause is mended",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list parked reports with their reasons",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					var out struct {
						Parked []alerting.ParkedReport `json:"parked"`
					}
					if err := newClient(cmd).do(ctx, "GET", "/api/v1/parked", nil, &out); err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						return printJSON(cmd.Root().Writer, out.Parked)
					}
					tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SEQ\tPARKED AT\tSUBJECT\tTRIES\tREASON")
					for _, p := range out.Parked {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.Seq, p.At.UTC().Format(time.RFC3339), p.Subject, p.Attempts, p.Reason)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "replay",
				Usage:     "store a parked report again, on the subject it arrived on, as its sender's",
				ArgsUsage: "SEQ",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					seq, err := strconv.ParseUint(cmd.Args().First(), 10, 64)
					if err != nil || cmd.Args().Len() != 1 {
						return usageError{errors.New("replay takes the SEQ that parked list shows")}
					}
					var out struct {
						Replayed uint64 `json:"replayed"`
						Subject  string `json:"subject"`
					}
					if err := newClient(cmd).do(ctx, "POST", "/api/v1/parked/"+strconv.FormatUint(seq, 10)+"/replay", nil, &out); err != nil {
						return err
					}
					return emit(cmd, map[string]any{"replayed": out.Replayed, "subject": out.Subject}, "report %d replayed on %s\n", out.Replayed, out.Subject)
				},
			},
		},
	}
}
