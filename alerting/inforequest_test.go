package alerting_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

func infoCatalog(t *testing.T) *alerting.Catalog {
	t.Helper()
	hook := alerting.Method{ID: "hook", Type: alerting.MethodWebhook, URL: "https://co-chairs.example.org/hook", Secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}
	cfg := alerting.Config{
		Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
		Parties: []alerting.Party{
			{ID: "party-a", Name: "Co-chair A", Status: alerting.PartyAdherent},
			{ID: "party-b", Name: "Co-chair B", Status: alerting.PartyAdherent},
			{ID: "isil", Name: "ISIL", Status: alerting.PartyExcluded},
		},
		Contacts: []alerting.Contact{{ID: "co-chairs", Name: "Co-chairs", Party: "party-a", Methods: []alerting.Method{hook}}},
		Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}},
			OnInfoRequestOverdue: []alerting.Step{
				{After: 0, Notify: []string{"board"}},
				{After: alerting.Duration(6 * time.Hour), Notify: []string{"co-chairs"}},
			}}},
	}
	c, err := alerting.NewCatalog(1, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	coChairA = alerting.Actor{Name: "Liaison A", Party: "party-a"}
	coChairB = alerting.Actor{Name: "Liaison B", Party: "party-b"}
	officer  = alerting.Actor{Name: "Duty officer"}
)

func openAlert(c *alerting.Catalog, now time.Time) *alerting.Alert {
	a := &alerting.Alert{ID: "al-1", Zone: "aleppo", Policy: "p", Severity: alerting.SeveritySevere, State: alerting.StateOpen,
		Acks: []alerting.Ack{}, Version: 1, Alleged: []alerting.Allegation{{Party: "party-b", Reports: 1}}}
	p, _ := c.Policy("p")
	a.StartEscalation(p, c, now)
	return a
}

// fire is what the escalator does at the clock's time.
func fire(t *testing.T, c *alerting.Catalog, a *alerting.Alert, now time.Time) (*alerting.Alert, bool) {
	t.Helper()
	p, ok := c.Policy(a.Policy)
	next, _, due := a.Fire(p, ok, c, now)
	if due && next.Version != a.Version+1 {
		t.Fatalf("a firing moved the version from %d to %d", a.Version, next.Version)
	}
	return next, due
}

