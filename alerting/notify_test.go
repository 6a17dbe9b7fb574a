package alerting

import (
	"strings"
	"testing"
	"time"
)

func notifyCatalog(t *testing.T) *Catalog {
	t.Helper()
	hook := func(id string) Method {
		return Method{ID: id, Type: MethodWebhook, URL: "https://liaison.example.org/" + id, Secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}
	}
	cfg := Config{
		Zones:   []Zone{{ID: "aleppo", Name: "Aleppo"}},
		Parties: []Party{{ID: "party-a", Name: "Co-chair A", Status: PartyAdherent}},
		Contacts: []Contact{
			{ID: "amara", Name: "Amara", Methods: []Method{hook("hook"), {ID: "mail", Type: MethodEmail, Address: "amara@example.org"}}},
			{ID: "jonas", Name: "Jonas", Party: "party-a", Methods: []Method{hook("hook")}},
			{ID: "desk", Name: "Desk", Methods: []Method{hook("hook")}},
		},
		Schedules: []Schedule{
			{ID: "duty", Timezone: "UTC", Layers: []Layer{{Name: "daily", Participants: []string{"amara", "jonas"}, Shift: Duration(24 * time.Hour), Start: "2026-01-01T08:00"}}},
			{ID: "nights", Timezone: "UTC", Layers: []Layer{{Name: "n", Participants: []string{"jonas"}, Shift: Duration(24 * time.Hour), Start: "2026-01-01T22:00",
				Restrict: &Recurrence{From: "22:00", To: "06:00"}}}},
		},
		Policies: []Policy{{ID: "p", Fallback: "desk", Steps: []Step{
			{After: 0, Notify: []string{"board", "duty", "amara"}},
			{After: Duration(time.Minute), Notify: []string{"nights"}},
		}}},
	}
	c, err := NewCatalog(1, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStepsNotifyEachContactMethodOnce expands a step into one notification
// per contact method: a schedule's on-call contact and a contact named
// directly share a key, and are notified once.
func TestStepsNotifyEachContactMethodOnce(t *testing.T) {
	t.Parallel()
	c := notifyCatalog(t)
	p, _ := c.Policy("p")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // amara's shift
	a := &Alert{ID: "al-1", Zone: "aleppo", Severity: SeverityExtreme, State: StateOpen}
	a.StartEscalation(p, c, now)
	var keys []string
	for _, n := range a.Notifications {
		keys = append(keys, n.Key+"="+n.State)
	}
	want := []string{"al-1:0:0:board=shown", "al-1:0:0:amara/hook=pending", "al-1:0:0:amara/mail=pending"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Fatalf("notifications %q, want %q", keys, want)
	}
	out := Outbox(nil, a)
	if len(out) != 2 || !out[0].Urgent || out[0].Key != "al-1:0:0:amara/hook" {
		t.Errorf("outbox %+v, want the two pending methods, urgent (extreme)", out)
	}
	if !strings.Contains(a.Timeline[len(a.Timeline)-1].Note, "duty (on call: amara)") {
		t.Errorf("timeline %q", a.Timeline[len(a.Timeline)-1].Note)
	}

	// One minute later, at noon, nobody is on the night desk: the
	// fallback contact is notified, and the timeline says so.
	b, ok := a.Escalate(p, c, now.Add(time.Minute))
	if !ok {
		t.Fatal("step 2 did not fire")
	}
	n := b.Notifications[len(b.Notifications)-1]
	if n.Contact != "desk" || !n.Fallback || n.Target != "nights" || n.State != NotificationPending {
		t.Errorf("step 2 notification %+v, want a fallback to desk", n)
	}
	if got := Outbox(a, b); len(got) != 1 || got[0].Key != "al-1:1:0:desk/hook" {
		t.Errorf("outbox of step 2: %+v", got)
	}
	if note := b.Timeline[len(b.Timeline)-1].Note; !strings.Contains(note, "nights: NOBODY ON CALL, fell back to desk") {
		t.Errorf("timeline %q", note)
	}
}

// TestAStepWithNobodyToReachGivesUpLoudly: a target that vanished from the
// configuration gives up at once, on the alert, rather than silently.
func TestAStepWithNobodyToReachGivesUpLoudly(t *testing.T) {
	t.Parallel()
	c := notifyCatalog(t)
	p := Policy{ID: "gone", Steps: []Step{{Notify: []string{"deleted-schedule"}}}}
	a := &Alert{ID: "al-2", Zone: "aleppo", State: StateOpen}
	a.StartEscalation(p, c, time.Now())
	n := a.Notifications[0]
	if n.State != NotificationGaveUp || !strings.Contains(n.Error, "neither a contact nor a schedule") || len(Outbox(nil, a)) != 0 {
		t.Errorf("notification %+v", n)
	}
}

func TestRecordAttempt(t *testing.T) {
	t.Parallel()
	c := notifyCatalog(t)
	p, _ := c.Policy("p")
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := &Alert{ID: "al-1", Zone: "aleppo", State: StateOpen, Version: 1}
	a.StartEscalation(p, c, now)
	key := "al-1:0:0:amara/hook"
	retry := now.Add(time.Second)
	b, ok := a.RecordAttempt(Attempt{Key: key, State: NotificationFailed, Err: errString("503 Service Unavailable"), RetryAt: &retry, Counted: true}, now)
	if !ok || b.Version != 2 || a.Notification(key).State != NotificationPending {
		t.Fatalf("recorded %v, version %d; the original must not change", ok, b.Version)
	}
	n := b.Notification(key)
	if n.State != NotificationFailed || n.Attempts != 1 || n.NextAttempt == nil || n.Error != "503 Service Unavailable" {
		t.Errorf("after a failure: %+v", n)
	}
	b, _ = b.RecordAttempt(Attempt{Key: key, State: NotificationSent, Counted: true}, now.Add(time.Second))
	if n := b.Notification(key); n.State != NotificationSent || n.Attempts != 2 || n.Error != "" || n.NextAttempt != nil || n.SentAt == nil {
		t.Errorf("after success: %+v", n)
	}
	if _, ok := b.RecordAttempt(Attempt{Key: key, State: NotificationFailed, Counted: true}, now); ok {
		t.Error("an attempt was recorded on a notification already sent")
	}
	if _, ok := b.RecordAttempt(Attempt{Key: "al-1:9:9:nobody/x"}, now); ok {
		t.Error("an attempt was recorded on an unknown notification")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestAckLinks(t *testing.T) {
	t.Parallel()
	links, err := NewAckLinks([]byte(strings.Repeat("s", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	m := &Message{Key: "al-1:1:0:jonas/hook", Alert: &Alert{ID: "al-1"}, Contact: Contact{ID: "jonas", Name: "Jonas", Party: "party-a"}}
	token, exp, err := links.Sign(m, now)
	if err != nil {
		t.Fatal(err)
	}
	if d := exp.Sub(now); d < 59*time.Minute || d > time.Hour {
		t.Errorf("expires in %v, want an hour", d)
	}
	c, err := links.Check(token, "al-1", now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("a valid link: %v", err)
	}
	if a := c.Actor(); a.Party != "party-a" || !strings.HasPrefix(a.Name, "Jonas") || c.Key != m.Key {
		t.Errorf("claims %+v, actor %+v", c, a)
	}
	tampered := token[:len(token)-3] + "AAA"
	if token[len(token)-3:] == "AAA" {
		tampered = token[:len(token)-3] + "BBB"
	}
	other, _ := NewAckLinks([]byte(strings.Repeat("o", 32)), time.Hour)
	foreign, _, _ := other.Sign(m, now)
	for _, tc := range []struct {
		name, token, alert string
		at                 time.Time
		want               string
	}{
		{"expired", token, "al-1", now.Add(2 * time.Hour), "expired"},
		{"tampered", tampered, "al-1", now, "not valid"},
		{"signed by another server", foreign, "al-1", now, "not valid"},
		{"replayed on another alert", token, "al-2", now, "another alert"},
		{"garbage", "not-a-token", "al-1", now, "not valid"},
	} {
		_, err := links.Check(tc.token, tc.alert, tc.at)
		if ErrorCode(err) != EFORBIDDEN || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want forbidden saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewAckLinks([]byte("short"), 0); err == nil {
		t.Error("a short secret was accepted")
	}
}

func TestContactValidationNamesEveryProblem(t *testing.T) {
	t.Parallel()
	cfg := Config{
		Parties: []Party{{ID: "party-a", Name: "A", Status: PartyAdherent}},
		Contacts: []Contact{{ID: "board", Party: "party-z", Methods: []Method{
			{ID: "h", Type: MethodWebhook, URL: "ftp://x", Secret: "plain", Address: "a@b.c"},
			{ID: "h", Type: MethodEmail, Address: "Name <a@b.c>"},
			{ID: "n", Type: MethodNATS, Subject: "alerts.aleppo.>"},
			{ID: "s", Type: "sms"},
		}}},
		Policies: []Policy{{ID: "p", Steps: []Step{{Notify: []string{"nobody"}}}, Fallback: "ghost", OnWorsened: "page-everyone"}},
	}
	got := map[string]bool{}
	for _, p := range cfg.Validate() {
		got[p.Path] = true
	}
	for _, path := range []string{
		"$.contacts[0].id", "$.contacts[0].name", "$.contacts[0].party",
		"$.contacts[0].methods[0].url", "$.contacts[0].methods[0].secret", "$.contacts[0].methods[0].address",
		"$.contacts[0].methods[1].id", "$.contacts[0].methods[1].address",
		"$.contacts[0].methods[2].subject", "$.contacts[0].methods[3].type",
		"$.policies[0].steps[0].notify[0]", "$.policies[0].fallback", "$.policies[0].on_worsened",
	} {
		if !got[path] {
			t.Errorf("no problem at %s; got %v", path, got)
		}
	}
}

func TestSecretsAreRedactedAndKept(t *testing.T) {
	t.Parallel()
	secret := "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="
	stored := Config{Contacts: []Contact{{ID: "c", Name: "C", Methods: []Method{{ID: "h", Type: MethodWebhook, URL: "https://x.example", Secret: secret}}}}}
	shown := stored.Redacted()
	if shown.Contacts[0].Methods[0].Secret != RedactedSecret || stored.Contacts[0].Methods[0].Secret != secret {
		t.Fatalf("shown %q, stored %q", shown.Contacts[0].Methods[0].Secret, stored.Contacts[0].Methods[0].Secret)
	}
	back := KeepSecrets(stored, shown)
	if back.Contacts[0].Methods[0].Secret != secret || shown.Contacts[0].Methods[0].Secret != RedactedSecret {
		t.Errorf("applied back: %q", back.Contacts[0].Methods[0].Secret)
	}
	fresh := KeepSecrets(Config{}, shown)
	if ps := fresh.Validate(); len(ps) == 0 {
		t.Error("a redacted secret with nothing stored passed validation")
	}
}

// TestAFallbackToAContactNamedToo keeps the fallback visible when the
// fallback contact is also a target of the same step.
func TestAFallbackToAContactNamedToo(t *testing.T) {
	t.Parallel()
	c := notifyCatalog(t)
	p := Policy{ID: "p", Fallback: "desk", Steps: []Step{{Notify: []string{"desk", "nights"}}}}
	a := &Alert{ID: "al-3", Zone: "aleppo", State: StateOpen}
	a.StartEscalation(p, c, time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)) // nobody on the night desk at noon
	if len(a.Notifications) != 1 {
		t.Fatalf("notifications %+v, want desk's one method once", a.Notifications)
	}
	if n := a.Notifications[0]; !n.Fallback || n.Target != "nights" || n.Contact != "desk" {
		t.Errorf("notification %+v, want it marked as the night desk's fallback", n)
	}
}

// FuzzAckLinkCheck: no string but a token this server signed, unexpired,
// for the alert, passes the check, and none panics it.
func FuzzAckLinkCheck(f *testing.F) {
	links, _ := NewAckLinks([]byte(strings.Repeat("s", 32)), time.Hour)
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	good, _, _ := links.Sign(&Message{Key: "k", Alert: &Alert{ID: "al-1"}, Contact: Contact{ID: "c", Party: "party-a"}}, now)
	for _, s := range []string{good, good + "x", "e30.e30.", "a.b.c", "", strings.Repeat(".", 100)} {
		f.Add(s, "al-1")
	}
	f.Fuzz(func(t *testing.T, token, alert string) {
		c, err := links.Check(token, alert, now)
		if err == nil && (token != good || alert != "al-1" || c.Party != "party-a") {
			t.Fatalf("%q passed for %q", token, alert)
		}
	})
}

// TestAPartyThatAcknowledgedIsNotPagedAgain: once a party acknowledged an
// alert that waits for another, later steps no longer page that party's
// contacts, and the timeline says whom they spared.
func TestAPartyThatAcknowledgedIsNotPagedAgain(t *testing.T) {
	t.Parallel()
	c := notifyCatalog(t)
	p := Policy{ID: "both", RequireAckFrom: []string{"party-a", "party-b"}, Steps: []Step{
		{After: 0, Notify: []string{"jonas", "amara"}},
		{After: Duration(time.Minute), Notify: []string{"jonas", "amara"}},
	}}
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := &Alert{ID: "al-3", Zone: "aleppo", State: StateOpen, RequireAckFrom: p.RequireAckFrom}
	a.StartEscalation(p, c, now)
	if got := len(Outbox(nil, a)); got != 3 {
		t.Fatalf("step 1 pages %d methods, want jonas's one and amara's two", got)
	}
	b, err := a.Acknowledge(Actor{Name: "jonas", Party: "party-a"}, "", now.Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if b.State != StateOpen {
		t.Fatalf("after party-a alone the alert is %s, want still open (party-b has not acknowledged)", b.State)
	}
	c2, ok := b.Escalate(p, c, now.Add(time.Minute))
	if !ok {
		t.Fatal("step 2 did not fire")
	}
	out := Outbox(b, c2)
	if len(out) != 2 || !strings.Contains(out[0].Key, ":amara/") || !strings.Contains(out[1].Key, ":amara/") {
		t.Errorf("step 2 pages %+v, want amara's two methods and nothing for jonas of party-a", out)
	}
	if note := c2.Timeline[len(c2.Timeline)-1].Note; !strings.Contains(note, "not jonas (their party acknowledged)") {
		t.Errorf("timeline %q", note)
	}
}
