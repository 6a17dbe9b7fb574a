package alerting_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// monitorCatalog is a zone, a policy and an observation post that must be
// heard every 5 minutes, with 2 minutes' grace.
func monitorCatalog(t *testing.T, m alerting.Monitor) *alerting.Catalog {
	t.Helper()
	cat, err := alerting.NewCatalog(1, alerting.Config{
		Zones:    []alerting.Zone{{ID: "latakia", Name: "Latakia"}},
		Policies: []alerting.Policy{{ID: "silent", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}, {After: alerting.Duration(10 * time.Minute), Notify: []string{"board"}}}}},
		Monitors: []alerting.Monitor{m},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func post() alerting.Monitor {
	return alerting.Monitor{ID: "op-north", Name: "OP North", Kind: "observation_post", Zones: []string{"latakia"},
		Interval: alerting.Duration(5 * time.Minute), Grace: alerting.Duration(2 * time.Minute), Policy: "silent"}
}

// watcher drives one monitor through Watch as the escalator would: it
// keeps the source, the alert bound to its key and the timer.
type watcher struct {
	t     *testing.T
	cat   *alerting.Catalog
	m     *alerting.Monitor
	clock *alertingtest.Clock
	src   alerting.Source
	bound *alerting.Alert
	timer *time.Time
	ids   int
	seen  []alerting.Event
}

func newWatcher(t *testing.T, m alerting.Monitor, start time.Time) *watcher {
	cat := monitorCatalog(t, m)
	mon, _ := cat.Monitor(m.ID)
	w := &watcher{t: t, cat: cat, m: mon, clock: alertingtest.NewClock(start), src: alerting.Source{Monitor: m.ID, Since: start}}
	w.tick()
	return w
}

// heard records a heartbeat now and brings the timer forward, as the
// store does.
func (w *watcher) heard() {
	now := w.clock.Now()
	w.src.Heard = &now
	w.timer = &now
	w.tick()
}

// at moves the clock and fires the timer when it is due.
func (w *watcher) at(d time.Duration, start time.Time) { w.clock.Set(start.Add(d)); w.tick() }

func (w *watcher) tick() {
	now := w.clock.Now()
	if w.timer != nil && now.Before(*w.timer) {
		return
	}
	pol, _ := w.cat.Policy(w.m.Policy)
	change, next := w.m.Watch(w.src, w.bound, "Latakia", pol, w.cat, func() string { w.ids++; return fmt.Sprintf("a%d", w.ids) }, now)
	if change != nil {
		if change.PrevGroupAlert != idOf(w.bound) {
			w.t.Fatalf("the change expects %q bound, not %q", change.PrevGroupAlert, idOf(w.bound))
		}
		w.bound = change.Alert
		w.seen = append(w.seen, change.Event)
	}
	w.timer = next
}

func idOf(a *alerting.Alert) string {
	if a == nil {
		return ""
	}
	return a.ID
}

func (w *watcher) state() string {
	return w.m.Status(w.src, w.bound, w.clock.Now()).State
}

func (w *watcher) expect(state string, events ...alerting.Event) {
	w.t.Helper()
	if got := w.state(); got != state {
		w.t.Errorf("at %s: state %s, want %s", w.clock.Now().Format("15:04:05"), got, state)
	}
	if fmt.Sprint(w.seen) != fmt.Sprint(events) {
		w.t.Errorf("at %s: events %v, want %v", w.clock.Now().Format("15:04:05"), w.seen, events)
	}
}

var t0 = time.Date(2016, 5, 3, 12, 0, 0, 0, time.UTC)

func TestSourceHeardLateSilentAndHeardAgain(t *testing.T) {
	t.Parallel()
	w := newWatcher(t, post(), t0)
	w.expect(alerting.SourceWaiting)
	w.at(time.Minute, t0)
	w.heard()
	w.expect(alerting.SourceHeard)
	w.at(5*time.Minute+59*time.Second, t0)
	w.expect(alerting.SourceHeard)
	w.at(6*time.Minute, t0) // interval passed: late, not yet silent
	w.expect(alerting.SourceLate)
	w.at(7*time.Minute, t0)
	w.heard() // heard within its grace: no alert
	w.expect(alerting.SourceHeard)
	w.at(13*time.Minute+59*time.Second, t0)
	w.expect(alerting.SourceLate)
	w.at(14*time.Minute, t0) // 7 min since the last beat: silent
	w.expect(alerting.SourceSilent, alerting.EventOpened)
	a := w.bound
	if a.Category != alerting.CategorySourceSilent || a.Zone != "latakia" || a.Severity != alerting.SeverityModerate || a.Policy != "silent" ||
		a.Escalation == nil || a.Escalation.Level != 1 || !a.FirstSeen.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("silent alert: %+v", a)
	}
	// Escalation goes on as for any alert.
	if next, ok := a.Escalate(alerting.Policy{ID: "silent", Steps: []alerting.Step{{}, {After: alerting.Duration(10 * time.Minute), Notify: []string{"board"}}}}, w.cat, t0.Add(24*time.Minute)); !ok || next.Escalation.Level != 2 {
		t.Fatalf("the silent alert does not escalate: %+v", next.Escalation)
	}
	w.at(20*time.Minute, t0)
	w.expect(alerting.SourceSilent, alerting.EventOpened)
	w.heard()
	w.expect(alerting.SourceHeard, alerting.EventOpened, alerting.EventResolved)
	r := w.bound
	last := r.Timeline[len(r.Timeline)-1]
	if r.State != alerting.StateResolved || r.Escalation.NextAt != nil || !strings.Contains(last.Note, "after 13m0s of silence") ||
		!strings.Contains(last.Note, "silent since 2016-05-03T12:07:00Z") {
		t.Fatalf("resolved alert: %s %+v", r.State, last)
	}
	if w.timer == nil || !w.timer.Equal(t0.Add(27*time.Minute)) {
		t.Fatalf("next deadline %v", w.timer)
	}
}

