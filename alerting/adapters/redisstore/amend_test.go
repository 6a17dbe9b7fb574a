package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// amendment is a report that updates (or withdraws) an earlier one, as a
// CAP Update (or Cancel) naming it is admitted.
func amendment(id, amends string, killed int, withdraw bool) *alerting.Report {
	r := rep(id, "aleppo", alerting.CategoryShelling, t0.Add(time.Minute))
	r.Amends, r.Withdraws = amends, withdraw
	if killed > 0 {
		r.Casualties = &alerting.Casualties{Killed: killed}
	}
	return r
}

// TestAnUpdateReplacesTheReportItNames follows one incident told, retold
// twice and taken back: the alert counts it once throughout, its
// casualties are the last telling's, and each step is on the timeline.
func TestAnUpdateReplacesTheReportItNames(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	first := rep("a1", "aleppo", alerting.CategoryShelling, t0)
	first.Casualties = &alerting.Casualties{Killed: 1}
	f.handle(t, first)
	other := rep("b1", "aleppo", alerting.CategoryShelling, t0)
	other.Casualties = &alerting.Casualties{Injured: 3}
	f.handle(t, other)
	alert := func() *alerting.Alert {
		t.Helper()
		a, err := f.store.GroupAlert(ctx, alerting.DefaultRule+":aleppo:shelling")
		if err != nil || a == nil {
			t.Fatalf("the group's alert: %v, %v", a, err)
		}
		return a
	}
	check := func(when string, count, killed, injured int) *alerting.Alert {
		t.Helper()
		a := alert()
		if a.ReportCount != count || a.Casualties.Killed != killed || a.Casualties.Injured != injured {
			t.Fatalf("%s: %d reports, %d killed, %d injured; want %d, %d, %d", when,
				a.ReportCount, a.Casualties.Killed, a.Casualties.Injured, count, killed, injured)
		}
		return a
	}
	check("before any update", 2, 1, 3)

	up := amendment("u1", "a1", 2, false)
	up.Severity = alerting.SeverityExtreme
	f.handle(t, up)
	a := check("after the update", 2, 2, 3)
	if a.Severity != alerting.SeverityExtreme {
		t.Errorf("severity %s after an update saying extreme", a.Severity)
	}
	if last := a.Timeline[len(a.Timeline)-1]; !strings.Contains(last.Note, "report a1 updated by its sender: report u1") || !strings.Contains(last.Note, "severity raised to extreme") {
		t.Errorf("timeline ends %+v", last)
	}

	// A second update naming only the first report replaces the update
	// that stands for it now, not the first report a second time.
	f.handle(t, amendment("u2", "a1", 4, false))
	a = check("after the second update", 2, 4, 3)
	if got, withdrawn := a.Standing("a1"); got != "u2" || withdrawn {
		t.Errorf("a1 stands as %s (withdrawn %v), want u2", got, withdrawn)
	}

	// Redelivered, the update changes nothing.
	f.handle(t, amendment("u2", "a1", 4, false))
	check("after the update came again", 2, 4, 3)

	f.handle(t, amendment("c1", "u2", 0, true))
	a = check("after the withdrawal", 1, 0, 3)
	if last := a.Timeline[len(a.Timeline)-1]; last.Note != "report u2 withdrawn by its sender (c1)" {
		t.Errorf("timeline ends %+v", last)
	}
	if len(a.Amendments) != 3 || !a.Amendments[2].Withdrawn {
		t.Errorf("amendments %+v", a.Amendments)
	}
	// Nothing more can be done to a withdrawn report.
	f.handle(t, amendment("u3", "a1", 9, false))
	if a := alert(); a.Casualties.Killed != 9 || a.ReportCount != 2 {
		// An update of a withdrawn report stands on its own: a new report.
		t.Errorf("an update after the withdrawal: %d reports, %d killed; want it counted as a report", a.ReportCount, a.Casualties.Killed)
	}
	sr, err := f.store.Report(ctx, "c1")
	if err != nil || len(sr.Classification.Amended) != 1 || len(sr.Classification.Rules) != 0 {
		t.Errorf("the withdrawal's classification %+v, %v", sr.Classification, err)
	}
}

// TestAWithdrawalOfAnUnknownReportChangesNothing: a Cancel naming a report
// the sender never sent (or another sender's, whose key differs) is kept
// and counted nowhere; an update of one is a report of its own.
func TestAWithdrawalOfAnUnknownReportChangesNothing(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	f.handle(t, rep("a1", "aleppo", alerting.CategoryShelling, t0))
	f.handle(t, amendment("c1", "nobody-sent-this", 0, true))
	a, err := f.store.GroupAlert(ctx, alerting.DefaultRule+":aleppo:shelling")
	if err != nil || a.ReportCount != 1 || len(a.Amendments) != 0 {
		t.Fatalf("after the withdrawal of an unknown report: %+v, %v", a, err)
	}
	f.handle(t, amendment("u1", "nobody-sent-this", 1, false))
	if a, _ = f.store.GroupAlert(ctx, alerting.DefaultRule+":aleppo:shelling"); a.ReportCount != 2 {
		t.Errorf("an update of an unknown report: %d reports, want it counted", a.ReportCount)
	}
}

// TestAnAmendmentInABatchWaitsForTheReportItAmends: the consumer hands the
// engine reports in batches; an update in the same batch as the report it
// names must still find it.
func TestAnAmendmentInABatchWaitsForTheReportItAmends(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	rs := []*alerting.Report{rep("a1", "aleppo", alerting.CategoryShelling, t0), amendment("u1", "a1", 2, false),
		rep("a2", "aleppo", alerting.CategoryShelling, t0)}
	for i, err := range f.eng.HandleReports(ctx, rs, []time.Time{t0, t0, t0}) {
		if err != nil {
			t.Fatalf("report %d: %v", i, err)
		}
	}
	a, err := f.store.GroupAlert(ctx, alerting.DefaultRule+":aleppo:shelling")
	if err != nil || a.ReportCount != 2 || a.Casualties.Killed != 2 || len(a.Amendments) != 1 {
		t.Fatalf("after the batch: %+v, %v", a, err)
	}
}
