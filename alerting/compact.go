package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// ALERTS keeps alert changes for a while (7 days, and a byte limit), so a
// store rebuilt from it alone would miss the alerts nobody changed since.
// The compacted record keeps every alert's latest state, with its complete
// list of reports, per zone at a sequence number or later; a rebuild loads
// it and redoes from ALERTS the changes after that number (a change the
// loaded alert has already adds only its history entry). One replica at a
// time brings it up to date, every compactEvery, from the store.

// CompactAlert is an alert as the compacted record keeps it.
type CompactAlert struct {
	Alert json.RawMessage `json:"alert"`
	// Reports are all the alert's reports, oldest first.
	Reports []string `json:"reports"`
	// ID is the alert's id when the reader knows it, so that writing the
	// record need not decode the alert to find it; not stored (the alert
	// holds it).
	ID string `json:"-"`
}

// Compacted is the compacted record as the Healer reads and writes it.
type Compacted interface {
	// CompactedSeq is the zone's sequence number the record reflects
	// every change up to (0 when it holds nothing of the zone), and when
	// the record was last brought up to date.
	CompactedSeq(ctx context.Context, zone string) (int64, time.Time, error)
	// Compact stores alerts as the zone's latest and moves its sequence
	// number to seq, brought up to date at at.
	Compact(ctx context.Context, zone string, seq int64, at time.Time, alerts []CompactAlert) error
	// CompactedAlerts calls fn with every alert of the zone it holds.
	CompactedAlerts(ctx context.Context, zone string, fn func(CompactAlert) error) error
}

// CompactStore is what compaction and loading the compacted record need of
// the store.
type CompactStore interface {
	// ChangedAlerts calls fn with the alerts of the zone changed at or
	// after since (by their updated_at), as they are now, a batch of at
	// most batch at a time, and returns the zone's sequence number read
	// before them: they are at it or later.
	ChangedAlerts(ctx context.Context, zone string, since time.Time, batch int, fn func([]CompactAlert) error) (int64, error)
	// LoadAlerts writes alerts from the compacted record at seq into a
	// zone that is behind it, on incarnation runID.
	LoadAlerts(ctx context.Context, runID, zone string, seq int64, alerts []CompactAlert) error
	// TryLease takes the named lease for ttl unless another holds it.
	TryLease(ctx context.Context, name string, ttl time.Duration) (bool, error)
}

// compactEvery is how often the compacted record is brought up to date.
const compactEvery = 10 * time.Second

// compactBatch is how many alerts compaction holds in memory at a time: a
// zone where 100,000 alerts changed is written in batches, not read whole.
const compactBatch = 512

// compact brings the compacted record up to date with the store, zone by
// zone, when this replica holds the compaction lease.
func (h *Healer) compact(ctx context.Context) error {
	if h.o.Compacted == nil || time.Since(h.compacted) < compactEvery {
		return nil
	}
	h.compacted = time.Now()
	cs, ok := h.o.Store.(CompactStore)
	if !ok {
		return nil
	}
	if held, err := cs.TryLease(ctx, "compactor", compactEvery); err != nil || !held {
		return err
	}
	for _, z := range h.o.Catalog.Catalog().Zones() {
		at, last, err := h.o.Compacted.CompactedSeq(ctx, z.ID)
		if err != nil {
			return err
		}
		seq, err := h.o.Store.StoredSeq(ctx, z.ID)
		if err != nil {
			return err
		}
		if seq <= at {
			continue
		}
		// The alerts changed since the last time, by their updated_at:
		// replicas' clocks differ, so a minute more.
		now := time.Now()
		since := time.Time{}
		if at > 0 {
			since = last.Add(-time.Minute)
		}
		// Each batch is written under the zone's old mark, which moves
		// only once every batch is in: a crash between batches leaves
		// the record at its old number, with some alerts newer than it,
		// as a record always may be.
		upTo, err := cs.ChangedAlerts(ctx, z.ID, since, compactBatch, func(alerts []CompactAlert) error {
			return h.o.Compacted.Compact(ctx, z.ID, at, last, alerts)
		})
		if err == nil {
			err = h.o.Compacted.Compact(ctx, z.ID, upTo, now, nil)
		}
		if err != nil {
			return fmt.Errorf("compact %s: %w", z.ID, err)
		}
	}
	return nil
}

// loadCompacted writes the compacted record of a zone into a store that
// lacks changes ALERTS no longer holds, and returns the sequence number it
// is at and the reports its alerts hold (so that they are marked
// processed, not processed again).
func (h *Healer) loadCompacted(ctx context.Context, runID, zone string) (int64, map[string]bool, error) {
	cs, ok := h.o.Store.(CompactStore)
	if h.o.Compacted == nil || !ok {
		return 0, nil, nil
	}
	seq, _, err := h.o.Compacted.CompactedSeq(ctx, zone)
	if err != nil || seq == 0 {
		return 0, nil, err
	}
	var alerts []CompactAlert
	known := map[string]bool{}
	if err := h.o.Compacted.CompactedAlerts(ctx, zone, func(a CompactAlert) error {
		alerts = append(alerts, a)
		for _, id := range a.Reports {
			known[id] = true
		}
		return nil
	}); err != nil {
		return 0, nil, err
	}
	if err := cs.LoadAlerts(ctx, runID, zone, seq, alerts); err != nil {
		return 0, nil, err
	}
	h.logger.Warn("zone loaded from the compacted record: ALERTS no longer holds its older changes", "zone", zone, "alerts", len(alerts), "seq", seq)
	return seq, known, nil
}
