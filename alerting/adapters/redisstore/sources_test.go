package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

const monitorConfig = `
zones:
  - {id: latakia, name: Latakia}
policies:
  - id: silent
    steps:
      - {after: 0s, notify: [board]}
      - {after: 10m, notify: [board]}
monitors:
  - {id: op-north, name: OP North, zones: [latakia], interval: 5m, grace: 2m, policy: silent, reports: {reported_by: [op-north]}}
`

// watchers are replicas' escalators watching the same sources on one
// Redis and one hand-moved clock.
type watchers struct {
	*fixture
	clock *alertingtest.Clock
	esc   []*alerting.Escalator
}

func setupWatchers(t *testing.T, replicas int) *watchers {
	t.Helper()
	srv, store := storeWith(t, monitorConfig)
	w := &watchers{fixture: &fixture{redis: srv, store: store, pub: &recorder{}}, clock: alertingtest.NewClock(t0)}
	catalog, err := store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range replicas {
		n := 0
		esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: store, Timers: store, Sources: store, Publisher: w.pub,
			Catalog: staticCatalog{catalog}, Now: w.clock.Now, Logger: alertingtest.Logger(t),
			NewID: func() string { n++; return fmt.Sprintf("replica%d-%d", i, n) }})
		if err != nil {
			t.Fatal(err)
		}
		w.esc = append(w.esc, esc)
	}
	return w
}

