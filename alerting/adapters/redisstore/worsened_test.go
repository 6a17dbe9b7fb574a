package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// worseOnce opens an alert, has both parties acknowledge it, and sends a
// report that makes it worse: extreme, with two killed. It returns the
// alert before and after that report, and the event of the last change.
func worseOnce(t *testing.T, onWorsened string) (e *escalation, before, after *alerting.Alert, event alerting.Event) {
	t.Helper()
	config := escalationConfig
	if onWorsened != "" {
		config = strings.Replace(config, "    require_ack_from: [party-a, party-b]", "    require_ack_from: [party-a, party-b]\n    on_worsened: "+onWorsened, 1)
	}
	srv, store := storeWith(t, config)
	e = &escalation{fixture: &fixture{redis: srv, store: store, pub: &recorder{}}, clock: alertingtest.NewClock(t0), srv: srv}
	e.eng, e.esc = e.replica(t)
	ctx := context.Background()
	id := e.open(t)
	e.clock.Set(t0.Add(time.Minute))
	for _, party := range []string{"party-a", "party-b"} {
		if _, err := e.eng.Acknowledge(ctx, id, alerting.Actor{Name: "liaison of " + party, Party: party}, ""); err != nil {
			t.Fatal(err)
		}
	}
	before = e.alert(t, id)
	if before.State != alerting.StateAcknowledged {
		t.Fatalf("state %s after both acknowledgements", before.State)
	}
	// More of the same changes nothing material.
	e.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(2*time.Minute)))
	if a := e.alert(t, id); a.Worsened != nil || a.State != alerting.StateAcknowledged {
		t.Fatalf("a report that only adds to the count: worsened %+v, state %s", a.Worsened, a.State)
	}
	e.clock.Set(t0.Add(7 * time.Minute))
	worse := rep("r3", "aleppo", alerting.CategoryShelling, t0.Add(6*time.Minute))
	worse.Severity, worse.Casualties = alerting.SeverityExtreme, &alerting.Casualties{Killed: 2}
	e.handle(t, worse)
	changes := e.pub.all()
	return e, before, e.alert(t, id), changes[len(changes)-1].Event
}

// TestAnAcknowledgedAlertDoesNotWorsenInSilence: by default a material
// change after acknowledgement is marked on the alert and its timeline,
// and the change says updated; the acknowledgement stands.
func TestAnAcknowledgedAlertDoesNotWorsenInSilence(t *testing.T) {
	t.Parallel()
	_, _, a, event := worseOnce(t, "")
	if a.Worsened == nil || a.Worsened.What != "severity severe → extreme, killed 0 → 2" || !a.Worsened.At.Equal(t0.Add(7*time.Minute)) {
		t.Fatalf("worsened %+v", a.Worsened)
	}
	if last := a.Timeline[len(a.Timeline)-1]; !strings.HasPrefix(last.Note, "WORSE since it was acknowledged: severity severe → extreme, killed 0 → 2, by report r3") {
		t.Errorf("timeline ends %+v", last)
	}
	if a.State != alerting.StateAcknowledged || event != alerting.EventUpdated {
		t.Errorf("state %s, event %s; want the acknowledgement to stand (on_worsened: flag)", a.State, event)
	}
}

// TestOnWorsenedReopen: with on_worsened: reopen the acknowledgements are
// withdrawn and escalation starts over, so the first step pages again.
func TestOnWorsenedReopen(t *testing.T) {
	t.Parallel()
	e, before, a, event := worseOnce(t, alerting.OnWorsenedReopen)
	if a.State != alerting.StateOpen || len(a.Acks) != 0 || event != alerting.EventReopened {
		t.Fatalf("state %s, acks %+v, event %s; want reopened without acknowledgements", a.State, a.Acks, event)
	}
	if a.Escalation == nil || a.Escalation.Stopped != "" || a.Escalation.NextAt == nil {
		t.Fatalf("escalation %+v, want it running again", a.Escalation)
	}
	var withdrawn bool
	for _, entry := range a.Timeline {
		withdrawn = withdrawn || (entry.Action == alerting.EventReopened && strings.HasPrefix(entry.Note, "acknowledgements withdrawn: the alert got worse (severity severe → extreme, killed 0 → 2)"))
	}
	if !withdrawn {
		t.Errorf("no reopening on the timeline: %+v", a.Timeline)
	}
	steps := strings.Count(targets(before), "duty-officers")
	if fired := e.at(t, 12*time.Minute); fired != 1 || strings.Count(targets(e.alert(t, a.ID)), "duty-officers") != steps+1 {
		t.Errorf("5 minutes after the reopening: %d escalated, notifications %q", fired, targets(e.alert(t, a.ID)))
	}
}

