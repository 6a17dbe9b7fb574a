package app_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestALateReportPagesNobodyUnlessARuleTakesIt: a report observed seven
// hours before it arrives is late. Under a rule that does not take late
// reports it opens no alert; it is stored, and its classification says it
// is late and which rule held it. A rule with late: include opens an
// alert for it, marked late.
func TestALateReportPagesNobodyUnlessARuleTakesIt(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a) // rule "all": every report, joint acknowledgement
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.ApplyConfig(ctx, alerting.Config{Rules: []alerting.Rule{
		{ID: "late-airstrikes", Categories: []alerting.Category{alerting.CategoryAirstrike}, Late: alerting.LateInclude, Policy: "joint"},
	}}); err != nil {
		t.Fatal(err)
	}
	observed := time.Now().UTC().Add(-7 * time.Hour).Format(time.RFC3339)
	body := func(id, category string) []byte {
		return fmt.Appendf(nil, `{"id":%q,"zone":"idlib","category":%q,"observed_at":%q,"reported_by":"OP Idlib-1"}`, id, category, observed)
	}

	shelling := storedReport(t, a, postKey(t, a, body("late-shelling", "shelling")))
	if cl := shelling.Classification; !cl.Late || !slices.Equal(cl.LateHeld, []string{"all"}) || len(cl.Rules) != 0 {
		t.Errorf("the late report is classified %+v, want late, held by all", cl)
	}
	if as := alerts(t, a, "idlib"); len(as) != 0 {
		t.Fatalf("a late report opened %+v", as)
	}

	airstrike := storedReport(t, a, postKey(t, a, body("late-airstrike", "airstrike")))
	if cl := airstrike.Classification; !cl.Late || !slices.Equal(cl.Rules, []string{"late-airstrikes"}) || !slices.Equal(cl.LateHeld, []string{"all"}) {
		t.Errorf("the late airstrike is classified %+v, want late, acted on by late-airstrikes, held by all", cl)
	}
	var got []alerting.Alert
	alertingtest.Eventually(t, 10*time.Second, "the alert of the rule that takes late reports", func() bool {
		got = alerts(t, a, "idlib")
		return len(got) == 1
	})
	if al := got[0]; al.Rule != "late-airstrikes" || !al.Late || al.Policy != "joint" {
		t.Errorf("alert %+v, want late-airstrikes's, late, under the joint policy", al)
	}
}

// TestTheBoardShowsLateReports: the alert a late report opened (under a
// rule that takes late reports) is marked LATE in its row and its details,
// and the report is marked as late in the alert's reports.
func TestTheBoardShowsLateReports(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.ApplyConfig(ctx, alerting.Config{Rules: []alerting.Rule{{ID: "every", Name: "Every report, late ones too", Late: alerting.LateInclude}}}); err != nil {
		t.Fatal(err)
	}
	postReport(t, a, report{ID: "late-1", Zone: "aleppo", Category: "shelling", ReportedBy: "OP Sierra-3", Weapon: "MLRS"}, 7*time.Hour)
	id := onlyAlert(t, a, "aleppo")
	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the alert", hasRow(id))
	b.eventually(boardWait, "the LATE tag on the row", func() bool {
		return b.shown(fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] [data-testid=late]`, id))
	})
	b.openDetail(id)
	b.eventually(boardWait, "the late report marked in the details", func() bool {
		return b.shown(`[data-testid=detail-late]`) && b.text(`[data-testid=detail] [data-testid=report-late-flag]`) == "Late report"
	})
	evaluate[bool](t, tab, `(document.querySelector('[data-testid=report-row]').scrollIntoView(), true)`)
	saveArtifact(t, tab, "late-report.png")
}
