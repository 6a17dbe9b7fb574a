package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// sentID is the id a report was sent with: truceline keeps it under
// <id>~<tag of its sender and zone>.
func sentID(key string) string {
	id, _, _ := strings.Cut(key, "~")
	return id
}

// storedReport waits for the report truceline keeps under key.
func storedReport(t *testing.T, a *app.App, key string) alerting.StoredReport {
	t.Helper()
	var r alerting.StoredReport
	alertingtest.Eventually(t, 15*time.Second, "report "+key+" stored", func() bool {
		resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/api/v1/reports/" + key) // as the test admin
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&r) == nil
	})
	return r
}

// TestAReportIDBelongsToItsSender: a report id names a report of one
// sender in one zone. One party's liaison sending the other's ids first,
// in its own zone or in the same, hides nothing: the other's reports are
// stored and processed, and neither learns that the other used the id. A
// sender that sends a report again is told it is a duplicate, and it is
// counted once; over HTTP and as CAP.
func TestAReportIDBelongsToItsSender(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	squatter := userToken(t, a, alerting.User{Name: "squat-a", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}})
	victim := userToken(t, a, alerting.User{Name: "liaison-b", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"homs-north", "aleppo"}})

	send := func(token string, body []byte) (key string, duplicate bool) {
		t.Helper()
		status, answer := postAs(t, a, token, "/api/v1/reports", body)
		if status != http.StatusAccepted {
			t.Fatalf("POST report: %d %v", status, answer)
		}
		key, _ = answer["id"].(string)
		duplicate, _ = answer["duplicate"].(bool)
		if sentID(key) != answer["submitted_id"] {
			t.Errorf("answer %v: id %q is not the id sent (%v) with a tag", answer, key, answer["submitted_id"])
		}
		return key, duplicate
	}

	// Party A's liaison sends first, in its zone and in the zone the
	// real report will name.
	squatKey, dup := send(squatter, reportJSON("unmo-homs-0999", "aleppo", "shelling"))
	if dup {
		t.Fatal("the first report with its id is a duplicate")
	}
	airstrike := []byte(strings.Replace(string(reportJSON("unmo-homs-0999", "homs-north", "airstrike")),
		`"reported_by":"test monitor"`, `"reported_by":"UN monitoring team","source_type":"own_monitor"`, 1))
	realKey, dup := send(victim, airstrike)
	if dup || realKey == squatKey {
		t.Fatalf("liaison-b's report is a duplicate (%v) or kept as party A's (%s)", dup, realKey)
	}
	sameZoneKey, dup := send(victim, reportJSON("unmo-homs-0999", "aleppo", "shelling"))
	if dup || sameZoneKey == squatKey {
		t.Fatalf("liaison-b's report in party A's zone is a duplicate (%v) or kept as party A's (%s)", dup, sameZoneKey)
	}

	// Both parties' reports are stored, each with who sent it.
	real := storedReport(t, a, realKey)
	if real.SubmittedID != "unmo-homs-0999" || real.SubmittedBy == nil || real.SubmittedBy.Via != alerting.ViaHTTP ||
		real.SubmittedBy.User != "liaison-b" || real.SubmittedBy.Token == "" || real.ReportedBy != "UN monitoring team" {
		t.Errorf("liaison-b's report as stored: %+v, submitted by %+v", real.Report, real.SubmittedBy)
	}
	if squat := storedReport(t, a, squatKey); squat.SubmittedBy == nil || squat.SubmittedBy.User != "squat-a" {
		t.Errorf("party A's report as stored: submitted by %+v", squat.SubmittedBy)
	}
	storedReport(t, a, sameZoneKey)
	al := firstAlert(t, a, "homs-north")
	if al.Category != alerting.CategoryAirstrike || !contains(reportIDs(t, a, al.ID), realKey) {
		t.Errorf("homs-north's alert %s (%s) does not hold report %s", al.ID, al.Category, realKey)
	}

	// Sent again by the same sender: a duplicate, counted once.
	if again, dup := send(victim, airstrike); !dup || again != realKey {
		t.Errorf("liaison-b's report sent again: %s, duplicate %v; want %s, a duplicate", again, dup, realKey)
	}
	if again, dup := send(squatter, reportJSON("unmo-homs-0999", "aleppo", "shelling")); !dup || again != squatKey {
		t.Errorf("party A's report sent again: %s, duplicate %v", again, dup)
	}

	// As CAP messages: the identifier is the sender's id.
	capA := capReport("pa-cap-0001", "North of Homs", "Airstrike", time.Now().Add(-time.Minute))
	partyA := userToken(t, a, alerting.User{Name: "cap-a", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"homs-north"}})
	status, first := postCAP(t, a, partyA, capA)
	if status != http.StatusAccepted || first["duplicate"] == true {
		t.Fatalf("party A's CAP report: %d %v", status, first)
	}
	status, second := postCAP(t, a, victim, capA)
	if status != http.StatusAccepted || second["duplicate"] == true || second["id"] == first["id"] {
		t.Fatalf("liaison-b's CAP report with party A's identifier: %d %v (party A's: %v)", status, second, first)
	}
	capKey, _ := second["id"].(string)
	if r := storedReport(t, a, capKey); r.SubmittedBy == nil || r.SubmittedBy.Via != alerting.ViaCAP || r.SubmittedBy.User != "liaison-b" {
		t.Errorf("liaison-b's CAP report: submitted by %+v", r.SubmittedBy)
	}
	if status, again := postCAP(t, a, victim, capA); status != http.StatusAccepted || again["duplicate"] != true || again["id"] != capKey {
		t.Errorf("liaison-b's CAP report sent again: %d %v", status, again)
	}

	// Only truceline says who sent a report.
	forged := strings.Replace(string(reportJSON("forged-1", "aleppo", "shelling")), `}`,
		`,"submitted_by":{"via":"http","user":"liaison-b"},"submitted_id":"x"}`, 1)
	status, body := call(t, a, squatter, "POST", "/api/v1/reports", forged)
	var answer map[string]any
	_ = json.Unmarshal([]byte(body), &answer)
	if fields := fieldsOf(answer); status != http.StatusBadRequest || !strings.Contains(fields["submitted_by"], "set by truceline") ||
		!strings.Contains(fields["submitted_id"], "set by truceline") {
		t.Errorf("a report naming its submitter: %d %s", status, body)
	}

	// Intake is in the audit log, per sender and zone: written once a
	// minute, and when truceline stops; the next one reads it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	next := start(t, d.config(t))
	status, body = call(t, next, signIn(t, next), "GET", "/api/v1/audit?after=0&limit=1000", "")
	var audit struct{ Entries []alerting.AuditEntry }
	if err := json.Unmarshal([]byte(body), &audit); status != http.StatusOK || err != nil {
		t.Fatalf("GET /api/v1/audit: %d %s", status, body)
	}
	got := map[string]int{}
	for _, e := range audit.Entries {
		var n int
		if _, err := fmt.Sscanf(e.Detail, "%d ", &n); e.Action == "reports.receive" && err == nil {
			got[e.Actor+" "+e.Zone] += n
		}
	}
	for who, n := range map[string]int{"liaison-b homs-north": 2, "liaison-b aleppo": 1, "squat-a aleppo": 1, "cap-a homs-north": 1} {
		if got[who] != n {
			t.Errorf("the audit log says %s sent %d reports, want %d (%v)", who, got[who], n, got)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestNoPartyClosesAJointAlertAlone: on an alert that needs both co-chairs'
// acknowledgement, party A's people (its liaison, its seconded duty
// officer) only agree to resolve it, for party A, even when party A is the
// one accused; it resolves when party B agrees too. Neither party may
// snooze its escalation, which would stop paging the other; a duty officer
// acting for no party may do both alone. A new report withdraws an
// agreement.
func TestNoPartyClosesAJointAlertAlone(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	liaisonA := userToken(t, a, alerting.User{Name: "liaison-a", FullName: "Liaison A", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo", "idlib"}})
	dutyA := userToken(t, a, alerting.User{Name: "duty-a", FullName: "Duty A", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	dutyB := userToken(t, a, alerting.User{Name: "duty-b", FullName: "Duty B", Role: alerting.RoleDutyOfficer, Party: "party-b"})
	chief := userToken(t, a, alerting.User{Name: "chief", FullName: "Chief", Role: alerting.RoleDutyOfficer})

	accused := []byte(strings.Replace(string(reportJSON("acc-1", "aleppo", "shelling")), `}`, `,"attributed_to":"party-a"}`, 1))
	post(t, a, "/api/v1/reports", accused)
	id := firstAlert(t, a, "aleppo").ID
	act := func(token, action, body string) (int, alerting.Alert) {
		t.Helper()
		status, text := call(t, a, token, "POST", "/api/v1/alerts/"+id+"/"+action, body)
		var al alerting.Alert
		_ = json.Unmarshal([]byte(text), &al)
		if status >= 300 {
			t.Logf("%s: %d %s", action, status, text)
		}
		return status, al
	}

	for name, token := range map[string]string{"liaison-a": liaisonA, "duty-a": dutyA, "duty-b": dutyB} {
		if status, _ := act(token, "snooze", `{"for":"167h"}`); status != http.StatusForbidden {
			t.Errorf("%s snoozed a joint alert: %d, want 403", name, status)
		}
	}
	status, al := act(liaisonA, "resolve", `{"note":"not us"}`)
	if status != http.StatusOK || al.State != alerting.StateOpen || len(al.ResolveAgreed) != 1 || al.ResolveAgreed[0].Party != "party-a" {
		t.Fatalf("liaison-a resolves: %d, state %s, agreed %+v; want the alert open with party-a's agreement", status, al.State, al.ResolveAgreed)
	}
	if al.Escalation == nil || al.Escalation.Stopped != "" {
		t.Errorf("party-a's agreement stopped the escalation: %+v", al.Escalation)
	}
	if status, _ := act(dutyA, "resolve", ""); status != http.StatusConflict {
		t.Errorf("party-a agreeing again: %d, want 409", status)
	}
	// A new report: the agreement was to close what was known then.
	post(t, a, "/api/v1/reports", reportJSON("acc-2", "aleppo", "shelling"))
	alertingtest.Eventually(t, 10*time.Second, "the agreement withdrawn by the new report", func() bool {
		al = firstAlert(t, a, "aleppo")
		return al.ReportCount == 2 && len(al.ResolveAgreed) == 0
	})
	if status, al = act(dutyB, "resolve", ""); status != http.StatusOK || al.State != alerting.StateOpen {
		t.Fatalf("party-b agrees first: %d %s", status, al.State)
	}
	if status, al = act(dutyA, "resolve", ""); status != http.StatusOK || al.State != alerting.StateResolved {
		t.Fatalf("party-a agrees too: %d %s, want resolved", status, al.State)
	}
	if last := al.Timeline[len(al.Timeline)-1]; last.Action != alerting.EventResolved || !strings.Contains(last.Note, "party-b, party-a") {
		t.Errorf("the resolution on the timeline: %+v", last)
	}

	// A duty officer for no party resolves and snoozes alone.
	post(t, a, "/api/v1/reports", reportJSON("acc-3", "idlib", "shelling"))
	id = firstAlert(t, a, "idlib").ID
	if status, al := act(chief, "snooze", `{"for":"1h"}`); status != http.StatusOK || al.SnoozedUntil == nil {
		t.Errorf("the chief snoozes: %d %+v", status, al.SnoozedUntil)
	}
	if status, al := act(chief, "resolve", ""); status != http.StatusOK || al.State != alerting.StateResolved {
		t.Errorf("the chief resolves: %d %s", status, al.State)
	}
}
