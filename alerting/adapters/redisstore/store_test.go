package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// recorder is a Publisher that keeps what it was given.
type recorder struct {
	mu      sync.Mutex
	changes []alerting.Change
}

func (r *recorder) PublishChange(_ context.Context, c alerting.Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, c)
	return nil
}

func (r *recorder) all() []alerting.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alerting.Change(nil), r.changes...)
}

type fixture struct {
	redis *redistest.Server
	store *redisstore.Store
	pub   *recorder
	eng   *alerting.Engine
}

func setup(t *testing.T, o redisstore.Options) *fixture {
	t.Helper()
	srv := redistest.Start(t)
	o.Client = srv.Client(t)
	store, err := redisstore.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, ps, err := store.ApplyConfig(ctx, alerting.Config{Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}, {ID: "latakia", Name: "Latakia"}}}, false); err != nil || len(ps) > 0 {
		t.Fatal(err, ps)
	}
	f := &fixture{redis: srv, store: store, pub: &recorder{}}
	f.eng = newEngine(t, store, f.pub)
	return f
}

func newEngine(t *testing.T, store *redisstore.Store, pub alerting.Publisher) *alerting.Engine {
	t.Helper()
	return newEngineOn(t, store, store, pub)
}

// newEngineOn is an engine with store's configuration working on on.
func newEngineOn(t *testing.T, store *redisstore.Store, on alerting.Store, pub alerting.Publisher) *alerting.Engine {
	t.Helper()
	catalog, err := store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerting.NewEngine(alerting.EngineOptions{Store: on, Publisher: pub, Catalog: staticCatalog{catalog},
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

type staticCatalog struct{ c *alerting.Catalog }

func (s staticCatalog) Catalog() *alerting.Catalog { return s.c }

func rep(id, zone string, cat alerting.Category, observed time.Time) *alerting.Report {
	return &alerting.Report{ID: id, Zone: zone, Category: cat, ObservedAt: observed, ReportedBy: "test"}
}

func (f *fixture) handle(t *testing.T, r *alerting.Report) {
	t.Helper()
	if err := f.eng.HandleReport(context.Background(), r, t0); err != nil {
		t.Fatalf("HandleReport(%s): %v", r.ID, err)
	}
}

func TestReportsGroupIntoAlerts(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	f.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0))
	f.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(5*time.Minute)))
	f.handle(t, rep("r3", "aleppo", alerting.CategorySmallArms, t0))
	f.handle(t, rep("r4", "aleppo", alerting.CategoryShelling, t0.Add(time.Hour))) // outside the window
	f.handle(t, rep("r5", "latakia", alerting.CategoryShelling, t0))

	got := f.pub.all()
	want := []struct {
		zone   string
		seq    int64
		event  alerting.Event
		report string
		count  int
	}{
		{"aleppo", 1, alerting.EventOpened, "r1", 1},
		{"aleppo", 2, alerting.EventUpdated, "r2", 2},
		{"aleppo", 3, alerting.EventOpened, "r3", 1},
		{"aleppo", 4, alerting.EventOpened, "r4", 1},
		{"latakia", 1, alerting.EventOpened, "r5", 1},
	}
	if len(got) != len(want) {
		t.Fatalf("published %d changes, want %d", len(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.Zone != w.zone || c.Seq != w.seq || c.Event != w.event || c.ReportID != w.report || c.Alert.ReportCount != w.count {
			t.Errorf("change %d = %s/%d %s %s count %d, want %+v", i, c.Zone, c.Seq, c.Event, c.ReportID, c.Alert.ReportCount, w)
		}
		decoded, err := alerting.DecodeChange(c.Frame)
		if err != nil || decoded.Seq != w.seq || decoded.Alert.ID != c.Alert.ID {
			t.Errorf("change %d frame does not decode to itself: %v %s", i, err, c.Frame)
		}
	}
	if got[0].Alert.ID != got[1].Alert.ID || got[0].Alert.ID == got[3].Alert.ID {
		t.Error("grouping put reports in the wrong alerts")
	}
	a, err := f.store.Alert(context.Background(), got[1].Alert.ID)
	if err != nil || a.ReportCount != 2 || a.ReportIDs[1] != "r2" {
		t.Fatalf("stored alert = %+v, %v", a, err)
	}
}

func TestHandlingAReportTwiceCountsOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	r := rep("r1", "aleppo", alerting.CategoryShelling, t0)
	f.handle(t, r)
	f.handle(t, r)
	got := f.pub.all()
	if len(got) != 2 || got[0].Seq != got[1].Seq || string(got[0].Frame) != string(got[1].Frame) {
		t.Fatalf("a redelivered report must republish its first change unchanged; got %d changes", len(got))
	}
	a, _ := f.store.Alert(context.Background(), got[0].Alert.ID)
	if a.ReportCount != 1 {
		t.Errorf("report counted %d times", a.ReportCount)
	}
	if seq, _ := f.store.Seq(context.Background(), "aleppo"); seq != 1 {
		t.Errorf("zone seq = %d, want 1", seq)
	}
}

