package alerting_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

func report(id string, observed time.Time, mods ...func(*alerting.Report)) *alerting.Report {
	r := &alerting.Report{ID: id, Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: observed, ReportedBy: "test"}
	for _, m := range mods {
		m(r)
	}
	return r
}

func TestGroupingWindowSlidesOnObservedTime(t *testing.T) {
	t.Parallel()
	g := alerting.Grouping{Rule: alerting.DefaultRule, Window: 10 * time.Minute}
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: g.Rule}, report("r1", testNow), testNow)
	tests := []struct {
		name     string
		observed time.Time
		want     bool
	}{
		{"same time", testNow, true},
		{"just inside after", testNow.Add(10 * time.Minute), true},
		{"just outside after", testNow.Add(10*time.Minute + time.Second), false},
		{"just inside before", testNow.Add(-10 * time.Minute), true},
		{"outside before", testNow.Add(-11 * time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Admits(a, report("r2", tt.observed)); got != tt.want {
				t.Errorf("Admits = %v, want %v", got, tt.want)
			}
		})
	}
	// The window slides: after a report 9 minutes later, 18 minutes is in.
	b, _ := a.AddReport(report("r2", testNow.Add(9*time.Minute)), "", testNow)
	if !g.Admits(b, report("r3", testNow.Add(18*time.Minute))) {
		t.Error("window did not slide with the last report")
	}
}

func TestAlertLifecycle(t *testing.T) {
	t.Parallel()
	g := alerting.Grouping{Rule: alerting.DefaultRule, Window: 10 * time.Minute}
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: g.Rule}, report("r1", testNow, func(r *alerting.Report) { r.Severity = alerting.SeverityMinor }), testNow)
	if a.State != alerting.StateOpen || a.Version != 1 || a.Title != "Shelling in Aleppo" || a.Severity != alerting.SeverityMinor {
		t.Fatalf("opened alert = %+v", a)
	}
	b, ev := a.AddReport(report("r2", testNow.Add(time.Minute), func(r *alerting.Report) {
		r.Casualties = &alerting.Casualties{Killed: 1, Injured: 2}
	}), "", testNow)
	if ev != alerting.EventUpdated || b.ReportCount != 2 || b.Severity != alerting.SeveritySevere || b.Casualties.Killed != 1 || b.Version != 2 {
		t.Fatalf("after a second report: event %s, alert %+v", ev, b)
	}
	if a.ReportCount != 1 || len(a.ReportIDs) != 1 {
		t.Fatal("AddReport changed the original alert")
	}
	c, err := b.Acknowledge(alerting.Actor{Name: "officer", Party: "party-a"}, "on it", testNow)
	if err != nil || c.State != alerting.StateAcknowledged || len(c.Acks) != 1 {
		t.Fatalf("acknowledge: %v, %+v", err, c)
	}
	if _, err := c.Acknowledge(alerting.Actor{Name: "officer", Party: "party-a"}, "", testNow); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("acknowledging twice: %v, want a conflict", err)
	}
	d, err := c.Resolve(alerting.Actor{Name: "officer"}, "done", testNow)
	if err != nil || d.State != alerting.StateResolved || d.Active() || d.ResolvedAt == nil {
		t.Fatalf("resolve: %v, %+v", err, d)
	}
	if _, err := d.Resolve(alerting.Actor{Name: "officer"}, "", testNow); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("resolving twice: %v, want a conflict", err)
	}
	if _, err := d.Acknowledge(alerting.Actor{Name: "x"}, "", testNow); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("acknowledging a resolved alert: %v, want a conflict", err)
	}
	e, ev := d.AddReport(report("r3", testNow.Add(2*time.Minute)), "", testNow)
	if ev != alerting.EventReopened || e.State != alerting.StateOpen || len(e.Acks) != 0 || e.ResolvedAt != nil {
		t.Fatalf("a report on a resolved alert: event %s, alert %+v", ev, e)
	}
	// The second report raised the severity, so it is on the timeline.
	wantActions := []alerting.Event{alerting.EventOpened, alerting.EventUpdated, alerting.EventAcknowledged, alerting.EventResolved, alerting.EventReopened}
	if len(e.Timeline) != len(wantActions) {
		t.Fatalf("timeline has %d entries, want %d", len(e.Timeline), len(wantActions))
	}
	for i, want := range wantActions {
		if e.Timeline[i].Action != want {
			t.Errorf("timeline[%d] = %s, want %s", i, e.Timeline[i].Action, want)
		}
	}
}

func TestReportsThatChangeNothingStayOffTheTimeline(t *testing.T) {
	t.Parallel()
	g := alerting.Grouping{Rule: alerting.DefaultRule, Window: time.Hour}
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: g.Rule}, report("r1", testNow), testNow)
	for i := range 50 {
		a, _ = a.AddReport(report(fmt.Sprint(i), testNow), "", testNow)
	}
	if len(a.Timeline) != 1 || a.ReportCount != 51 || a.Version != 51 {
		t.Errorf("timeline %d entries, count %d, version %d; want 1, 51, 51", len(a.Timeline), a.ReportCount, a.Version)
	}
}

