package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// CompactedBucket is the compacted record of every alert: its latest state
// and complete list of reports (key <zone>.<alert id>), and each zone's
// sequence number the record reflects every change up to (key
// _seq.<zone>, with when it was brought up to date). A store rebuilt from the streams loads it, then redoes from
// ALERTS only the changes after it.
const CompactedBucket = "truceline-alerts"

var _ alerting.Compacted = (*Broker)(nil)

// compactedBucket returns the bucket, creating it when it is missing.
func (b *Broker) compactedBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return b.bucket(ctx, &b.compacted, CompactedBucket, "every alert's latest state and reports, for rebuilding Redis past what ALERTS keeps",
		b.alertsMaxBytes)
}

// compactWait bounds the wait for the stream to confirm a batch of alerts
// written into the compacted record.
const compactWait = 30 * time.Second

// compactedMark is a zone's key _seq.<zone>.
type compactedMark struct {
	Seq int64     `json:"seq"`
	At  time.Time `json:"at"`
}

// CompactedSeq implements alerting.Compacted.
func (b *Broker) CompactedSeq(ctx context.Context, zone string) (int64, time.Time, error) {
	kv, err := b.compactedBucket(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	e, err := kv.Get(ctx, "_seq."+zone)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, journalUnavailable("read "+CompactedBucket, err)
	}
	var m compactedMark
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return 0, time.Time{}, fmt.Errorf("%s _seq.%s: %w", CompactedBucket, zone, err)
	}
	return m.Seq, m.At, nil
}

// Compact implements alerting.Compacted: the alerts first, then the
// zone's mark, so the record never claims what it lacks.
func (b *Broker) Compact(ctx context.Context, zone string, seq int64, at time.Time, alerts []alerting.CompactAlert) error {
	kv, err := b.compactedBucket(ctx)
	if err != nil {
		return err
	}
	// The alerts go out together and are confirmed together: one round
	// trip each made a surge of 100,000 alerts take longer to compact
	// than the compaction lease lasts. A value is stored under
	// $KV.<bucket>.<key>, as KeyValue.Put stores it.
	wait, cancel := context.WithTimeout(ctx, compactWait)
	defer cancel()
	keys := make([]string, 0, len(alerts))
	futures := make([]jetstream.PubAckFuture, 0, len(alerts))
	for _, a := range alerts {
		if a.ID == "" {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(a.Alert, &head); err != nil || head.ID == "" {
				return fmt.Errorf("an alert of %s without an id: %v", zone, err)
			}
			a.ID = head.ID
		}
		data, err := json.Marshal(a)
		if err != nil {
			return err
		}
		key := zone + "." + a.ID
		f, err := b.js.PublishAsync("$KV."+kv.Bucket()+"."+key, data)
		if err != nil {
			return recordUnavailable(key, err)
		}
		keys, futures = append(keys, key), append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return recordUnavailable(keys[i], err)
		case <-wait.Done():
			return recordUnavailable(keys[i], wait.Err())
		}
	}
	mark, err := json.Marshal(compactedMark{Seq: seq, At: at.UTC()})
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, "_seq."+zone, mark); err != nil {
		return recordUnavailable("_seq."+zone, err)
	}
	return nil
}

// CompactedAlerts implements alerting.Compacted.
func (b *Broker) CompactedAlerts(ctx context.Context, zone string, fn func(alerting.CompactAlert) error) error {
	kv, err := b.compactedBucket(ctx)
	if err != nil {
		return err
	}
	w, err := kv.Watch(ctx, zone+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return journalUnavailable("read "+CompactedBucket, err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e := <-w.Updates():
			if e == nil {
				return nil // every value read
			}
			var a alerting.CompactAlert
			if err := json.Unmarshal(e.Value(), &a); err != nil {
				return fmt.Errorf("%s %s: %w", CompactedBucket, e.Key(), err)
			}
			if err := fn(a); err != nil {
				return err
			}
		case <-ctx.Done():
			return journalUnavailable("read "+CompactedBucket, ctx.Err())
		}
	}
}
