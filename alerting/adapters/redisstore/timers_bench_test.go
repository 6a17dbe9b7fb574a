package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
)

// lateness records, per alert, how late its escalation was published.
type lateness struct {
	mu   sync.Mutex
	due  map[string]time.Time
	late []time.Duration
}

func (l *lateness) PublishChange(_ context.Context, c alerting.Change) error {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if due, ok := l.due[c.Alert.ID]; ok {
		l.late = append(l.late, now.Sub(due))
		delete(l.due, c.Alert.ID)
	}
	return nil
}

// BenchmarkTimerLateness fills Redis with 100,000 pending escalation timers
// coming due over 50 seconds (2,000 a second) and measures how late an
// escalator running on the real clock fires them. Run it alone:
//
//	go test -run '^$' -bench TimerLateness -benchtime 1x ./alerting/adapters/redisstore/
func BenchmarkTimerLateness(b *testing.B) {
	const timers = 100_000
	const spread = 50 * time.Second
	for range b.N {
		srv := redistest.Start(b)
		store, err := redisstore.New(redisstore.Options{Client: srv.Client(b)})
		if err != nil {
			b.Fatal(err)
		}
		cfg := alerting.Config{
			Zones:    []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
			Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}, {After: alerting.Duration(time.Hour), Notify: []string{"board"}}}}},
		}
		ctx := context.Background()
		if _, ps, err := store.ApplyConfig(ctx, cfg, false); err != nil || len(ps) > 0 {
			b.Fatal(err, ps)
		}
		catalog, err := store.LoadCatalog(ctx, 0)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now().Add(20 * time.Second) // after the alerts are written
		rec := &lateness{due: make(map[string]time.Time, timers)}
		var wg sync.WaitGroup
		ids := make(chan int)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range ids {
					due := start.Add(time.Duration(i) * spread / timers)
					id := fmt.Sprintf("al-%06d", i)
					a := &alerting.Alert{ID: id, Zone: "aleppo", Category: alerting.CategoryShelling, Rule: "r", Policy: "p",
						State: alerting.StateOpen, Severity: alerting.SeveritySevere, Version: 1, UpdatedAt: time.Now(),
						Escalation: &alerting.Escalation{Step: 1, Level: 1, PassStart: due.Add(-time.Hour), NextAt: &due}}
					if _, err := store.Commit(ctx, alerting.Commit{Alerts: []alerting.AlertChange{{Alert: a, Event: alerting.EventOpened}}}); err != nil {
						b.Error(err)
					}
					rec.mu.Lock()
					rec.due[id] = due
					rec.mu.Unlock()
				}
			}()
		}
		for i := range timers {
			ids <- i
		}
		close(ids)
		wg.Wait()
		if time.Now().After(start) {
			b.Fatalf("writing %d alerts took more than 20 s; timers came due meanwhile", timers)
		}
		b.ResetTimer()
		esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: store, Timers: store, Publisher: rec, Catalog: staticCatalog{catalog}})
		if err != nil {
			b.Fatal(err)
		}
		go esc.Run()
		deadline := start.Add(spread + 30*time.Second)
		for {
			rec.mu.Lock()
			left := len(rec.due)
			rec.mu.Unlock()
			if left == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond) // a benchmark watching the clock, not a test waiting
		}
		_ = esc.Shutdown(ctx)
		b.StopTimer()
		rec.mu.Lock()
		late := slices.Clone(rec.late)
		missed := len(rec.due)
		rec.mu.Unlock()
		slices.Sort(late)
		if missed > 0 || len(late) == 0 {
			b.Fatalf("%d of %d timers never fired", missed, timers)
		}
		q := func(p float64) float64 {
			return float64(late[min(len(late)-1, int(p*float64(len(late))))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.50), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
	}
}