func TestVerificationOfAJointAlertNeedsEveryRequiredParty(t *testing.T) {
	t.Parallel()
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: "r"}, report("r1", testNow), testNow)
	a.RequireAckFrom = []string{"party-a", "party-b"}
	steps := []struct {
		party  string
		status alerting.Verification
		want   alerting.Verification
	}{
		{"party-a", alerting.Confirmed, alerting.PartlyConfirmed}, // party-b has not judged yet
		{"party-b", alerting.Confirmed, alerting.Confirmed},
		{"party-b", alerting.Disputed, alerting.Disputed},
		{"party-b", alerting.NotApplicable, alerting.NotApplicable},
	}
	for _, s := range steps {
		var err error
		a, err = a.Verify(alerting.Actor{Name: s.party, Party: s.party}, s.status, "because", testNow)
		if err != nil || a.Verification != s.want {
			t.Fatalf("%s %s: verification %s (%v), want %s", s.party, s.status, a.Verification, err, s.want)
		}
	}
}

// TestUnansweredAlertsAreMostUrgent: an open alert whose escalation ran out
// (every step fired, the last after opening, and nobody acknowledged) comes
// before every other active alert, whatever its severity; once acknowledged
// it takes its place by severity again, and resolved alerts stay last. A
// policy that only shows alerts on the board is exhausted as they open
// without escalating: those alerts are not unanswered.
func TestUnansweredAlertsAreMostUrgent(t *testing.T) {
	t.Parallel()
	open := func(id string, sev alerting.Severity, ago time.Duration) *alerting.Alert {
		return alerting.OpenAlert(alerting.Opening{ID: id, ZoneName: "Aleppo", Rule: "r"},
			report("r-"+id, testNow.Add(-ago), func(r *alerting.Report) { r.Severity = sev }), testNow.Add(-ago))
	}
	board := []string{alerting.BoardTarget}
	// One step, at once: exhausted as the alert opens, never escalated.
	boardOnly := alerting.Policy{ID: "board-only", Steps: []alerting.Step{{After: 0, Notify: board}}}
	// Two steps, the second an hour after opening.
	hour := alerting.Policy{ID: "hour", Steps: []alerting.Step{{After: 0, Notify: board}, {After: alerting.Duration(time.Hour), Notify: board}}}
	// Once, and again 5 minutes later (the default repeat_after).
	twice := alerting.Policy{ID: "twice", Steps: []alerting.Step{{After: 0, Notify: board}}, Repeat: 1}

	ranOut := open("ran-out-minor", alerting.SeverityMinor, 2*time.Hour)
	ranOut.StartEscalation(hour, nil, testNow.Add(-2*time.Hour))
	if ranOut.Unanswered() {
		t.Fatalf("unanswered before its last step: %+v", ranOut.Escalation)
	}
	ranOut, ok := ranOut.Escalate(hour, nil, testNow.Add(-time.Hour))
	if !ok || !ranOut.Unanswered() || ranOut.Escalation.Stopped != alerting.StoppedExhausted {
		t.Fatalf("after its last step the alert is not unanswered: %+v", ranOut.Escalation)
	}
	repeated := open("repeated-minor", alerting.SeverityMinor, 3*time.Hour)
	repeated.StartEscalation(twice, nil, testNow.Add(-3*time.Hour))
	repeated, ok = repeated.Escalate(twice, nil, testNow.Add(-2*time.Hour))
	if !ok || !repeated.Unanswered() {
		t.Fatalf("after its second pass the alert is not unanswered: %+v", repeated.Escalation)
	}
	shown := open("board-only-extreme", alerting.SeverityExtreme, 3*time.Hour)
	shown.StartEscalation(boardOnly, nil, testNow.Add(-3*time.Hour))
	if shown.Escalation.Stopped != alerting.StoppedExhausted || shown.Unanswered() {
		t.Fatalf("a board-only alert: unanswered %v, escalation %+v; want exhausted, not unanswered", shown.Unanswered(), shown.Escalation)
	}
	running := open("running-extreme", alerting.SeverityExtreme, time.Minute)
	running.StartEscalation(hour, nil, testNow.Add(-time.Minute))
	fresh := open("fresh-minor", alerting.SeverityMinor, 0)
	acked, err := open("acked-moderate", alerting.SeverityModerate, 2*time.Hour).Acknowledge(alerting.Actor{Name: "duty"}, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	calmed, err := ranOut.Acknowledge(alerting.Actor{Name: "duty"}, "", testNow)
	if err != nil {
		t.Fatal(err)
	}
	calmed.ID = "ran-out-acked-minor"
	if calmed.Unanswered() || calmed.Escalation.Stopped != alerting.StoppedExhausted {
		t.Fatalf("acknowledged after its escalation ran out, the alert is still unanswered: %+v", calmed.Escalation)
	}
	resolved, err := open("resolved-extreme", alerting.SeverityExtreme, time.Minute).Resolve(alerting.Actor{Name: "duty"}, "", testNow)
	if err != nil {
		t.Fatal(err)
	}

	alerts := []*alerting.Alert{resolved, fresh, calmed, acked, running, shown, repeated, ranOut}
	alerting.SortByUrgency(alerts)
	var got []string
	for _, a := range alerts {
		got = append(got, a.ID)
	}
	want := []string{"ran-out-minor", "repeated-minor", "running-extreme", "board-only-extreme", "acked-moderate", "fresh-minor", "ran-out-acked-minor", "resolved-extreme"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("by urgency:\n got %v\nwant %v", got, want)
	}
}