// TestConcurrentEnginesCountEachReportOnce runs two engines over the same
// reports at once, as two replicas with redeliveries would.
func TestConcurrentEnginesCountEachReportOnce(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	second := newEngine(t, f.store, f.pub)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for _, eng := range []*alerting.Engine{f.eng, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				r := rep(fmt.Sprintf("r%d", i), "aleppo", alerting.CategoryShelling, t0.Add(time.Duration(i)*time.Second))
				if err := eng.HandleReport(context.Background(), r, t0); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	alerts, err := f.store.Alerts(context.Background(), alerting.AlertFilter{Zones: []string{"aleppo"}})
	if err != nil || len(alerts) != 1 {
		t.Fatalf("alerts = %d, %v; want exactly one", len(alerts), err)
	}
	ids, total, err := f.store.AlertReports(context.Background(), alerts[0].ID, 0, 1000)
	if alerts[0].ReportCount != n || total != n || len(ids) != n || err != nil {
		t.Errorf("report count = %d, %d ids of %d (%v), want %d", alerts[0].ReportCount, len(ids), total, err, n)
	}
	if len(alerts[0].ReportIDs) != alerting.RecentReports {
		t.Errorf("the alert carries %d report ids, want the %d most recent", len(alerts[0].ReportIDs), alerting.RecentReports)
	}
	if seq, _ := f.store.Seq(context.Background(), "aleppo"); seq != n {
		t.Errorf("zone seq = %d, want %d: one change per report", seq, n)
	}
}

// TestGroupCacheNeverServesAStaleAlert runs two replicas (two Stores, each
// with its own cache of group alerts) on one Redis, with people's actions
// between reports: every report must build on the alert as it is in Redis,
// whoever changed it last.
func TestGroupCacheNeverServesAStaleAlert(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	other, err := redisstore.New(redisstore.Options{Client: f.redis.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	second := newEngine(t, other, f.pub)
	f.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0)) // cached by the first replica
	if err := second.HandleReport(ctx, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(time.Minute)), t0); err != nil {
		t.Fatal(err)
	}
	id := f.pub.all()[0].Alert.ID
	if _, err := second.Acknowledge(ctx, id, alerting.Actor{Name: "officer", Party: "un"}, "seen"); err != nil {
		t.Fatal(err)
	}
	f.handle(t, rep("r3", "aleppo", alerting.CategoryShelling, t0.Add(2*time.Minute)))
	if _, err := f.eng.Comment(ctx, id, alerting.Actor{Name: "officer"}, "still going"); err != nil {
		t.Fatal(err)
	}
	f.handle(t, rep("r4", "aleppo", alerting.CategoryShelling, t0.Add(3*time.Minute)))
	a, err := f.store.Alert(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if a.ReportCount != 4 || len(a.Acks) != 1 || !slices.Equal(a.ReportIDs, []string{"r1", "r2", "r3", "r4"}) {
		t.Errorf("alert after reports and actions from two replicas: %d reports %v, acks %v", a.ReportCount, a.ReportIDs, a.Acks)
	}
	comments := 0
	for _, e := range a.Timeline {
		if strings.HasSuffix(e.Note, "still going") {
			comments++
		}
	}
	if comments != 1 {
		t.Errorf("the comment is in the timeline %d times, want once: %+v", comments, a.Timeline)
	}
}

func TestActionsChangeAlerts(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	f.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0))
	id := f.pub.all()[0].Alert.ID
	if _, err := f.eng.Acknowledge(ctx, id, alerting.Actor{Name: "officer"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Resolve(ctx, id, alerting.Actor{Name: "officer"}, "false alarm"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.eng.Resolve(ctx, id, alerting.Actor{Name: "officer"}, ""); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("second resolve: %v, want conflict", err)
	}
	if _, err := f.eng.Acknowledge(ctx, "al-none", alerting.Actor{Name: "officer"}, ""); alerting.ErrorCode(err) != alerting.ENOTFOUND {
		t.Errorf("ack of a missing alert: %v, want not_found", err)
	}
	seq, active, err := f.store.Snapshot(ctx, "aleppo")
	if err != nil || seq != 3 || len(active) != 0 {
		t.Fatalf("snapshot after resolve: seq %d, %d active, %v", seq, len(active), err)
	}
	// A new report within the window reopens it.
	f.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(time.Minute)))
	last := f.pub.all()[len(f.pub.all())-1]
	if last.Event != alerting.EventReopened || last.Alert.ID != id {
		t.Errorf("last change = %s of %s, want reopened of %s", last.Event, last.Alert.ID, id)
	}
	resolved, _ := f.store.Alerts(ctx, alerting.AlertFilter{Zones: []string{"aleppo"}, State: alerting.StateResolved})
	open, _ := f.store.Alerts(ctx, alerting.AlertFilter{Zones: []string{"aleppo"}, State: alerting.StateOpen})
	if len(resolved) != 0 || len(open) != 1 {
		t.Errorf("after reopening: %d resolved, %d open", len(resolved), len(open))
	}
}

