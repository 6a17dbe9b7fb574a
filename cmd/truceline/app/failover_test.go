package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestKillOneOfTwoReplicas: with two replicas, one dies. The other takes
// over consumption (reports keep becoming alerts) and escalation timers (a
// step due after the death fires once), and a WebSocket client of the dead
// replica reconnects to the survivor and resumes without a gap.
func TestKillOneOfTwoReplicas(t *testing.T) {
	d := startDeps(t)
	a := start(t, d.config(t))
	b := start(t, d.config(t))
	in := newReceiver(t)
	cfg := alerting.Config{
		Contacts: []alerting.Contact{webhookContact("duty-officers", "", in.URL+"/duty")},
		Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{
			{After: 0, Notify: []string{"board"}},
			{After: alerting.Duration(3 * time.Second), Notify: []string{"duty-officers"}},
		}}},
		Rules: []alerting.Rule{{ID: "all", Policy: "p"}},
	}
	if err := a.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 10*time.Second, "replica b to load the rule", func() bool {
		_, ra := get(t, a, "/readyz")
		_, rb := get(t, b, "/readyz")
		return ra["config_version"] == rb["config_version"]
	})
	ws := dial(t, a)
	ws.subscribe(t, []string{"homs-north"}, nil)
	if f := ws.next(t); f.Type != "snapshot" {
		t.Fatalf("first frame %+v", f)
	}
	post(t, a, "/api/v1/reports", reportJSON("f-1", "homs-north", "shelling"))
	last := ws.until(t, "f-1", func(f frame) bool { return hasReport(f, "f-1") }).Seq

	a.Kill() // escalation step 2 of f-1's alert is still ahead

	nc := d.nats.Connect(t)
	for i := range 5 { // over NATS, so no replica's HTTP is needed
		if err := nc.Publish("violations.homs-north.small_arms", reportJSON(fmt.Sprintf("f-%d", i+2), "homs-north", "small_arms")); err != nil {
			t.Fatal(err)
		}
	}
	ws = dial(t, b)
	ws.subscribe(t, []string{"homs-north"}, map[string]int64{"homs-north": last})
	f := ws.next(t)
	if f.Type != "resumed" || f.From != last {
		t.Fatalf("resume on the survivor: %+v", f)
	}
	next := last + 1
	seenReports := map[string]bool{}
	for len(seenReports) < 5 {
		f := ws.next(t)
		if f.Type != "alert" {
			continue
		}
		if f.Seq != next {
			t.Fatalf("gap: got seq %d, want %d", f.Seq, next)
		}
		next++
		if f.ReportID != "" {
			seenReports[f.ReportID] = true
		}
	}
	// The steps due 3 s after the alerts opened (the first one's before
	// the death) fire on the survivor, once each.
	alertingtest.Eventually(t, 20*time.Second, "the escalation webhooks from the survivor", func() bool {
		return len(in.rc.Received()) == 2
	})
	for k, n := range in.counts() {
		if n != 1 {
			t.Errorf("key %s delivered %d times", k, n)
		}
	}
}