// TestANewPerpetratorOrAMilestoneIsMaterial: after acknowledgement, a
// report naming a party no report named before, or the tenth report, makes
// the alert worse; the alert counts the reports alleging each party.
func TestANewPerpetratorOrAMilestoneIsMaterial(t *testing.T) {
	t.Parallel()
	srv, store := storeWith(t, escalationConfig)
	e := &escalation{fixture: &fixture{redis: srv, store: store, pub: &recorder{}}, clock: alertingtest.NewClock(t0), srv: srv}
	e.eng, e.esc = e.replica(t)
	ctx := context.Background()
	first := rep("r1", "aleppo", alerting.CategoryShelling, t0)
	first.AttributedTo = "party-a"
	e.handle(t, first)
	id := e.pub.all()[0].Alert.ID
	e.clock.Set(t0.Add(time.Minute))
	if _, err := e.eng.Acknowledge(ctx, id, alerting.Actor{Name: "liaison A", Party: "party-a"}, ""); err != nil {
		t.Fatal(err)
	}
	again := rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(time.Minute))
	again.AttributedTo = "party-a"
	e.handle(t, again)
	if a := e.alert(t, id); a.Worsened != nil {
		t.Fatalf("the same party named again: worsened %+v", a.Worsened)
	}
	other := rep("r3", "aleppo", alerting.CategoryShelling, t0.Add(2*time.Minute))
	other.AttributedTo = "party-b"
	e.handle(t, other)
	a := e.alert(t, id)
	if a.Worsened == nil || a.Worsened.What != "alleged perpetrator now also party-b" {
		t.Fatalf("worsened %+v, want the new alleged perpetrator", a.Worsened)
	}
	if fmt.Sprint(a.Alleged) != "[{party-a 2} {party-b 1}]" {
		t.Errorf("alleged %v", a.Alleged)
	}
	for i := 4; i <= 10; i++ {
		e.handle(t, rep(fmt.Sprintf("r%d", i), "aleppo", alerting.CategoryShelling, t0.Add(3*time.Minute)))
	}
	if a := e.alert(t, id); a.ReportCount != 10 || a.Worsened == nil || a.Worsened.What != "10 reports" {
		t.Fatalf("%d reports, worsened %+v; want the tenth report to count", a.ReportCount, a.Worsened)
	}
}

// TestAThresholdAlertCountsTheAllegedOfEveryReport: the reports a
// threshold held back count towards the alert's alleged perpetrators too.
func TestAThresholdAlertCountsTheAllegedOfEveryReport(t *testing.T) {
	t.Parallel()
	_, store := storeWith(t, `
zones:
  - {id: aleppo, name: Aleppo}
parties:
  - {id: party-a, name: A, status: adherent}
  - {id: party-b, name: B, status: adherent}
rules:
  - {id: pair, threshold: 2, window: 5m}
`)
	f := &fixture{store: store, pub: &recorder{}}
	f.eng = newEngine(t, store, f.pub)
	for i, party := range []string{"party-a", "party-b"} {
		r := rep(fmt.Sprintf("r%d", i), "aleppo", alerting.CategoryShelling, t0.Add(time.Duration(i)*time.Minute))
		r.AttributedTo = party
		f.handle(t, r)
	}
	changes := f.pub.all()
	if len(changes) != 1 || fmt.Sprint(changes[0].Alert.Alleged) != "[{party-a 1} {party-b 1}]" {
		t.Fatalf("changes %d, alleged %v", len(changes), changes[0].Alert.Alleged)
	}
}