func TestChangesSince(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{HistoryLimit: 5})
	ctx := context.Background()
	for i := range 8 {
		f.handle(t, rep(fmt.Sprintf("r%d", i), "aleppo", alerting.CategoryShelling, t0))
	}
	tests := []struct {
		after  int64
		ok     bool
		frames int
	}{
		{after: 8, ok: true, frames: 0},
		{after: 6, ok: true, frames: 2},
		{after: 3, ok: true, frames: 5}, // the oldest kept is 4
		{after: 2, ok: false},           // 3 was trimmed away
		{after: 9, ok: false},           // ahead of the zone: Redis lost data
	}
	for _, tt := range tests {
		frames, seq, ok, err := f.store.ChangesSince(ctx, "aleppo", tt.after)
		if err != nil {
			t.Fatal(err)
		}
		if ok != tt.ok || len(frames) != tt.frames || (ok && seq != 8) {
			t.Errorf("ChangesSince(%d) = %d frames, seq %d, ok %v; want %d frames, ok %v", tt.after, len(frames), seq, ok, tt.frames, tt.ok)
			continue
		}
		for i, frame := range frames {
			var head struct{ Seq int64 }
			_ = json.Unmarshal(frame, &head)
			if head.Seq != tt.after+1+int64(i) {
				t.Errorf("ChangesSince(%d)[%d] has seq %d", tt.after, i, head.Seq)
			}
		}
	}
}

func TestStateSurvivesARedisCrash(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	f.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0))
	f.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0))
	f.redis.Kill(t)
	f.redis.Restart(t)
	alertingtest.Eventually(t, 10*time.Second, "redis to come back", func() bool { return f.store.Ping(ctx) == nil })
	if seq, err := f.store.Seq(ctx, "aleppo"); err != nil || seq != 2 {
		t.Fatalf("after a crash: seq %d, %v; want 2", seq, err)
	}
	f.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0)) // redelivered
	f.handle(t, rep("r3", "aleppo", alerting.CategoryShelling, t0))
	alerts, _ := f.store.Alerts(ctx, alerting.AlertFilter{Zones: []string{"aleppo"}})
	if len(alerts) != 1 || alerts[0].ReportCount != 3 {
		t.Fatalf("after a crash and a redelivery: %d alerts, count %d; want 1 alert of 3", len(alerts), alerts[0].ReportCount)
	}
}

func TestCatalogWatcherPicksUpChanges(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	w, err := redisstore.WatchCatalog(ctx, f.store, 10*time.Millisecond, 0, alertingtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(ctx) })
	if _, ok := w.Catalog().Zone("idlib"); ok {
		t.Fatal("idlib exists before it was added")
	}
	if _, ps, err := f.store.ApplyConfig(ctx, alerting.Config{Zones: []alerting.Zone{{ID: "idlib", Name: "Idlib"}}, Parties: []alerting.Party{{ID: "isil", Name: "ISIL", Status: alerting.PartyExcluded}}}, false); err != nil || len(ps) > 0 {
		t.Fatal(err, ps)
	}
	alertingtest.Eventually(t, 5*time.Second, "the watcher to pick up the new zone and party", func() bool {
		_, zoneOK := w.Catalog().Zone("idlib")
		_, partyOK := w.Catalog().Party("isil")
		return zoneOK && partyOK
	})
}
