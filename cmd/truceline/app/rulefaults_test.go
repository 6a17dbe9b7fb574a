package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestARuleThatFailsIsShownToAdmins: a rule whose condition blows its
// budget is skipped without holding the zone, and admins see it, on the
// API and on the board, until they dismiss it or write the rule again.
// Others' boards do not show it.
func TestARuleThatFailsIsShownToAdmins(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bomb := alerting.Rule{ID: "bomb", Name: "Too costly", Zones: []string{"aleppo"}, Condition: "let a = 1..15000; all(a, {all(a, {# > 0})})"}
	every := alerting.Rule{ID: "every", Name: "Every report"}
	if err := a.ApplyConfig(ctx, alerting.Config{Rules: []alerting.Rule{bomb, every}}); err != nil {
		t.Fatal(err)
	}
	faults := func() []alerting.RuleFault {
		t.Helper()
		status, body := call(t, a, signIn(t, a), "GET", "/api/v1/rule-failures", "")
		var page struct{ Failures []alerting.RuleFault }
		if err := json.Unmarshal([]byte(body), &page); status != http.StatusOK || err != nil {
			t.Fatalf("GET /api/v1/rule-failures: %d %s", status, body)
		}
		return page.Failures
	}
	first := postKey(t, a, reportJSON("costly-1", "aleppo", "shelling"))
	firstAlert(t, a, "aleppo") // the other rule still opens its alert: the zone is not held
	second := postKey(t, a, reportJSON("costly-2", "aleppo", "shelling"))
	var got []alerting.RuleFault
	alertingtest.Eventually(t, 10*time.Second, "both failures counted", func() bool {
		got = faults()
		return len(got) == 1 && got[0].Count == 2
	})
	if f := got[0]; f.Rule != "bomb" || f.Report != second || f.Zone != "aleppo" || !strings.Contains(f.Error, "more than 100000 steps") || f.Since.After(f.At) {
		t.Errorf("the failure: %+v (first report %s)", f, first)
	}
	viewer := userToken(t, a, alerting.User{Name: "rf-viewer", Role: alerting.RoleViewer})
	liaison := userToken(t, a, alerting.User{Name: "rf-liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}})
	if status, _ := call(t, a, viewer, "DELETE", "/api/v1/rule-failures/bomb", ""); status != http.StatusForbidden {
		t.Errorf("a viewer dismissed the failures: %d", status)
	}
	if status, _ := call(t, a, liaison, "GET", "/api/v1/rule-failures", ""); status != http.StatusForbidden {
		t.Errorf("a liaison read the rules' failures: %d", status)
	}

	// On the board: the admin's, not the duty officer's.
	admin := alerting.User{Name: "rf-admin", FullName: "Rule Admin", Role: alerting.RoleAdmin}
	tab := startBrowser(t)
	b := signInBoard(t, tab, a, admin, "")
	b.eventually(boardWait, "the failing rule on the admin's board", func() bool {
		text := b.text(`[data-testid=rule-fault][data-rule=bomb]`)
		return strings.Contains(text, "Rule bomb failed 2 times") && strings.Contains(text, "on report "+second+" in Aleppo")
	})
	other := signInBoard(t, newProfile(t, tab, "duty officer's browser"), a, dutyOfficer, "")
	other.waitRows(boardWait, "the duty officer's board", func(rows []boardRow) bool { return len(rows) == 1 })
	if !evaluate[bool](t, other.ctx, `document.querySelector('[data-testid=rule-faults]').hidden`) {
		t.Errorf("the duty officer's board shows the rules' failures")
	}

	// Dismissed from the board: gone there and from the API, and audited.
	b.click(`[data-testid=rule-fault][data-rule=bomb] [data-testid=rule-fault-dismiss]`)
	b.eventually(boardWait, "the bar to go", func() bool {
		return evaluate[bool](t, b.ctx, `document.querySelector('[data-testid=rule-faults]').hidden`)
	})
	if got := faults(); len(got) != 0 {
		t.Errorf("after dismissing, the API lists %+v", got)
	}
	status, body := call(t, a, signIn(t, a), "GET", "/api/v1/audit?after=0&limit=1000", "")
	if status != http.StatusOK || !strings.Contains(body, `"actor":"rf-admin","via":"session","action":"rule.failures.dismiss","object":"rules/bomb"`) {
		t.Errorf("the dismissal is not in the audit log: %d %s", status, body)
	}

	// It fails again; writing the rule starts it afresh.
	postKey(t, a, reportJSON("costly-3", "aleppo", "shelling"))
	alertingtest.Eventually(t, 10*time.Second, "the failure again", func() bool { return len(faults()) == 1 })
	bomb.Condition = "report.count >= 1"
	// A context of its own: the one above covered the first writing only,
	// and the browsers since take as long as the machine makes them.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := a.ApplyConfig(ctx2, alerting.Config{Rules: []alerting.Rule{bomb}}); err != nil {
		t.Fatal(err)
	}
	if got := faults(); len(got) != 0 {
		t.Errorf("after the rule was written, the API lists %+v", got)
	}
}
