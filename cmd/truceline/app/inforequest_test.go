package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// infoAct makes an action as token's user, which must answer 200, and
// decodes the alert it answers.
func infoAct(t *testing.T, a *app.App, what, token, path, body string) alerting.Alert {
	t.Helper()
	status, answer := call(t, a, token, "POST", path, body)
	var al alerting.Alert
	if status != 200 {
		t.Fatalf("%s: %d %s, want 200", what, status, answer)
	}
	if err := json.Unmarshal([]byte(answer), &al); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return al
}

// auditActions lists the actions of the audit log's entries about alert id.
func auditActions(t *testing.T, a *app.App, id string) []string {
	t.Helper()
	status, body := call(t, a, signIn(t, a), "GET", "/api/v1/audit?after=0&limit=1000", "")
	var page struct {
		Entries []alerting.AuditEntry `json:"entries"`
	}
	if err := json.Unmarshal([]byte(body), &page); status != 200 || err != nil {
		t.Fatalf("audit: %d %v %s", status, err, body)
	}
	var out []string
	for _, e := range page.Entries {
		if e.Object == "alert "+id && strings.HasPrefix(e.Action, "alert.info_request.") {
			out = append(out, e.Actor+" "+e.Action)
		}
	}
	return out
}

// TestInfoRequestsAreThePartiesOwn: who may ask, answer and withdraw, by
// party and zone; bad bodies are named field by field; every change is
// audited.
func TestInfoRequestsAreThePartiesOwn(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	if err := a.ApplyConfig(context.Background(), alerting.Config{Parties: []alerting.Party{{ID: "party-c", Name: "Party C", Status: alerting.PartyAdherent}}}); err != nil {
		t.Fatal(err)
	}
	duty := userToken(t, a, dutyOfficer)
	chairA := userToken(t, a, coChairA)
	chairB := userToken(t, a, coChairB)
	liaisonB := userToken(t, a, alerting.User{Name: "ir-liaison-b", FullName: "Liaison B", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"aleppo"}})
	liaisonC := userToken(t, a, alerting.User{Name: "ir-liaison-c", Role: alerting.RoleLiaison, Party: "party-c", Zones: []string{"aleppo"}})
	farLiaison := userToken(t, a, alerting.User{Name: "ir-liaison-far", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"idlib"}})
	viewer := userToken(t, a, alerting.User{Name: "ir-viewer", Role: alerting.RoleViewer})
	post(t, a, "/api/v1/reports", reportJSON("ir-1", "aleppo", "shelling"))
	id := firstAlert(t, a, "aleppo").ID
	base := "/api/v1/alerts/" + id + "/info-requests"
	ask := `{"to":"party-b","question":"Which unit fired from the northern ridge?","within":"24h"}`

	for _, tc := range []struct {
		who, token, body string
		want             int
	}{
		{"a viewer", viewer, ask, 403},
		{"a liaison of another zone", farLiaison, ask, 404},
		{"a co-chair for another party", chairA, `{"to":"party-b","question":"?","within":"1h","party":"party-b"}`, 403},
	} {
		if status, body := call(t, a, tc.token, "POST", base, tc.body); status != tc.want {
			t.Errorf("asking as %s: %d %s, want %d", tc.who, status, body, tc.want)
		}
	}
	status, body := call(t, a, chairA, "POST", base, `{"to":"party-z","question":" ","deadline":"2001-01-01T00:00:00Z","within":"1h","colour":1}`)
	if status != 400 || !strings.Contains(body, `"(body)"`) {
		t.Errorf("an unknown field: %d %s", status, body)
	}
	status, body = call(t, a, chairA, "POST", base, `{"to":"party-a","question":" ","deadline":"2001-01-01T00:00:00Z"}`)
	for _, f := range []string{`"field":"party"`, `"field":"question"`, `"field":"deadline"`} {
		if status != 400 || !strings.Contains(body, f) {
			t.Errorf("a bad request for information: %d %s, want it to name %s", status, body, f)
		}
	}

	al := infoAct(t, a, "co-chair A asks party-b", chairA, base, ask)
	r := al.InfoRequests[0]
	if r.ID != "ir-1" || r.Party != "party-b" || r.AskedFor != "party-a" || r.AskedBy != coChairA.FullName || r.State != alerting.InfoRequestOpen ||
		r.Deadline.Sub(r.AskedAt) != 24*time.Hour {
		t.Fatalf("the request %+v", r)
	}
	for _, tc := range []struct {
		who, token, body string
		want             int
	}{
		{"the asking party", chairA, `{"text":"we answer for them"}`, 403},
		{"a third party", liaisonC, `{"text":"not ours"}`, 403},
		{"a viewer", viewer, `{"text":"x"}`, 403},
		{"party-b, badly", liaisonB, `{"text":"","attachments":["javascript:alert(1)","doc:ok"]}`, 400},
	} {
		if status, body := call(t, a, tc.token, "POST", base+"/ir-1/answer", tc.body); status != tc.want {
			t.Errorf("answering as %s: %d %s, want %d", tc.who, status, body, tc.want)
		}
	}
	if status, body := call(t, a, liaisonB, "POST", base+"/ir-1/answer", `{"text":"","attachments":["javascript:alert(1)"]}`); !strings.Contains(body, `"field":"text"`) ||
		!strings.Contains(body, `"field":"attachments[0]"`) {
		t.Errorf("a bad answer: %d %s, want text and attachments[0] named", status, body)
	}
	for _, tc := range []struct {
		who, token string
		want       int
	}{
		{"the party asked", liaisonB, 403},
		{"its co-chair", chairB, 403},
	} {
		if status, body := call(t, a, tc.token, "POST", base+"/ir-1/withdraw", `{"reason":"we would rather not"}`); status != tc.want {
			t.Errorf("withdrawing as %s: %d %s, want %d", tc.who, status, body, tc.want)
		}
	}
	al = infoAct(t, a, "party-b answers", liaisonB, base+"/ir-1/answer", `{"text":"A mortar crew, withdrawn since.","attachments":["https://party-b.example.org/s/113","doc:B-113"]}`)
	if ans := al.InfoRequests[0].Answer; al.InfoRequests[0].State != alerting.InfoRequestAnswered || ans.By != "Liaison B" || ans.Party != "party-b" || ans.OnBehalf || ans.Late || len(ans.Attachments) != 2 {
		t.Fatalf("answered: %+v %+v", al.InfoRequests[0], ans)
	}
	if status, body := call(t, a, chairA, "POST", base+"/ir-1/withdraw", `{"reason":"too late to hide it"}`); status != 409 {
		t.Errorf("withdrawing an answered request: %d %s, want 409", status, body)
	}

	// The centre asks; a party cannot withdraw it, a duty officer acting
	// for no party can; another records an answer on a party's behalf.
	infoAct(t, a, "the centre asks", duty, base, `{"to":"party-a","question":"Was your post at the crossing firing?","within":"2h"}`)
	if status, body := call(t, a, chairA, "POST", base+"/ir-2/withdraw", `{"reason":"not needed"}`); status != 403 {
		t.Errorf("party-a withdrawing the centre's request: %d %s, want 403", status, body)
	}
	al = infoAct(t, a, "recorded on party-a's behalf", duty, base+"/ir-2/answer", `{"text":"By the hotline: the post held fire."}`)
	if ans := al.InfoRequests[1].Answer; !ans.OnBehalf || ans.Party != "party-a" || ans.By != dutyOfficer.FullName {
		t.Errorf("an answer on behalf: %+v", ans)
	}
	infoAct(t, a, "the centre asks again", duty, base, `{"to":"party-b","question":"And the second crew?","within":"2h"}`)
	al = infoAct(t, a, "the centre withdraws", duty, base+"/ir-3/withdraw", `{"reason":"asked twice"}`)
	if w := al.InfoRequests[2].Withdrawal; al.InfoRequests[2].State != alerting.InfoRequestWithdrawn || w == nil || w.Reason != "asked twice" {
		t.Errorf("withdrawn: %+v", al.InfoRequests[2])
	}
	want := []string{"duty-a alert.info_request.ask", "ir-liaison-b alert.info_request.answer", "duty alert.info_request.ask",
		"duty alert.info_request.answer", "duty alert.info_request.ask", "duty alert.info_request.withdraw"}
	if got := auditActions(t, a, id); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audited %q, want %q", got, want)
	}
}

