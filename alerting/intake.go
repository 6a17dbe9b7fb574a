package alerting

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// IntakeTally counts the reports each submitter handed over, and writes
// the counts to the audit log once a period (a minute): one entry
// "reports.receive" per submitter and zone, whose actor is the submitter.
// Reports themselves carry their submitter for good (Report.SubmittedBy);
// the tally says who sent how much, and when, without an entry per report.
// Each replica tallies the reports it stored. A crash loses at most the
// counts of one period, never a report.
type IntakeTally struct {
	record func(context.Context, AuditEntry)
	now    func() time.Time
	every  time.Duration

	mu     sync.Mutex
	counts map[tallyKey]int
	since  time.Time

	stop chan struct{}
	done chan struct{}
}

type tallyKey struct {
	by   Submitter
	zone string
}

// NewIntakeTally starts a tally that writes with record every period; now
// nil means time.Now.
func NewIntakeTally(record func(context.Context, AuditEntry), every time.Duration, now func() time.Time) *IntakeTally {
	if now == nil {
		now = time.Now
	}
	t := &IntakeTally{record: record, now: now, every: every, counts: map[tallyKey]int{}, since: now().UTC(),
		stop: make(chan struct{}), done: make(chan struct{})}
	go t.run()
	return t
}

// Count tallies one stored report.
func (t *IntakeTally) Count(r *Report) {
	var by Submitter
	if r.SubmittedBy != nil {
		by = *r.SubmittedBy
	}
	t.mu.Lock()
	t.counts[tallyKey{by, r.Zone}]++
	t.mu.Unlock()
}

func (t *IntakeTally) run() {
	defer close(t.done)
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			t.Flush(context.Background())
		case <-t.stop:
			return
		}
	}
}

// Flush writes what was tallied since the last flush.
func (t *IntakeTally) Flush(ctx context.Context) {
	t.mu.Lock()
	counts, since, until := t.counts, t.since, t.now().UTC()
	t.counts, t.since = map[tallyKey]int{}, until
	t.mu.Unlock()
	keys := make([]tallyKey, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.by != b.by {
			return a.by.String() < b.by.String()
		}
		return a.zone < b.zone
	})
	for _, k := range keys {
		n := counts[k]
		reports := "reports"
		if n == 1 {
			reports = "report"
		}
		t.record(ctx, AuditEntry{At: until, Actor: tallyActor(k.by), Via: tallyVia(k.by), Action: "reports.receive",
			Zone: k.zone, Object: "zone " + k.zone,
			Detail: fmt.Sprintf("%d %s stored from %s to %s", n, reports, since.Format(time.RFC3339), until.Format(time.RFC3339))})
	}
}

// Shutdown stops the tally and writes what it holds.
func (t *IntakeTally) Shutdown(ctx context.Context) error {
	select {
	case <-t.stop:
	default:
		close(t.stop)
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	t.Flush(ctx)
	return nil
}

func tallyActor(s Submitter) string {
	switch {
	case s.Via == ViaDemo:
		return "demo"
	case s.User != "":
		return s.User
	case s.Via == "":
		return "unrecorded"
	}
	return "anonymous"
}

func tallyVia(s Submitter) string {
	via := []string{}
	if s.Via != "" {
		via = append(via, s.Via)
	}
	if s.Token != "" {
		via = append(via, "token "+s.Token)
	}
	return strings.Join(via, ", ")
}
