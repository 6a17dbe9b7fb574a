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
	"github.com/truceline/truceline/cmd/truceline/app"
)

// sourceState is the state /api/v1/sources gives a monitor's source.
func sourceState(t *testing.T, a *app.App, token, monitor string) alerting.SourceStatus {
	t.Helper()
	status, body := call(t, a, token, "GET", "/api/v1/sources", "")
	if status != http.StatusOK {
		t.Fatalf("GET /api/v1/sources: %d %s", status, body)
	}
	var list struct{ Sources []alerting.SourceStatus }
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	for _, s := range list.Sources {
		if s.Monitor == monitor {
			return s
		}
	}
	t.Fatalf("no source %s in %s", monitor, body)
	return alerting.SourceStatus{}
}

func silentAlerts(t *testing.T, a *app.App, zone string) []alerting.Alert {
	t.Helper()
	var out []alerting.Alert
	for _, al := range alerts(t, a, zone) {
		if al.Category == alerting.CategorySourceSilent {
			out = append(out, al)
		}
	}
	return out
}

// TestASilentSourceRaisesAnAlertAndHeardAgainResolvesIt: an observation
// post beats over HTTP with its reporter's token; a liaison of another
// zone cannot keep it alive; silent past its interval, it opens one
// source_silent alert, and its next report (a heartbeat, as configured)
// resolves it.
func TestASilentSourceRaisesAnAlertAndHeardAgainResolvesIt(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx := context.Background()
	if err := a.ApplyConfig(ctx, alerting.Config{
		Policies: []alerting.Policy{{ID: "silent", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}}}},
		Monitors: []alerting.Monitor{{ID: "op-north", Name: "OP North", Kind: "observation_post", Zones: []string{"latakia"},
			Interval: alerting.Duration(10 * time.Second), Policy: "silent", Severity: alerting.SeveritySevere,
			Reports: &alerting.HeardBy{ReportedBy: []string{"op-north"}, Accounts: []string{"op-north"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	post := userToken(t, a, alerting.User{Name: "op-north", Role: alerting.RoleReporter, Zones: []string{"latakia"}})
	other := userToken(t, a, alerting.User{Name: "op-south", Role: alerting.RoleReporter, Zones: []string{"latakia"}})
	viewer := userToken(t, a, alerting.User{Name: "viewer", Role: alerting.RoleViewer})
	if status, body := call(t, a, post, "POST", "/api/v1/monitors/op-north/heartbeat", ""); status != http.StatusOK || !strings.Contains(body, `"heard_at"`) {
		t.Fatalf("heartbeat: %d %s", status, body)
	}
	if status, body := call(t, a, other, "POST", "/api/v1/monitors/op-north/heartbeat", ""); status != http.StatusForbidden {
		t.Fatalf("another account's heartbeat: %d %s", status, body)
	}
	first := sourceState(t, a, viewer, "op-north")
	if first.State != alerting.SourceHeard || first.Heard == nil {
		t.Fatalf("after a heartbeat: %+v", first)
	}
	var silent []alerting.Alert
	alertingtest.Eventually(t, 30*time.Second, "the silent alert", func() bool {
		silent = silentAlerts(t, a, "latakia")
		return len(silent) > 0
	})
	al := silent[0]
	if len(silent) != 1 || al.State != alerting.StateOpen || al.Severity != alerting.SeveritySevere || al.Title != "OP North silent (Latakia)" {
		t.Fatalf("silent alerts: %+v", silent)
	}
	if s := sourceState(t, a, viewer, "op-north"); s.State != alerting.SourceSilent || s.Alert != al.ID {
		t.Fatalf("while silent: %+v", s)
	}
	// Its report is a heartbeat.
	status, resp := postAs(t, a, post, "/api/v1/reports", []byte(strings.Replace(string(reportJSON("op-1", "latakia", "shelling")), "test monitor", "op-north", 1)))
	if status != http.StatusAccepted {
		t.Fatalf("report: %d %v", status, resp)
	}
	alertingtest.Eventually(t, 10*time.Second, "the silent alert resolved", func() bool {
		got := silentAlerts(t, a, "latakia")
		return len(got) == 1 && got[0].State == alerting.StateResolved
	})
	r := silentAlerts(t, a, "latakia")[0]
	if note := r.Timeline[len(r.Timeline)-1].Note; !strings.Contains(note, "OP North heard again") || !strings.Contains(note, "of silence") {
		t.Fatalf("timeline: %q", note)
	}
	// Heard again at the report. A machine slow enough to take another
	// interval (10 s) to get here sees it silent again, rightly: then its
	// deadline has passed.
	if s := sourceState(t, a, viewer, "op-north"); s.Heard == nil || !s.Heard.After(*first.Heard) ||
		(s.State != alerting.SourceHeard && time.Now().Before(s.Deadline)) {
		t.Fatalf("heard again: %+v", s)
	}
}