// at moves the clock to t0+d and ticks every replica at once.
func (w *watchers) at(t *testing.T, d time.Duration) {
	t.Helper()
	w.clock.Set(t0.Add(d))
	var wg sync.WaitGroup
	for _, esc := range w.esc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := esc.Tick(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func (w *watchers) events() []string {
	var out []string
	for _, c := range w.pub.all() {
		out = append(out, string(c.Event)+" "+c.Alert.ID)
	}
	return out
}

func (w *watchers) heard(t *testing.T, d time.Duration) {
	t.Helper()
	if err := w.store.Heard(context.Background(), "op-north", t0.Add(d)); err != nil {
		t.Fatal(err)
	}
}

func TestTwoReplicasOpenOneSilentAlert(t *testing.T) {
	t.Parallel()
	w := setupWatchers(t, 2)
	w.at(t, 0) // both start watching
	w.at(t, time.Minute)
	w.heard(t, time.Minute)
	w.at(t, time.Minute)
	w.at(t, 7*time.Minute+59*time.Second)
	if got := w.events(); len(got) != 0 {
		t.Fatalf("alerts before the deadline: %v", got)
	}
	w.at(t, 8*time.Minute)
	got := w.events()
	if len(got) != 1 {
		t.Fatalf("two replicas opened %v, want one alert", got)
	}
	a := w.pub.all()[0].Alert
	if a.Category != alerting.CategorySourceSilent || a.Zone != "latakia" || a.Title != "OP North silent (Latakia)" || a.Escalation.Level != 1 {
		t.Fatalf("silent alert %+v", a)
	}
	// The lease runs out and the timers come back with Redis (the sweep):
	// the alert is bound to the monitor's key, so nobody opens it again.
	for d := 9 * time.Minute; d < 12*time.Minute; d += 15 * time.Second {
		w.at(t, d)
	}
	if err := w.redis.Client(t).Del(context.Background(), "tl:source-timers").Err(); err != nil {
		t.Fatal(err)
	}
	w.at(t, 13*time.Minute)
	// It escalates like any alert, once.
	w.at(t, 18*time.Minute)
	if got := w.events(); fmt.Sprint(got) != fmt.Sprint([]string{"opened " + a.ID, "escalated " + a.ID}) {
		t.Fatalf("events %v", got)
	}
	// Heard again: resolved once, the silent period on its timeline.
	w.heard(t, 19*time.Minute)
	w.at(t, 19*time.Minute)
	w.at(t, 20*time.Minute)
	got = w.events()
	if len(got) != 3 || got[2] != "resolved "+a.ID {
		t.Fatalf("events %v", got)
	}
	r := w.pub.all()[2].Alert
	if note := r.Timeline[len(r.Timeline)-1].Note; note != "OP North heard again at 2026-11-23T12:19:00Z after 18m0s of silence (silent since 2026-11-23T12:01:00Z)" {
		t.Fatalf("timeline: %q", note)
	}
	states, err := w.store.SourceStates(context.Background(), []string{"op-north"})
	if err != nil {
		t.Fatal(err)
	}
	if s := states["op-north"]; s.Heard == nil || !s.Heard.Equal(t0.Add(19*time.Minute)) || !s.Since.Equal(t0) {
		t.Fatalf("source %+v", s)
	}
}

func TestALostSourceIsWatchedAfresh(t *testing.T) {
	t.Parallel()
	w := setupWatchers(t, 1)
	w.at(t, 0)
	w.heard(t, time.Minute)
	// Redis loses the source and its timer: the sweep watches it again,
	// from then; silence still opens an alert.
	if err := w.redis.Client(t).Del(context.Background(), "tl:source:op-north", "tl:source-timers").Err(); err != nil {
		t.Fatal(err)
	}
	w.at(t, 2*time.Minute) // the next sweep
	w.at(t, 8*time.Minute+59*time.Second)
	if got := w.events(); len(got) != 0 {
		t.Fatalf("alerts before the deadline counted from the new watch: %v", got)
	}
	w.at(t, 9*time.Minute)
	if got := w.events(); len(got) != 1 {
		t.Fatalf("events %v, want the silent alert", got)
	}
}

func TestATimerSetFromAnOlderLookDoesNotHideABeat(t *testing.T) {
	t.Parallel()
	w := setupWatchers(t, 1)
	w.at(t, 0)
	ctx := context.Background()
	states, err := w.store.SourceStates(ctx, []string{"op-north"})
	if err != nil {
		t.Fatal(err)
	}
	w.heard(t, 30*time.Second)
	late := t0.Add(time.Hour)
	if err := w.store.SetSourceTimer(ctx, states["op-north"], &late); err != nil {
		t.Fatal(err)
	}
	ids, _, err := w.store.ClaimDueSources(ctx, t0.Add(30*time.Second), 10, time.Second)
	if err != nil || len(ids) != 1 {
		t.Fatalf("the beat's timer was overwritten: %v %v", ids, err)
	}
}

func TestAReportOfTheSourceIsAHeartbeat(t *testing.T) {
	t.Parallel()
	w := setupWatchers(t, 1)
	catalog, err := w.store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerting.NewEngine(alerting.EngineOptions{Store: w.store, Publisher: w.pub, Catalog: staticCatalog{catalog}, Now: w.clock.Now, Sources: w.store})
	if err != nil {
		t.Fatal(err)
	}
	w.at(t, 0)
	w.at(t, 8*time.Minute) // silent
	ctx := context.Background()
	other := rep("r1", "latakia", alerting.CategoryShelling, t0)
	if err := eng.HandleReport(ctx, other, t0.Add(8*time.Minute)); err != nil {
		t.Fatal(err)
	}
	own := rep("r2", "latakia", alerting.CategoryShelling, t0)
	own.ReportedBy = "op-north"
	received := t0.Add(9 * time.Minute)
	if err := eng.HandleReport(ctx, own, received); err != nil {
		t.Fatal(err)
	}
	states, err := w.store.SourceStates(ctx, []string{"op-north"})
	if err != nil {
		t.Fatal(err)
	}
	if h := states["op-north"].Heard; h == nil || !h.Equal(received) {
		t.Fatalf("heard %v, want %v (when its report arrived)", h, received)
	}
	w.at(t, 9*time.Minute)
	var events []alerting.Event
	for _, c := range w.pub.all() {
		if c.Alert.Category == alerting.CategorySourceSilent {
			events = append(events, c.Event)
		}
	}
	if fmt.Sprint(events) != fmt.Sprint([]alerting.Event{alerting.EventOpened, alerting.EventResolved}) {
		t.Fatalf("silent alert events %v", events)
	}
}