func TestSourceNeverHeardFallsSilent(t *testing.T) {
	t.Parallel()
	w := newWatcher(t, post(), t0)
	if w.timer == nil || !w.timer.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("first deadline %v", w.timer)
	}
	w.at(6*time.Minute, t0)
	w.expect(alerting.SourceLate)
	w.at(7*time.Minute, t0)
	w.expect(alerting.SourceSilent, alerting.EventOpened)
	if !strings.Contains(w.bound.Timeline[0].Note, "never heard") {
		t.Errorf("note %q", w.bound.Timeline[0].Note)
	}
	// The timer stops: only a heartbeat moves it.
	if w.timer != nil {
		t.Errorf("timer %v while silent", w.timer)
	}
}

func TestFlappingSourceReopensWithoutPaging(t *testing.T) {
	t.Parallel()
	w := newWatcher(t, post(), t0)
	w.at(7*time.Minute, t0)
	w.heard() // resolves at once
	w.at(14*time.Minute, t0)
	w.expect(alerting.SourceSilent, alerting.EventOpened, alerting.EventResolved, alerting.EventReopened)
	a := w.bound
	if a.ID != "a1" || a.State != alerting.StateOpen || a.Escalation.NextAt != nil {
		t.Fatalf("a flapping source pages anew: %s %s %+v", a.ID, a.State, a.Escalation)
	}
	if !strings.Contains(a.Timeline[len(a.Timeline)-1].Note, "flapping") {
		t.Errorf("timeline %+v", a.Timeline[len(a.Timeline)-1])
	}
	w.heard()
	// Silent again after the flap window: a new alert, paging from its
	// first step.
	w.at(14*time.Minute+time.Hour+7*time.Minute, t0)
	w.expect(alerting.SourceSilent, alerting.EventOpened, alerting.EventResolved, alerting.EventReopened, alerting.EventResolved, alerting.EventOpened)
	if w.bound.ID != "a2" || w.bound.Escalation.Level != 1 || w.bound.Escalation.NextAt == nil {
		t.Fatalf("after the flap window: %s %+v", w.bound.ID, w.bound.Escalation)
	}
}

