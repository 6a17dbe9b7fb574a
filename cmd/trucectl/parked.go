package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/broker"
)

// parkedReport is a report that failed every try, as REJECTED holds it.
type parkedReport struct {
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Subject  string    `json:"subject"`
	Attempts string    `json:"attempts"`
	Reason   string    `json:"reason"`
	Report   string    `json:"report"`
}

func parkedCommand() *cli.Command {
	return &cli.Command{
		Name:  "parked",
		Usage: "reports that failed every try (over NATS, --nats): list them, replay one once the cause is mended",
		Commands: []*cli.Command{
			{
				Name:  "list",
				Usage: "list parked reports with their reasons",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					js, done, err := jetStream(cmd)
					if err != nil {
						return err
					}
					defer done()
					list, err := listParked(ctx, js)
					if err != nil {
						return err
					}
					if cmd.Root().String("output") == "json" {
						return printJSON(cmd.Root().Writer, list)
					}
					tw := tabwriter.NewWriter(cmd.Root().Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "SEQ\tPARKED AT\tSUBJECT\tTRIES\tREASON")
					for _, p := range list {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", p.Seq, p.At.UTC().Format(time.RFC3339), p.Subject, p.Attempts, p.Reason)
					}
					return tw.Flush()
				},
			},
			{
				Name:      "replay",
				Usage:     "publish a parked report again on the subject it arrived on",
				ArgsUsage: "SEQ",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					seq, err := strconv.ParseUint(cmd.Args().First(), 10, 64)
					if err != nil || cmd.Args().Len() != 1 {
						return usageError{errors.New("replay takes the SEQ that parked list shows")}
					}
					js, done, err := jetStream(cmd)
					if err != nil {
						return err
					}
					defer done()
					stream, err := js.Stream(ctx, broker.StreamRejected)
					if err != nil {
						return err
					}
					m, err := stream.GetMsg(ctx, seq)
					if err != nil {
						return fmt.Errorf("parked report %d: %w", seq, err)
					}
					subject := m.Header.Get(broker.HeaderSubject)
					if m.Subject != broker.ParkedSubject || subject == "" {
						return fmt.Errorf("message %d of %s is not a parked report", seq, broker.StreamRejected)
					}
					if _, err := js.Publish(ctx, subject, m.Data); err != nil {
						return fmt.Errorf("replay on %s: %w", subject, err)
					}
					return emit(cmd, map[string]any{"replayed": seq, "subject": subject}, "report %d replayed on %s\n", seq, subject)
				},
			},
		},
	}
}

func jetStream(cmd *cli.Command) (jetstream.JetStream, func(), error) {
	nc, err := nats.Connect(cmd.Root().String("nats"), nats.Name("trucectl"))
	if err != nil {
		return nil, nil, fmt.Errorf("NATS at %s: %w", cmd.Root().String("nats"), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc.Close, nil
}

// listParked reads every parked report from REJECTED, oldest first.
func listParked(ctx context.Context, js jetstream.JetStream) ([]parkedReport, error) {
	cons, err := js.OrderedConsumer(ctx, broker.StreamRejected, jetstream.OrderedConsumerConfig{FilterSubjects: []string{broker.ParkedSubject}})
	if err != nil {
		return nil, err
	}
	out := []parkedReport{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, err
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, _ := m.Metadata()
			p := parkedReport{Subject: m.Headers().Get(broker.HeaderSubject), Attempts: m.Headers().Get(broker.HeaderAttempts),
				Reason: m.Headers().Get(broker.HeaderError), Report: string(m.Data())}
			if meta != nil {
				p.Seq, p.At = meta.Sequence.Stream, meta.Timestamp
			}
			out = append(out, p)
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
		if n == 0 {
			return out, nil
		}
	}
}
