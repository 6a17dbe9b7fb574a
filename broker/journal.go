package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// The streams read back: ALERTS holds every alert change with its record,
// VIOLATIONS every report, so a store that lost recent writes is healed
// from them (alerting.Healer).

var _ alerting.Journal = (*Broker)(nil)

// journalBatch is how many messages a journal read fetches at once.
const journalBatch = 256

// LastSeq implements alerting.Journal: the sequence number of the zone's
// last change in ALERTS, 0 when there is none.
func (b *Broker) LastSeq(ctx context.Context, zone string) (int64, error) {
	seq, _, err := b.lastChange(ctx, zone)
	return seq, err
}

// Changes implements alerting.Journal: it calls fn with each change of the
// zone in ALERTS, with its record, oldest first, starting from the changes
// stored at since (the beginning when zero). It skips nothing: fn sees
// what the stream holds, and decides what it needs.
func (b *Broker) Changes(ctx context.Context, zone string, since time.Time, fn func(alerting.Change) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.changeSubjects(zone)}}
	if !since.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	return b.readAll(ctx, StreamAlerts, cfg, func(m jetstream.Msg) error {
		c, err := alerting.DecodeChange(m.Data())
		if err != nil {
			return fmt.Errorf("a change of %s in %s: %w", zone, StreamAlerts, err)
		}
		c.Record = []byte(m.Headers().Get(HeaderRecord))
		return fn(c)
	})
}

// Reports implements alerting.Journal: it calls fn with each report of the
// zone in VIOLATIONS stored after the stream sequence after and at or
// before through, oldest first.
func (b *Broker) Reports(ctx context.Context, zone string, after, through uint64, fn func(alerting.Submission) error) error {
	if through <= after {
		return nil
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{b.prefix + "violations." + zone + ".>"},
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: after + 1}
	err := b.readAll(ctx, StreamViolations, cfg, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("a report of %s in %s: %w", zone, StreamViolations, err)
		}
		if meta.Sequence.Stream > through {
			return errReadEnough
		}
		s := alerting.Submission{Data: m.Data(), StreamSeq: meta.Sequence.Stream, ReceivedAt: meta.Timestamp}
		var ok bool
		if s.Arrival, ok = b.arrival(m.Subject(), m.Headers(), meta.Sequence.Stream); !ok {
			return nil // rejected when it came; nothing to heal
		}
		return fn(s)
	})
	if errors.Is(err, errReadEnough) {
		return nil
	}
	return err
}

// errReadEnough stops a read of a stream before its end.
var errReadEnough = errors.New("broker: read enough")

// AckFloor implements alerting.Journal: the engine consumer's ack floor in
// VIOLATIONS; every report stored at or before it was processed.
func (b *Broker) AckFloor(ctx context.Context) (uint64, error) {
	info, err := b.engineConsumer(ctx)
	if info == nil || err != nil {
		return 0, err
	}
	return info.AckFloor.Stream, nil
}

// Delivered implements alerting.Journal: the stream sequence of the last
// report the engine consumer delivered in VIOLATIONS.
func (b *Broker) Delivered(ctx context.Context) (uint64, error) {
	info, err := b.engineConsumer(ctx)
	if info == nil || err != nil {
		return 0, err
	}
	return info.Delivered.Stream, nil
}

// engineConsumer reads the engine consumer's state; nil when it does not
// exist yet.
func (b *Broker) engineConsumer(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	cons, err := b.js.Consumer(ctx, StreamViolations, EngineConsumer)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, journalUnavailable("read the engine's consumer", err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, journalUnavailable("read the engine's consumer", err)
	}
	return info, nil
}

// changeSubjects is the filter of a zone's changes in ALERTS.
func (b *Broker) changeSubjects(zone string) string { return b.prefix + "alerts." + zone + ".*" }

// readAll calls fn with every message an ordered consumer of stream
// delivers, until it has caught up with the stream.
func (b *Broker) readAll(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig, fn func(jetstream.Msg) error) error {
	cons, err := b.js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return journalUnavailable("read "+stream, err)
	}
	info := cons.CachedInfo()
	if info == nil || info.NumPending == 0 {
		b.dropConsumer(stream, info)
		return nil
	}
	defer func() { b.dropConsumer(stream, cons.CachedInfo()) }() // each fetch may have made a new one
	for {
		batch, err := cons.Fetch(journalBatch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return journalUnavailable("read "+stream, err)
		}
		for m := range batch.Messages() {
			if err := fn(m); err != nil {
				return err
			}
			meta, err := m.Metadata()
			if err != nil {
				return fmt.Errorf("read %s: %w", stream, err)
			}
			if meta.NumPending == 0 {
				return nil
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return journalUnavailable("read "+stream, err)
		}
		if err := ctx.Err(); err != nil {
			return journalUnavailable("read "+stream, err)
		}
	}
}

// dropConsumer deletes a reader's consumer now rather than when it has
// been idle long enough: readers may come often (a heal, a test polling).
func (b *Broker) dropConsumer(stream string, info *jetstream.ConsumerInfo) {
	if info == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = b.js.DeleteConsumer(ctx, stream, info.Name)
}

// journalUnavailable is a stream that could not be read: try again later.
func journalUnavailable(op string, err error) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "the streams (NATS JetStream) cannot be read; try again",
		Cause: fmt.Errorf("%s: %w", op, err)}
}