func TestScheduleTakesASourceOffWatch(t *testing.T) {
	t.Parallel()
	m := post()
	m.Schedule = &alerting.Recurrence{From: "06:00", To: "20:00"}
	start := time.Date(2016, 5, 3, 19, 50, 0, 0, time.UTC)
	w := newWatcher(t, m, start)
	w.at(5*time.Minute, start)
	w.heard() // 19:55: due by 20:02, after the post closes
	if want := time.Date(2016, 5, 4, 6, 7, 0, 0, time.UTC); w.timer == nil || !w.timer.Equal(want) {
		t.Fatalf("deadline %v, want %v", w.timer, want)
	}
	w.at(2*time.Hour+10*time.Minute, start) // 22:00
	w.expect(alerting.SourcePaused)
	w.at(10*time.Hour+16*time.Minute, start) // 06:06 next morning
	w.expect(alerting.SourceLate)
	w.at(10*time.Hour+17*time.Minute, start) // 06:07: silent since it opened
	w.expect(alerting.SourceSilent, alerting.EventOpened)
	w.at(10*time.Hour+18*time.Minute, start)
	w.heard()
	w.expect(alerting.SourceHeard, alerting.EventOpened, alerting.EventResolved)
}

func TestAPersonResolvingASilentAlertGivesTheSourceAFreshInterval(t *testing.T) {
	t.Parallel()
	w := newWatcher(t, post(), t0)
	w.at(7*time.Minute, t0)
	resolved, err := w.bound.Resolve(alerting.Actor{Name: "duty"}, "post evacuated", t0.Add(8*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	w.bound = resolved
	w.timer = nil
	w.tick()
	if w.timer == nil || !w.timer.Equal(t0.Add(15*time.Minute)) {
		t.Fatalf("deadline after a person resolved it: %v", w.timer)
	}
}

func TestMonitorsAreValidated(t *testing.T) {
	t.Parallel()
	cfg := alerting.Config{
		Zones: []alerting.Zone{{ID: "latakia", Name: "Latakia"}},
		Monitors: []alerting.Monitor{
			{ID: "Bad ID", Kind: "radio", Zones: []string{"lat*"}, Interval: alerting.Duration(time.Second), Grace: -1,
				Policy: "nope", Severity: "loud", Schedule: &alerting.Recurrence{From: "25:00", To: "06:00"}, Reports: &alerting.HeardBy{}},
			{ID: "ok", Zones: []string{"latakia"}, Interval: alerting.Duration(time.Minute)},
			{ID: "ok", Interval: alerting.Duration(time.Minute)},
		},
	}
	var got []string
	for _, p := range cfg.Validate() {
		got = append(got, p.Path)
	}
	want := []string{"$.monitors[0].id", "$.monitors[0].kind", "$.monitors[0].zones[0]", "$.monitors[0].interval", "$.monitors[0].grace",
		"$.monitors[0].policy", "$.monitors[0].severity", "$.monitors[0].schedule.from", "$.monitors[0].reports", "$.monitors[2].id", "$.monitors[2].zones"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems at\n%v\nwant\n%v", got, want)
	}
}

func TestReportsCountAsHeartbeatsWhenConfigured(t *testing.T) {
	t.Parallel()
	m := post()
	m.Reports = &alerting.HeardBy{ReportedBy: []string{"op-north"}, Accounts: []string{"reporter-7"}}
	cat := monitorCatalog(t, m)
	for _, c := range []struct {
		r    alerting.Report
		want bool
	}{
		{alerting.Report{Zone: "latakia", ReportedBy: "op-north"}, true},
		{alerting.Report{Zone: "latakia", ReportedBy: "x", SubmittedBy: &alerting.Submitter{Via: alerting.ViaNATS, User: "reporter-7"}}, true},
		{alerting.Report{Zone: "idlib", ReportedBy: "op-north"}, false},
		{alerting.Report{Zone: "latakia", ReportedBy: "someone"}, false},
	} {
		if got := len(cat.HeardBy(&c.r)) == 1; got != c.want {
			t.Errorf("%+v heard: %v, want %v", c.r, got, c.want)
		}
	}
}