// TestOverdueInfoRequestEscalates: a request whose deadline passes
// unanswered goes overdue once, on the timeline and in the audit log, and
// the policy's on_info_request_overdue step is delivered to its webhook
// contact, once; a late answer is still taken.
func TestOverdueInfoRequestEscalates(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	in := newReceiver(t)
	err := a.ApplyConfig(context.Background(), alerting.Config{
		Contacts: []alerting.Contact{webhookContact("co-chairs", "", in.URL+"/co-chairs")},
		Policies: []alerting.Policy{{ID: "board", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}},
			OnInfoRequestOverdue: []alerting.Step{{After: 0, Notify: []string{"board", "co-chairs"}}}}},
		Rules: []alerting.Rule{{ID: "all", Policy: "board"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	chairA := userToken(t, a, coChairA)
	chairB := userToken(t, a, coChairB)
	post(t, a, "/api/v1/reports", reportJSON("ov-1", "aleppo", "shelling"))
	id := firstAlert(t, a, "aleppo").ID
	base := "/api/v1/alerts/" + id + "/info-requests"
	infoAct(t, a, "ask with a one-second deadline", chairA, base, `{"to":"party-b","question":"Who fired?","within":"1s"}`)

	var got []webhook.Received
	alertingtest.Eventually(t, 15*time.Second, "the overdue step's webhook", func() bool {
		got = in.rc.Received()
		return len(got) > 0
	})
	p := got[0].Payload
	if p.InfoRequest == nil || p.InfoRequest.ID != "ir-1" || p.InfoRequest.Party != "party-b" || p.InfoRequest.State != alerting.InfoRequestOverdue ||
		got[0].ID != id+":ir-1:overdue:0:co-chairs/hook" || p.Alert.ID != id {
		t.Fatalf("webhook %s: %+v", got[0].ID, p)
	}
	var al alerting.Alert
	alertingtest.Eventually(t, 10*time.Second, "the delivery recorded on the alert", func() bool {
		al = firstAlert(t, a, "aleppo")
		n := al.Notification(id + ":ir-1:overdue:0:co-chairs/hook")
		return n != nil && n.State == alerting.NotificationSent
	})
	r := al.InfoRequests[0]
	overdue := 0
	for _, e := range al.Timeline {
		if strings.Contains(e.Note, "ir-1 to party-b is OVERDUE") {
			overdue++
		}
	}
	if r.State != alerting.InfoRequestOverdue || r.OverdueAt == nil || r.OverdueAt.Before(r.Deadline) || overdue != 1 {
		t.Fatalf("overdue: %+v, %d timeline entries", r, overdue)
	}
	al = infoAct(t, a, "a late answer", chairB, base+"/ir-1/answer", `{"text":"A crew of the 4th unit."}`)
	if ans := al.InfoRequests[0].Answer; al.InfoRequests[0].State != alerting.InfoRequestAnswered || !ans.Late {
		t.Errorf("answered late: %+v", al.InfoRequests[0])
	}
	if n := in.counts()[id+":ir-1:overdue:0:co-chairs/hook"]; n != 1 {
		t.Errorf("the overdue step delivered %d times", n)
	}
	want := fmt.Sprint([]string{"duty-a alert.info_request.ask", "engine alert.info_request.overdue", "duty-b alert.info_request.answer"})
	alertingtest.Eventually(t, 10*time.Second, "the audit entries", func() bool { return fmt.Sprint(auditActions(t, a, id)) == want })
}