// TestInfoRequestGoesOverdueOnceThenIsAnsweredLate follows a request on a
// fake clock: open until its deadline, overdue once (and escalated by the
// policy's on_info_request_overdue steps, each when due), then answered
// late, which is final.
func TestInfoRequestGoesOverdueOnceThenIsAnsweredLate(t *testing.T) {
	t.Parallel()
	c := infoCatalog(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := alertingtest.NewClock(t0)
	a := openAlert(c, t0)
	a, err := a.AskInfo(coChairA, alerting.InfoQuestion{Party: "party-b", Question: "Which unit fired from grid 37S?", Within: alerting.Duration(24 * time.Hour)}, c, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := a.InfoRequests[0]
	if r.ID != "ir-1" || r.State != alerting.InfoRequestOpen || !r.Deadline.Equal(t0.Add(24*time.Hour)) || r.AskedFor != "party-a" || r.AskedBy != "Liaison A" {
		t.Fatalf("asked: %+v", r)
	}
	if at := a.TimerAt(); at == nil || !at.Equal(r.Deadline) {
		t.Fatalf("timer at %v, want the deadline %v", at, r.Deadline)
	}
	if !a.AwaitingInfoFrom("party-b") || a.AwaitingInfoFrom("party-a") {
		t.Error("party-b owes the answer, party-a does not")
	}

	clock.Set(t0.Add(24*time.Hour - time.Second))
	if _, due := fire(t, c, a, clock.Now()); due {
		t.Fatal("overdue a second early")
	}
	clock.Set(t0.Add(24*time.Hour + time.Second))
	a, due := fire(t, c, a, clock.Now())
	if !due || a.InfoRequests[0].State != alerting.InfoRequestOverdue || a.InfoRequests[0].OverdueAt == nil {
		t.Fatalf("at the deadline: due %v, %+v", due, a.InfoRequests[0])
	}
	overdueEntries := func() int {
		n := 0
		for _, e := range a.Timeline {
			if strings.Contains(e.Note, "is OVERDUE") {
				n++
			}
		}
		return n
	}
	if overdueEntries() != 1 || !slices.ContainsFunc(a.Notifications, func(n alerting.Notification) bool {
		return n.InfoRequest == "ir-1" && n.Target == "board" && n.Key == "al-1:ir-1:overdue:0:board"
	}) {
		t.Fatalf("overdue: %d timeline entries, notifications %+v", overdueEntries(), a.Notifications)
	}
	if a.Unanswered() {
		t.Error("an overdue request made the alert's own escalation unanswered")
	}
	if _, due := fire(t, c, a, clock.Now()); due {
		t.Fatal("fired again at the same time")
	}
	clock.Set(t0.Add(30 * time.Hour))
	a, due = fire(t, c, a, clock.Now())
	if !due || overdueEntries() != 1 || a.Notifications[len(a.Notifications)-1].Contact != "co-chairs" || a.InfoRequests[0].NextAt != nil {
		t.Fatalf("6h after the deadline: due %v, %d overdue entries, notifications %+v, request %+v", due, overdueEntries(), a.Notifications, a.InfoRequests[0])
	}
	if at := a.TimerAt(); at != nil {
		t.Errorf("timer at %v after the last overdue step", at)
	}

	clock.Set(t0.Add(31 * time.Hour))
	if _, err := a.AnswerInfo(coChairA, "ir-1", "not us", nil, clock.Now()); alerting.ErrorCode(err) != alerting.EFORBIDDEN {
		t.Errorf("the asking party answering for the other: %v, want forbidden", err)
	}
	a, err = a.AnswerInfo(coChairB, "ir-1", "A mortar crew of the 4th unit, now withdrawn.", []string{"https://party-b.example.org/statement/7", "doc:B-2026-113"}, clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	ans := a.InfoRequests[0].Answer
	if a.InfoRequests[0].State != alerting.InfoRequestAnswered || ans == nil || !ans.Late || ans.Party != "party-b" || ans.OnBehalf || !ans.At.Equal(clock.Now()) {
		t.Fatalf("answered late: %+v %+v", a.InfoRequests[0], ans)
	}
	if last := a.Timeline[len(a.Timeline)-1].Note; !strings.Contains(last, "LATE, 7h0m0s after the deadline") {
		t.Errorf("timeline %q", last)
	}
	if _, err := a.AnswerInfo(coChairB, "ir-1", "again", nil, clock.Now()); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("answering twice: %v, want a conflict", err)
	}
	if _, err := a.WithdrawInfo(coChairA, "ir-1", "no longer needed", clock.Now()); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("withdrawing an answered request: %v, want a conflict", err)
	}
	if a.AwaitingInfoFrom("party-b") {
		t.Error("party-b answered, yet awaited")
	}
}

// TestInfoRequestAnsweredInTimeNeverGoesOverdue: an answer before the
// deadline stops the clock; a duty officer acting for no party records a
// party's answer on its behalf.
func TestInfoRequestAnsweredInTimeNeverGoesOverdue(t *testing.T) {
	t.Parallel()
	c := infoCatalog(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := openAlert(c, t0)
	deadline := t0.Add(2 * time.Hour)
	a, err := a.AskInfo(officer, alerting.InfoQuestion{Party: "party-b", Question: "Where was the crew?", Deadline: &deadline}, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err = a.AnswerInfo(officer, "ir-1", "by the hotline: at the checkpoint", nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if ans := a.InfoRequests[0].Answer; !ans.OnBehalf || ans.Party != "party-b" || ans.By != "Duty officer" || ans.Late {
		t.Fatalf("answer on behalf: %+v", ans)
	}
	if _, due := fire(t, c, a, t0.Add(3*time.Hour)); due {
		t.Error("an answered request went overdue")
	}
	if at := a.TimerAt(); at != nil {
		t.Errorf("timer %v after the answer", at)
	}
}

// TestWithdrawingBelongsToTheAsker: the asking party, or a duty officer
// acting for no party, withdraws; the party asked cannot drop what it owes,
// nor a party what the centre asked.
func TestWithdrawingBelongsToTheAsker(t *testing.T) {
	t.Parallel()
	c := infoCatalog(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := openAlert(c, t0)
	q := alerting.InfoQuestion{Party: "party-b", Question: "Who fired?", Within: alerting.Duration(time.Hour)}
	a, err := a.AskInfo(coChairA, q, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	a, err = a.AskInfo(officer, q, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.WithdrawInfo(coChairB, "ir-1", "we will not say", t0); alerting.ErrorCode(err) != alerting.EFORBIDDEN {
		t.Errorf("the party asked withdrawing: %v, want forbidden", err)
	}
	if _, err := a.WithdrawInfo(coChairA, "ir-2", "mine now", t0); alerting.ErrorCode(err) != alerting.EFORBIDDEN {
		t.Errorf("a party withdrawing the centre's request: %v, want forbidden", err)
	}
	if _, err := a.WithdrawInfo(coChairA, "ir-9", "x", t0); alerting.ErrorCode(err) != alerting.ENOTFOUND {
		t.Errorf("an unknown request: %v, want not found", err)
	}
	if _, err := a.WithdrawInfo(coChairA, "ir-1", " ", t0); alerting.ErrorCode(err) != alerting.EINVALID {
		t.Errorf("no reason: %v, want invalid", err)
	}
	// Overdue first: an overdue request can still be withdrawn.
	a, _ = fire(t, c, a, t0.Add(2*time.Hour))
	if a.InfoRequests[0].State != alerting.InfoRequestOverdue {
		t.Fatalf("not overdue: %+v", a.InfoRequests[0])
	}
	a, err = a.WithdrawInfo(coChairA, "ir-1", "established separately", t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a, err = a.WithdrawInfo(officer, "ir-2", "duplicate of ir-1", t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range a.InfoRequests {
		if r.State != alerting.InfoRequestWithdrawn || r.Withdrawal == nil || r.NextAt != nil {
			t.Errorf("withdrawn: %+v", r)
		}
	}
	if a.InfoRequests[0].Withdrawal.Party != "party-a" || a.InfoRequests[1].Withdrawal.Party != "" {
		t.Errorf("withdrawn by %+v and %+v", a.InfoRequests[0].Withdrawal, a.InfoRequests[1].Withdrawal)
	}
	if _, err := a.AnswerInfo(coChairB, "ir-1", "late answer", nil, t0.Add(3*time.Hour)); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("answering a withdrawn request: %v, want a conflict", err)
	}
}

// TestInfoRequestValidationNamesEveryProblem: one answer names every field
// that is wrong.
func TestInfoRequestValidationNamesEveryProblem(t *testing.T) {
	t.Parallel()
	c := infoCatalog(t)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a := openAlert(c, t0)
	fields := func(err error) []string {
		t.Helper()
		var e *alerting.Error
		if alerting.ErrorCode(err) != alerting.EINVALID || !errors.As(err, &e) {
			t.Fatalf("%v, want invalid", err)
		}
		var out []string
		for _, f := range e.Fields {
			out = append(out, f.Field)
		}
		return out
	}
	past := t0.Add(-time.Minute)
	cases := []struct {
		q    alerting.InfoQuestion
		want []string
	}{
		{alerting.InfoQuestion{}, []string{"party", "question", "deadline"}},
		{alerting.InfoQuestion{Party: "nobody", Question: "x\x00y", Deadline: &past}, []string{"party", "question", "deadline"}},
		{alerting.InfoQuestion{Party: "isil", Question: strings.Repeat("q", alerting.MaxQuestionBytes+1), Within: -1}, []string{"party", "question", "within"}},
		{alerting.InfoQuestion{Party: "party-a", Question: "?", Within: alerting.Duration(31 * 24 * time.Hour)}, []string{"party", "within"}},
		{alerting.InfoQuestion{Party: "party-b", Question: "?", Within: 1, Deadline: &past}, []string{"deadline"}},
	}
	for i, tc := range cases {
		_, err := a.AskInfo(coChairA, tc.q, c, t0)
		if got := fields(err); !slices.Equal(got, tc.want) {
			t.Errorf("case %d: problems with %v, want %v (%v)", i, got, tc.want, err)
		}
	}
	a, err := a.AskInfo(coChairA, alerting.InfoQuestion{Party: "party-b", Question: "?", Within: alerting.Duration(time.Hour)}, c, t0)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]string, alerting.MaxAttachments+1)
	for i := range many {
		many[i] = "doc:d" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		text        string
		attachments []string
		want        []string
	}{
		{"", []string{"ftp://x.example.org/a", "https://", "doc:", "doc:ok", "doc:ok", "https://u:p@x.example.org/", "https://x.example.org/a b"},
			[]string{"text", "attachments[0]", "attachments[1]", "attachments[2]", "attachments[4]", "attachments[5]", "attachments[6]"}},
		{strings.Repeat("a", alerting.MaxAnswerBytes+1), many, []string{"text", "attachments"}},
	} {
		_, err := a.AnswerInfo(coChairB, "ir-1", tc.text, tc.attachments, t0)
		if got := fields(err); !slices.Equal(got, tc.want) {
			t.Errorf("answer problems %v, want %v (%v)", got, tc.want, err)
		}
	}
	resolved, err := a.Resolve(officer, "done", t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resolved.AskInfo(coChairA, alerting.InfoQuestion{Party: "party-b", Question: "?", Within: alerting.Duration(time.Hour)}, c, t0); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("asking on a resolved alert: %v, want a conflict", err)
	}
	// The open request of a resolved alert still keeps its clock.
	if at := resolved.TimerAt(); at == nil || !at.Equal(t0.Add(time.Hour)) {
		t.Errorf("resolved alert's timer %v, want the request's deadline", at)
	}
}

// TestOverdueStepsAreValidated: on_info_request_overdue's steps are checked
// like the policy's steps.
func TestOverdueStepsAreValidated(t *testing.T) {
	t.Parallel()
	cfg := alerting.Config{
		Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
		Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{{Notify: []string{"board"}}}, OnInfoRequestOverdue: []alerting.Step{
			{After: alerting.Duration(time.Hour), Notify: []string{"nobody"}},
			{After: alerting.Duration(time.Minute)},
		}}},
	}
	var got []string
	for _, p := range cfg.Validate() {
		got = append(got, p.Path)
	}
	want := []string{"$.policies[0].on_info_request_overdue[0].notify[0]", "$.policies[0].on_info_request_overdue[1].after", "$.policies[0].on_info_request_overdue[1].notify"}
	if !slices.Equal(got, want) {
		t.Errorf("problems at %v, want %v", got, want)
	}
}
