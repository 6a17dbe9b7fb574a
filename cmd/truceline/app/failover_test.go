package app_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestKillOneOfTwoReplicas: with two replicas, one dies. The other takes
// over consumption (reports keep becoming alerts) and escalation timers (a
// step due after the death fires once), and a WebSocket client of the dead
// replica reconnects to the survivor and resumes without a gap.
func TestKillOneOfTwoReplicas(t *testing.T) {
	t.Parallel()
	d, a, b, in := twoReplicas(t, 3*time.Second)
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
			seenReports[sentID(f.ReportID)] = true
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
