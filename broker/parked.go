package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// Parked lists every parked report, oldest first.
func (b *Broker) Parked(ctx context.Context) ([]alerting.ParkedReport, error) {
	cons, err := b.js.OrderedConsumer(ctx, StreamRejected, jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.prefix + ParkedSubject}})
	if err != nil {
		return nil, journalUnavailable("read the parked reports", err)
	}
	out := []alerting.ParkedReport{}
	for {
		batch, err := cons.FetchNoWait(500)
		if err != nil {
			return nil, journalUnavailable("read the parked reports", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			p := alerting.ParkedReport{Subject: m.Headers().Get(HeaderSubject), Attempts: m.Headers().Get(HeaderAttempts),
				Reason: m.Headers().Get(HeaderError), Report: string(m.Data())}
			if meta, err := m.Metadata(); err == nil {
				p.Seq, p.At = meta.Sequence.Stream, meta.Timestamp
			}
			out = append(out, p)
		}
		if err := batch.Error(); err != nil {
			return nil, journalUnavailable("read the parked reports", err)
		}
		if n == 0 {
			return out, nil
		}
	}
}

// ReplayParked stores parked report seq in VIOLATIONS again, on the subject
// it arrived on, as the same sender's report (its submitter and id
// headers), and returns that subject. The report keeps its place in
// REJECTED; replaying it twice is harmless once it was processed (the
// engine counts a report once).
func (b *Broker) ReplayParked(ctx context.Context, seq uint64) (string, error) {
	stream, err := b.js.Stream(ctx, StreamRejected)
	if err != nil {
		return "", journalUnavailable("read the parked reports", err)
	}
	m, err := stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return "", alerting.Errorf(alerting.ENOTFOUND, "no parked report %d", seq)
	}
	if err != nil {
		return "", journalUnavailable("read the parked reports", err)
	}
	subject := m.Header.Get(HeaderSubject)
	if m.Subject != b.prefix+ParkedSubject || subject == "" {
		return "", alerting.Errorf(alerting.ENOTFOUND, "message %d of %s is not a parked report", seq, StreamRejected)
	}
	out := nats.NewMsg(subject)
	out.Data = m.Data
	for _, k := range reportHeaders {
		if v := m.Header.Get(k); v != "" {
			out.Header.Set(k, v)
		}
	}
	if _, err := b.js.PublishMsg(ctx, out); err != nil {
		return "", &alerting.Error{Code: alerting.EUNAVAILABLE, Cause: err,
			Message: fmt.Sprintf("the report store (NATS JetStream) did not confirm the replay of parked report %d; replay it again", seq)}
	}
	return subject, nil
}
