package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestAwaitingMyParty: someone acting for a party sees in the header how
// many alerts wait for the party's acknowledgement, verification or
// agreement to resolve, and a click shows only those; the count follows
// what either party does, and someone acting for no party sees none of it.
func TestAwaitingMyParty(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	postReport(t, a, report{ID: "await-1", Zone: "aleppo", Category: "shelling"}, time.Minute)
	postReport(t, a, report{ID: "await-2", Zone: "idlib", Category: "shelling"}, time.Minute)
	postReport(t, a, report{ID: "await-3", Zone: "daraa", Category: "shelling"}, time.Minute)
	aleppo, idlib, daraa := onlyAlert(t, a, "aleppo"), onlyAlert(t, a, "idlib"), onlyAlert(t, a, "daraa")
	asA := userToken(t, a, alerting.User{Name: "api-a", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	asB := userToken(t, a, alerting.User{Name: "api-b", Role: alerting.RoleDutyOfficer, Party: "party-b"})
	act := func(token, id, action, body string) {
		t.Helper()
		if status, text := call(t, a, token, "POST", "/api/v1/alerts/"+id+"/"+action, body); status != 200 {
			t.Fatalf("%s %s: %d %s", action, id, status, text)
		}
	}

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, coChairA, "")
	awaiting := func(want string) {
		t.Helper()
		b.eventually(boardWait, "the header to count "+want+" awaiting Co-chair A", func() bool {
			return b.text(`[data-testid=awaiting-count]`) == want+" awaiting Co-chair A"
		})
	}
	awaiting("3")

	// Party A acknowledges and verifies Idlib: it waits for A no more.
	act(asA, idlib, "ack", `{}`)
	awaiting("3") // still to verify
	act(asA, idlib, "verify", `{"status":"confirmed","note":"our monitors saw it"}`)
	awaiting("2")
	// Party A does the same for Aleppo, then party B proposes to resolve it:
	// it waits for A's agreement.
	act(asA, aleppo, "ack", `{}`)
	act(asA, aleppo, "verify", `{"status":"confirmed","note":"seen"}`)
	awaiting("1")
	act(asB, aleppo, "resolve", `{"note":"quiet since"}`)
	awaiting("2")

	b.click(`[data-testid=awaiting-count]`)
	rows := b.waitRows(boardWait, "only the alerts awaiting party A", func(rows []boardRow) bool { return len(rows) == 2 })
	for _, id := range []string{aleppo, daraa} {
		if _, ok := rowByID(rows, id); !ok {
			t.Errorf("alert %s, which awaits party A, is not shown", id)
		}
	}
	if loc := evaluate[string](t, tab, `location.search`); !strings.Contains(loc, "awaiting=1") {
		t.Errorf("the address %q does not keep the filter", loc)
	}
	if !evaluate[bool](t, tab, `document.querySelector('[data-testid=awaiting-filter]').checked`) {
		t.Error("the filter's checkbox does not say it is on")
	}
	b.click(`[data-testid=awaiting-count]`)
	b.waitRows(boardWait, "every alert again", func(rows []boardRow) bool { return len(rows) == 3 })

	// A duty officer acting for no party has no party to wait for.
	tab2 := newProfile(t, tab, "the duty officer's browser")
	neutral := signInBoard(t, tab2, a, dutyOfficer, "")
	neutral.waitRows(boardWait, "the three alerts", func(rows []boardRow) bool { return len(rows) == 3 })
	if !evaluate[bool](t, tab2, `document.querySelector('[data-testid=awaiting-count]').hidden`) {
		t.Error("the header counts alerts awaiting the party of someone who acts for none")
	}
}
