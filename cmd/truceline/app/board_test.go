package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/web/auth"
)

// The board tests drive the real board (web/static) in headless Chromium
// against a real truceline on a real NATS and Redis.

// testPassword is the password of every user the board tests sign in as.
const testPassword = "correct horse battery"

// testPasswordHash is its bcrypt hash, computed once: bcrypt is slow on
// purpose, and slower still under the race detector.
var testPasswordHash = sync.OnceValues(func() (string, error) { return auth.HashPasswordCost(testPassword, bcrypt.MinCost) })

// The people who sign in to the board in the tests.
var (
	// dutyOfficer acts on every zone, for no party.
	dutyOfficer = alerting.User{Name: "duty", FullName: "Amira Rahman", Role: alerting.RoleDutyOfficer}
	// coChairA and coChairB are duty officers seconded by the co-chairs,
	// acting for party-a and party-b.
	coChairA = alerting.User{Name: "duty-a", FullName: "Jonas Meyer", Role: alerting.RoleDutyOfficer, Party: "party-a"}
	coChairB = alerting.User{Name: "duty-b", FullName: "Elena Petrov", Role: alerting.RoleDutyOfficer, Party: "party-b"}
)

// boardUser makes u in the store of a, unless it exists, with the password
// testPassword.
func boardUser(t *testing.T, a *app.App, u alerting.User) {
	t.Helper()
	hash, err := testPasswordHash()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u.PasswordHash, u.CreatedAt = hash, time.Now()
	if err := a.Store.PutUser(ctx, &u, true); err != nil && alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Fatalf("make user %s: %v", u.Name, err)
	}
}

// board is the board page open in one tab.
type board struct {
	t   *testing.T
	ctx context.Context
}

// boardRow is what a row of the board shows.
type boardRow struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Severity string `json:"severity"`
	Zone     string `json:"zone"`
	Text     string `json:"text"`
}

const rowsJS = `Array.from(document.querySelectorAll('[data-testid=alert]'), (r) => ({
	id: r.dataset.alertId || '',
	state: r.dataset.state || '',
	severity: r.dataset.severity || '',
	zone: r.querySelector('.cell-zone')?.textContent || '',
	text: r.innerText,
}))`

// signInBoard makes user u (see boardUser), opens the board of a in tab
// (with query, e.g. "?zone=daraa"), signs in as u through the sign-in form,
// and waits until the board is live and holds the snapshots.
func signInBoard(t *testing.T, tab context.Context, a *app.App, u alerting.User, query string) *board {
	t.Helper()
	boardUser(t, a, u)
	b := loadPage(t, tab, a, query)
	b.signIn(u.Name, testPassword)
	b.waitBoard()
	return b
}

// openBoard loads the board of a (with query) in a tab already signed in
// (one that shares the cookies of a signed-in tab) and waits until it is
// live and holds the snapshots.
func openBoard(t *testing.T, tab context.Context, a *app.App, query string) *board {
	t.Helper()
	b := loadPage(t, tab, a, query)
	b.waitBoard()
	return b
}

// loadPage navigates tab to the board of a.
func loadPage(t *testing.T, tab context.Context, a *app.App, query string) *board {
	t.Helper()
	url := "http://" + a.HTTPAddr() + "/" + query
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open the board at %s: %v", url, err)
	}
	return &board{t: t, ctx: tab}
}

// shown reports whether the element sel exists and is displayed.
func (b *board) shown(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b.t, b.ctx, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		return !!e && e.getClientRects().length > 0;
	})()`, sel))
}

// waitSignInForm waits until the page shows the sign-in form.
func (b *board) waitSignInForm() {
	b.t.Helper()
	b.eventually(boardWait, "the sign-in form", func() bool { return b.shown("[data-testid=signin-form]") })
}

// signIn types user and password into the sign-in form, as a person would,
// and selects Sign in.
func (b *board) signIn(user, password string) {
	b.t.Helper()
	b.waitSignInForm()
	if err := chromedp.Do(b.ctx,
		// The form may have kept the last user name.
		chromedp.Evaluate[chromedp.Void](`(() => {
			for (const f of ['user', 'password']) document.querySelector('[data-testid=signin-' + f + ']').value = '';
		})()`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=signin-user]`), user),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=signin-password]`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=signin-submit]`)),
	); err != nil {
		b.t.Fatalf("sign in as %s: %v", user, err)
	}
}

// waitBoard waits until the board shows, is live and holds the snapshots.
func (b *board) waitBoard() {
	b.t.Helper()
	b.eventually(boardWait, "the board instead of the sign-in form", func() bool {
		return b.shown("#board-app") && !b.shown("[data-testid=signin]")
	})
	b.waitLive()
	// Once a snapshot is in, the board shows rows or says it has none
	// instead of "Waiting for data…".
	b.eventually(boardWait, "the board to apply the snapshots", func() bool {
		return evaluate[bool](b.t, b.ctx, `document.querySelector('[data-testid=alert]') !== null ||
			!document.querySelector('[data-testid=empty]').textContent.includes('Waiting')`)
	})
}

// text is the text content of the first element that matches sel, or "".
func (b *board) text(sel string) string {
	b.t.Helper()
	return evaluate[string](b.t, b.ctx, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, sel))
}

func (b *board) rows() []boardRow {
	b.t.Helper()
	return evaluate[[]boardRow](b.t, b.ctx, rowsJS)
}

func (b *board) live() bool {
	b.t.Helper()
	return strings.Contains(b.text("[data-testid=conn]"), "live")
}

func (b *board) waitLive() {
	b.t.Helper()
	b.eventually(boardWait, `the connection indicator to say "live"`, b.live)
}

// waitRows polls the rows until cond holds, and returns them; when it times
// out, the test fails and logs what the board showed last.
func (b *board) waitRows(timeout time.Duration, what string, cond func([]boardRow) bool) []boardRow {
	b.t.Helper()
	var rows []boardRow
	ok := false
	defer func() {
		if !ok { // Eventually failed the test
			b.t.Logf("the board showed %d rows: %+v", len(rows), rows)
		}
	}()
	b.eventually(timeout, what, func() bool {
		rows = b.rows()
		return cond(rows)
	})
	ok = true
	return rows
}

func rowByID(rows []boardRow, id string) (boardRow, bool) {
	for _, r := range rows {
		if r.ID == id {
			return r, true
		}
	}
	return boardRow{}, false
}

func hasRow(id string) func([]boardRow) bool {
	return func(rows []boardRow) bool { _, ok := rowByID(rows, id); return ok }
}

// onlyAlert waits until zone has exactly one alert and returns its id.
func onlyAlert(t *testing.T, a *app.App, zone string) string {
	t.Helper()
	var id string
	alertingtest.Eventually(t, boardWait, "the alert in "+zone, func() bool {
		if as := alerts(t, a, zone); len(as) == 1 {
			id = as[0].ID
		}
		return id != ""
	})
	return id
}

// report is a report in schema v1 with the fields the board tests vary.
type report struct {
	ID           string         `json:"id"`
	Zone         string         `json:"zone"`
	Category     string         `json:"category"`
	ObservedAt   string         `json:"observed_at"`
	ReportedBy   string         `json:"reported_by"`
	SourceType   string         `json:"source_type,omitempty"`
	Severity     string         `json:"severity,omitempty"`
	Certainty    string         `json:"certainty,omitempty"`
	Count        int            `json:"count,omitempty"`
	Weapon       string         `json:"weapon,omitempty"`
	AttributedTo string         `json:"attributed_to,omitempty"`
	Target       string         `json:"target,omitempty"`
	Casualties   map[string]int `json:"casualties,omitempty"`
	Description  string         `json:"description,omitempty"`
	Location     *location      `json:"location,omitempty"`
}

// location is where a report was observed.
type location struct {
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	PrecisionM float64 `json:"precision_m,omitempty"`
}

// postReport posts r, observed ago before now, and fails unless truceline
// accepts it.
func postReport(t *testing.T, a *app.App, r report, ago time.Duration) {
	t.Helper()
	r.ObservedAt = time.Now().UTC().Add(-ago).Format(time.RFC3339)
	if r.ReportedBy == "" {
		r.ReportedBy = "test monitor"
	}
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if status, resp := post(t, a, "/api/v1/reports", body); status != http.StatusAccepted {
		t.Fatalf("POST report %s: %d %v", r.ID, status, resp)
	}
}

// TestBoardShowsReportsLive opens the board and sees a report published on
// NATS, then one posted over HTTP, appear as rows without a reload.
func TestBoardShowsReportsLive(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	b := signInBoard(t, startBrowser(t), a, dutyOfficer, "")
	if rows := b.rows(); len(rows) != 0 {
		t.Fatalf("a new board shows %d rows: %+v", len(rows), rows)
	}
	if got := b.text("[data-testid=open-count]"); got != "0" {
		t.Errorf("open count %q on an empty board, want 0", got)
	}

	nc := d.nats.Connect(t)
	if err := nc.Publish("violations.aleppo.shelling", reportJSON("nats-1", "aleppo", "shelling")); err != nil {
		t.Fatal(err)
	}
	aleppo := onlyAlert(t, a, "aleppo")
	rows := b.waitRows(boardWait, "the row of the NATS report", hasRow(aleppo))
	row, _ := rowByID(rows, aleppo)
	if len(rows) != 1 || row.Severity != "severe" || row.State != "open" {
		t.Errorf("after one shelling report the board shows %+v, want one open severe row", rows)
	}
	if row.Zone != "Aleppo" || !strings.Contains(row.Text, "Shelling in Aleppo") {
		t.Errorf("the row does not name Aleppo: zone %q, text %q", row.Zone, row.Text)
	}
	b.eventually(boardWait, "the open count to say 1", func() bool { return b.text("[data-testid=open-count]") == "1" })

	post(t, a, "/api/v1/reports", reportJSON("http-1", "daraa", "small_arms"))
	daraa := onlyAlert(t, a, "daraa")
	rows = b.waitRows(boardWait, "the row of the HTTP report", hasRow(daraa))
	if len(rows) != 2 {
		t.Fatalf("after two reports in two zones the board shows %d rows: %+v", len(rows), rows)
	}
	// Most severe first: the severe shelling above the moderate small-arms fire.
	if rows[0].ID != aleppo || rows[1].ID != daraa || rows[1].Severity != "moderate" || rows[1].Zone != "Daraa" {
		t.Errorf("rows %+v, want Aleppo (severe) then Daraa (moderate)", rows)
	}
	b.eventually(boardWait, "the open count to say 2", func() bool { return b.text("[data-testid=open-count]") == "2" })

	// The detail names each report by the id it was sent with, with what
	// it claims and who truly sent it.
	b.openDetail(daraa)
	b.eventually(boardWait, "the report's sender in the detail", func() bool {
		return b.text("[data-testid=detail] [data-testid=report-id]") == "http-1" &&
			b.text("[data-testid=detail] [data-testid=report-claim]") == "test monitor" &&
			b.text("[data-testid=detail] [data-testid=report-sender]") == "sent by test-admin with token "+adminTokenID(a)
	})
	b.openDetail(aleppo)
	b.eventually(boardWait, "the anonymous sender in the detail", func() bool {
		return b.text("[data-testid=detail] [data-testid=report-sender]") == "sent by an anonymous NATS publisher"
	})
	if !b.live() {
		t.Errorf("the board is no longer live: %q", b.text("[data-testid=conn]"))
	}
}

// TestAcknowledgeInOneBoardUpdatesAnother acknowledges an alert in one tab
// and sees it acknowledged in another (of the same browser, so signed in as
// the same duty officer).
func TestAcknowledgeInOneBoardUpdatesAnother(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postReport(t, a, report{ID: "ack-1", Zone: "idlib", Category: "airstrike"}, time.Minute)
	postReport(t, a, report{ID: "ack-2", Zone: "latakia", Category: "explosion"}, time.Minute)
	idlib, latakia := onlyAlert(t, a, "idlib"), onlyAlert(t, a, "latakia")

	tab1 := startBrowser(t)
	tab2 := newTab(t, tab1, "tab 2")
	first := signInBoard(t, tab1, a, dutyOfficer, "")
	second := openBoard(t, tab2, a, "")
	bothOpen := func(rows []boardRow) bool {
		r1, ok1 := rowByID(rows, idlib)
		r2, ok2 := rowByID(rows, latakia)
		return ok1 && ok2 && r1.State == "open" && r2.State == "open"
	}
	first.waitRows(boardWait, "both alerts open in tab 1", bothOpen)
	second.waitRows(boardWait, "both alerts open in tab 2", bothOpen)

	ack := fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] [data-testid=ack]`, idlib)
	if err := chromedp.Do(tab1, chromedp.Click(chromedp.CSS(ack))); err != nil {
		t.Fatalf("click Acknowledge in tab 1: %v", err)
	}
	acked := func(rows []boardRow) bool { r, _ := rowByID(rows, idlib); return r.State == "acknowledged" }
	rows := second.waitRows(5*time.Second, "tab 2 to show the acknowledgement made in tab 1", acked)
	if r, _ := rowByID(rows, latakia); r.State != "open" {
		t.Errorf("the other alert is %q in tab 2, want open", r.State)
	}
	first.waitRows(5*time.Second, "tab 1 to show its own acknowledgement", acked)
	second.eventually(boardWait, "tab 2's counts to say 1 open", func() bool {
		return second.text("[data-testid=open-count]") == "1"
	})
	// An acknowledged alert offers no Acknowledge button any more.
	hidden := evaluate[bool](t, tab2, fmt.Sprintf(`document.querySelector(%q).hidden`, ack))
	if !hidden {
		t.Errorf("tab 2 still offers Acknowledge on the acknowledged alert")
	}

	status, body := get(t, a, "/api/v1/alerts/"+idlib)
	acks, _ := body["acks"].([]any)
	// The acknowledgement is the signed-in duty officer's, for no party.
	if status != 200 || body["state"] != "acknowledged" || len(acks) != 1 || !strings.Contains(fmt.Sprint(acks[0]), "by:"+dutyOfficer.FullName) ||
		strings.Contains(fmt.Sprint(acks[0]), "party:") {
		t.Errorf("after the click the API has %d %v", status, body)
	}
}

// jointPolicy makes every report's alert need the acknowledgements of both
// co-chairs, party-a and party-b, and escalate 10 minutes after opening.
func jointPolicy(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := a.ApplyConfig(ctx, alerting.Config{
		Contacts: []alerting.Contact{webhookContact("co-chairs", "", "http://127.0.0.1:9/nobody-listens")},
		Policies: []alerting.Policy{{
			ID:   "joint",
			Name: "Both co-chairs must acknowledge",
			Steps: []alerting.Step{
				{After: 0, Notify: []string{"board"}},
				{After: alerting.Duration(10 * time.Minute), Notify: []string{"co-chairs"}},
			},
			RequireAckFrom: []string{"party-a", "party-b"},
		}},
		Rules: []alerting.Rule{{ID: "all", Name: "Every report", Policy: "joint"}},
	})
	if err != nil {
		t.Fatalf("apply the joint acknowledgement policy: %v", err)
	}
}

func (b *board) click(sel string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("click %s: %v", sel, err)
	}
}

// ackChips says, per party, whether the row of alert id shows it acknowledged:
// "party-a=true party-b=false".
func (b *board) ackChips(id string) string {
	b.t.Helper()
	return evaluate[string](b.t, b.ctx, fmt.Sprintf(`[...document.querySelectorAll('[data-testid=alert][data-alert-id=%q] [data-testid=ack-chip]')]
		.map((c) => c.dataset.party + '=' + c.dataset.acked).join(' ')`, id))
}

// openDetail opens the detail panel of alert id by clicking its row and
// waits until the panel shows it.
func (b *board) openDetail(id string) {
	b.t.Helper()
	b.click(fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] .title-text`, id))
	b.waitDetail(id)
}

// waitDetail waits until the detail panel is open on alert id.
func (b *board) waitDetail(id string) {
	b.t.Helper()
	b.eventually(boardWait, "the detail panel of "+id, func() bool {
		return evaluate[bool](b.t, b.ctx, fmt.Sprintf(`(() => {
			const d = document.querySelector('[data-testid=detail]');
			const row = document.querySelector('[data-testid=alert][data-alert-id=%[1]q] .title-text');
			return !d.hidden && d.dataset.alertId === %[1]q && d.querySelector('[data-testid=detail-title]').textContent === row.textContent;
		})()`, id))
	})
}

// TestJointAcknowledgementAndVerification acknowledges an alert that needs
// both co-chairs, each acknowledging on their own board, signed in as a duty
// officer seconded by their party: after party-a's acknowledgement the alert
// stays open, with party-a's chip acknowledged and party-b's not, on both
// boards; after party-b's it is acknowledged and its escalation stops. Then
// party-b disputes it in the detail panel, and party-a's board shows the
// dispute.
func TestJointAcknowledgementAndVerification(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	postReport(t, a, report{ID: "joint-1", Zone: "aleppo", Category: "shelling"}, time.Minute)
	id := onlyAlert(t, a, "aleppo")

	tab1 := startBrowser(t)
	tab2 := newProfile(t, tab1, "co-chair B's browser")
	first := signInBoard(t, tab1, a, coChairA, "")
	second := signInBoard(t, tab2, a, coChairB, "")
	for _, b := range []*board{first, second} {
		b.waitRows(boardWait, "the open alert", func(rows []boardRow) bool { r, _ := rowByID(rows, id); return r.State == "open" })
		b.eventually(boardWait, "chips for both co-chairs, neither acknowledged", func() bool {
			return b.ackChips(id) == "party-a=false party-b=false"
		})
	}
	row := fmt.Sprintf(`[data-testid=alert][data-alert-id=%q]`, id)
	ack := row + ` [data-testid=ack]`
	countdown := row + ` [data-testid=countdown]`

	// The escalation cell counts down to the second step, every second.
	var before string
	first.eventually(boardWait, "a countdown to the next escalation step", func() bool {
		before = first.text(countdown)
		return strings.HasPrefix(before, "next step in 9:") || strings.HasPrefix(before, "next step in 10:")
	})
	first.eventually(5*time.Second, "the countdown to tick", func() bool {
		now := first.text(countdown)
		return now != before && strings.HasPrefix(now, "next step in ")
	})
	if level := first.text(row + " .esc-level"); level != "Level 1" {
		t.Errorf("the escalation cell says %q, want Level 1", level)
	}

	// Co-chair A acknowledges: the alert waits for co-chair B.
	first.click(ack)
	for _, b := range []*board{first, second} {
		b.eventually(boardWait, "party-a's chip acknowledged and party-b's not", func() bool {
			return b.ackChips(id) == "party-a=true party-b=false"
		})
		if r, _ := rowByID(b.rows(), id); r.State != "open" {
			t.Errorf("after party-a's acknowledgement the row is %q, want open until party-b acknowledges", r.State)
		}
	}
	if !evaluate[bool](t, tab1, fmt.Sprintf(`document.querySelector(%q).hidden`, ack)) {
		t.Errorf("the board still offers Acknowledge to party-a, which has acknowledged")
	}
	if evaluate[bool](t, tab2, fmt.Sprintf(`document.querySelector(%q).hidden`, ack)) {
		t.Errorf("party-b's board no longer offers Acknowledge on an alert that is still open")
	}

	// Co-chair B acknowledges: now the alert is acknowledged.
	second.click(ack)
	acked := func(rows []boardRow) bool { r, _ := rowByID(rows, id); return r.State == "acknowledged" }
	first.waitRows(5*time.Second, "party-a's board to show the joint acknowledgement", acked)
	second.waitRows(5*time.Second, "party-b's board to show the joint acknowledgement", acked)
	if chips := first.ackChips(id); chips != "party-a=true party-b=true" {
		t.Errorf("after both acknowledgements party-a's board shows chips %q", chips)
	}
	first.eventually(boardWait, "the escalation to stop", func() bool {
		return first.text(countdown) == "stopped: acknowledged"
	})

	// Co-chair B disputes the alert in the detail panel.
	second.openDetail(id)
	const reason = "cannot confirm: no unit of ours near the citadel"
	if err := chromedp.Do(tab2,
		chromedp.Evaluate[chromedp.Void](`(() => {
			const s = document.querySelector('[data-testid=detail] [data-testid=verify-status]');
			s.value = 'disputed';
			s.dispatchEvent(new Event('change', { bubbles: true }));
		})()`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=detail] [data-testid=verify-reason]`), reason),
		chromedp.Click(chromedp.CSS(`[data-testid=detail] [data-testid=verify-submit]`)),
	); err != nil {
		t.Fatalf("verify in the detail panel: %v", err)
	}
	card := `[data-testid=detail] [data-testid=verification][data-party=party-b]`
	disputed := func(b *board) func() bool {
		return func() bool {
			return evaluate[bool](t, b.ctx, fmt.Sprintf(`(() => {
				const c = document.querySelector(%q);
				return !!c && c.dataset.status === 'disputed' && c.textContent.includes(%q);
			})()`, card, reason))
		}
	}
	second.eventually(boardWait, "party-b's panel to show party-b's dispute", disputed(second))

	// The other board shows it in the row, and in its own panel.
	first.eventually(boardWait, "party-a's row to say Disputed", func() bool {
		return first.text(row+" .cell-verif") == "Disputed"
	})
	// Here by keyboard: j selects the (only) row, Enter opens its details.
	if err := chromedp.Do(tab1, chromedp.KeyEvent("j"), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	first.waitDetail(id)
	first.eventually(boardWait, "party-a's panel to show party-b's dispute", disputed(first))
	if got := first.text(`[data-testid=detail] [data-testid=verification][data-party=party-a]`); !strings.Contains(got, "Not verified") {
		t.Errorf("party-a has not verified, but party-a's panel says %q", got)
	}
	// Esc closes the panel.
	if err := chromedp.Do(tab1, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	eventuallyIn(t, tab1, boardWait, "Esc to close the panel", func() bool {
		return evaluate[bool](t, tab1, `document.querySelector('[data-testid=detail]').hidden`)
	})

	status, body := get(t, a, "/api/v1/alerts/"+id)
	acks, _ := body["acks"].([]any)
	verifs, _ := body["verifications"].([]any)
	if status != 200 || body["state"] != "acknowledged" || len(acks) != 2 || len(verifs) != 1 || body["verification"] != "disputed" {
		t.Fatalf("after the clicks the API has %d %v", status, body)
	}
	// Each acknowledgement is its signed-in user's, for their party.
	for i, u := range []alerting.User{coChairA, coChairB} {
		if got := fmt.Sprint(acks[i]); !strings.Contains(got, "by:"+u.FullName) || !strings.Contains(got, "party:"+u.Party) {
			t.Errorf("ack %d is %v, want %s's for %s", i, acks[i], u.FullName, u.Party)
		}
	}
	if v := fmt.Sprint(verifs[0]); !strings.Contains(v, "party:party-b") || !strings.Contains(v, "by:"+coChairB.FullName) || !strings.Contains(v, "reason:"+reason) {
		t.Errorf("verification %s, want party-b's dispute with its reason", v)
	}

	// Neither co-chair closes the joint alert alone: A proposes, and it
	// resolves when B agrees. Neither board offers a snooze.
	resolve := `[data-testid=detail] [data-testid=detail-resolve]`
	note := `[data-testid=detail] .ack-note`
	first.openDetail(id)
	if got := first.text(resolve); got != "Propose to resolve" {
		t.Errorf("party-a's resolve button says %q, want Propose to resolve", got)
	}
	if evaluate[bool](t, tab1, `!document.querySelector('[data-testid=detail] .snooze').hidden`) {
		t.Errorf("party-a's board offers to snooze a joint alert")
	}
	first.click(resolve)
	second.eventually(boardWait, "party-b's panel to offer agreeing", func() bool {
		return second.text(resolve) == "Agree to resolve" && strings.Contains(second.text(note), "agreed to resolve")
	})
	if r, _ := rowByID(first.rows(), id); r.State != "acknowledged" {
		t.Errorf("after party-a's proposal the row is %q, want acknowledged until party-b agrees", r.State)
	}
	if !evaluate[bool](t, tab1, fmt.Sprintf(`document.querySelector(%q).hidden`, resolve)) {
		t.Errorf("party-a's panel still offers to resolve after agreeing")
	}
	second.click(resolve)
	resolved := func(rows []boardRow) bool { r, ok := rowByID(rows, id); return !ok || r.State == "resolved" }
	first.waitRows(boardWait, "party-a's board to show the alert resolved", resolved)
	if status, body := get(t, a, "/api/v1/alerts/"+id); status != 200 || body["state"] != "resolved" {
		t.Errorf("after both agreed the API has %d %v", status, body["state"])
	}
}

// TestBoardCatchesUpAfterServerRestart stops truceline under an open board,
// stores a report while it is down, starts it again on the same address, and
// checks that the board reconnects by itself and shows what it missed.
func TestBoardCatchesUpAfterServerRestart(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	cfg := d.config(t)
	cfg.HTTPAddr = redistest.FreeAddr(t) // the board reconnects to the same address
	first := start(t, cfg)
	postReport(t, first, report{ID: "before", Zone: "aleppo", Category: "shelling"}, time.Minute)
	aleppo := onlyAlert(t, first, "aleppo")

	tab := startBrowser(t)
	b := signInBoard(t, tab, first, dutyOfficer, "")
	b.waitRows(boardWait, "the alert from before the restart", hasRow(aleppo))
	// A page reload would lose this.
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`)); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatalf("shut down truceline: %v", err)
	}
	b.eventually(boardWait, "the board to notice the server is gone", func() bool {
		return !b.live() && evaluate[bool](t, tab, `!document.querySelector('[data-testid=offline-bar]').hidden`)
	})
	if rows := b.rows(); len(rows) != 1 || rows[0].ID != aleppo {
		t.Errorf("while the server is down the board shows %+v, want the last known alert", rows)
	}

	js, err := jetstream.New(d.nats.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "violations.idlib.shelling", reportJSON("while-down", "idlib", "shelling")); err != nil {
		t.Fatalf("publish while truceline is down: %v", err)
	}

	second := start(t, cfg)
	idlib := onlyAlert(t, second, "idlib")
	rows := b.waitRows(20*time.Second, "the board to show the alert stored while the server was down", hasRow(idlib))
	if len(rows) != 2 || !slices.ContainsFunc(rows, func(r boardRow) bool { return r.ID == aleppo }) {
		t.Errorf("after the restart the board shows %+v, want the Aleppo and the Idlib alert", rows)
	}
	b.waitLive()
	eventuallyIn(t, tab, boardWait, "the offline bar to go away", func() bool {
		return evaluate[bool](t, tab, `document.querySelector('[data-testid=offline-bar]').hidden`)
	})
	if !evaluate[bool](t, tab, `window.notReloaded === true`) {
		t.Errorf("the page was reloaded; the board must catch up by itself")
	}
	if got := b.text("[data-testid=open-count]"); got != "2" {
		t.Errorf("open count %q after the restart, want 2", got)
	}
}

// TestZoneFilter filters the board by zone, keeps the filter in the URL, and
// applies it to alerts that arrive later.
func TestZoneFilter(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postReport(t, a, report{ID: "z1", Zone: "aleppo", Category: "shelling"}, time.Minute)
	postReport(t, a, report{ID: "z2", Zone: "aleppo", Category: "small_arms"}, time.Minute)
	postReport(t, a, report{ID: "z3", Zone: "latakia", Category: "airstrike"}, time.Minute)
	latakia := onlyAlert(t, a, "latakia")
	alertingtest.Eventually(t, boardWait, "the two Aleppo alerts", func() bool { return len(alerts(t, a, "aleppo")) == 2 })

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "three rows", func(rows []boardRow) bool { return len(rows) == 3 })

	// Choose Latakia as a person would: the select changes and says so.
	eventuallyIn(t, tab, boardWait, "the zone filter to offer Latakia", func() bool {
		return evaluate[bool](t, tab, `[...document.querySelector('[data-testid=zone-filter]').options].some((o) => o.value === 'latakia' && o.text === 'Latakia')`)
	})
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector('[data-testid=zone-filter]');
		s.value = 'latakia';
		s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`)); err != nil {
		t.Fatal(err)
	}
	onlyLatakia := func(n int) func([]boardRow) bool {
		return func(rows []boardRow) bool {
			for _, r := range rows {
				if r.Zone != "Latakia" {
					return false
				}
			}
			return len(rows) == n
		}
	}
	rows := b.waitRows(boardWait, "only the Latakia row", onlyLatakia(1))
	if rows[0].ID != latakia {
		t.Errorf("the filtered board shows %+v, want alert %s", rows, latakia)
	}
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "zone=latakia") {
		t.Errorf("the URL %s does not keep the filter (zone=latakia)", loc)
	}

	// Alerts that arrive later are filtered too; the counts cover all zones.
	postReport(t, a, report{ID: "z4", Zone: "aleppo", Category: "drone_strike"}, time.Minute)
	postReport(t, a, report{ID: "z5", Zone: "latakia", Category: "ground_assault"}, time.Minute)
	b.eventually(boardWait, "the open count to cover the new alerts in both zones", func() bool {
		return b.text("[data-testid=open-count]") == "5"
	})
	b.waitRows(boardWait, "the two Latakia rows and no Aleppo row", onlyLatakia(2))

	// The URL brings the filter back.
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+a.HTTPAddr()+"/?zone=aleppo")); err != nil {
		t.Fatal(err)
	}
	b.waitRows(boardWait, "only the three Aleppo rows after opening ?zone=aleppo", func(rows []boardRow) bool {
		for _, r := range rows {
			if r.Zone != "Aleppo" {
				return false
			}
		}
		return len(rows) == 3
	})
	if v := evaluate[string](t, tab, `document.querySelector('[data-testid=zone-filter]').value`); v != "aleppo" {
		t.Errorf("opened with ?zone=aleppo, the zone filter shows %q", v)
	}
}

// TestBoardSortsBySeverity shows alerts of every severity, most severe
// first, and saves a full-page screenshot of the board as a test artifact.
func TestBoardSortsBySeverity(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	// Posted least severe first, and the most severe long ago, so that
	// neither arrival nor time gives the severity order.
	postReport(t, a, report{ID: "s1", Zone: "homs-north", Category: "movement_of_forces"}, 2*time.Minute)
	postReport(t, a, report{ID: "s2", Zone: "daraa", Category: "small_arms"}, 3*time.Minute)
	postReport(t, a, report{ID: "s3", Zone: "idlib", Category: "shelling"}, 4*time.Minute)
	postReport(t, a, report{ID: "s4", Zone: "damascus-ghouta", Category: "airstrike", Severity: "extreme"}, 30*time.Minute)
	rows := b.waitRows(boardWait, "four rows", func(rows []boardRow) bool { return len(rows) == 4 })
	var severities []string
	for _, r := range rows {
		severities = append(severities, r.Severity)
	}
	if want := []string{"extreme", "severe", "moderate", "minor"}; !slices.Equal(severities, want) {
		t.Errorf("rows by severity %v, want %v", severities, want)
	}
	if rows[0].Zone != "Eastern Ghouta (Damascus suburbs)" {
		t.Errorf("the first row is in %q, want Eastern Ghouta", rows[0].Zone)
	}

	dir := os.Getenv("TRUCELINE_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, shot, 0, 0)
	path := filepath.Join(dir, "board-severities.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the board: %s", path)
}

// TestBoardReadmeScreenshot writes the board picture of the README,
// docs/board.png: a 1280x720 screenshot of a board with a realistic mix of
// alerts under a joint acknowledgement policy: one alert acknowledged by
// both co-chairs, one by co-chair A only, one disputed, and escalation
// countdowns. It runs only when TRUCELINE_README_SHOT names the file to write:
//
//	TRUCELINE_README_SHOT=$PWD/docs/board.png go test -run TestBoardReadmeScreenshot ./cmd/truceline/app/
func TestBoardReadmeScreenshot(t *testing.T) {
	t.Parallel()
	path := os.Getenv("TRUCELINE_README_SHOT")
	if path == "" {
		t.Skip("set TRUCELINE_README_SHOT to a file path to write the README's board screenshot")
	}
	needChromium(t)
	writeReadmeShot(t, path)
}

func writeReadmeShot(t *testing.T, path string) {
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	reports := []struct {
		r   report
		ago time.Duration
	}{
		{report{ID: "rd-01", Zone: "aleppo", Category: "shelling", ReportedBy: "UN monitoring team north", SourceType: "own_monitor",
			Severity: "extreme", Certainty: "observed", Count: 14, Weapon: "122mm howitzer", AttributedTo: "gov-forces", Target: "civilian",
			Casualties: map[string]int{"killed": 2, "injured": 7}, Description: "Impacts in a residential block east of the citadel.",
			Location: &location{Lat: 36.21, Lon: 37.16, PrecisionM: 300}}, 9 * time.Minute},
		{report{ID: "rd-02", Zone: "aleppo", Category: "shelling", ReportedBy: "party-b liaison", SourceType: "party_allegation",
			Certainty: "likely", Count: 6, Weapon: "120mm mortar", AttributedTo: "gov-forces",
			Location: &location{Lat: 36.25, Lon: 37.1, PrecisionM: 300}}, 3 * time.Minute},
		{report{ID: "rd-03", Zone: "damascus-ghouta", Category: "airstrike", ReportedBy: "NGO field office", SourceType: "ngo",
			Certainty: "likely", Weapon: "fixed-wing aircraft", Target: "infrastructure", Description: "Strike near a water pumping station.",
			Location: &location{Lat: 33.55, Lon: 36.45, PrecisionM: 300}}, 22 * time.Minute},
		{report{ID: "rd-04", Zone: "idlib", Category: "drone_strike", ReportedBy: "OP Sierra-3", SourceType: "own_monitor",
			Certainty: "observed", Weapon: "loitering munition", Target: "northern-front",
			Location: &location{Lat: 35.93, Lon: 36.63, PrecisionM: 300}}, 6 * time.Minute},
		{report{ID: "rd-05", Zone: "idlib", Category: "small_arms", ReportedBy: "OP Sierra-3", SourceType: "own_monitor",
			Certainty: "observed", Weapon: "heavy machine gun", AttributedTo: "northern-front",
			Location: &location{Lat: 35.75, Lon: 36.55, PrecisionM: 300}}, 14 * time.Minute},
		{report{ID: "rd-06", Zone: "idlib", Category: "small_arms", ReportedBy: "UN monitoring team north", SourceType: "own_monitor",
			Certainty: "observed", Weapon: "small arms",
			Location: &location{Lat: 35.7, Lon: 36.45, PrecisionM: 300}}, 11 * time.Minute},
		{report{ID: "rd-07", Zone: "daraa", Category: "explosion", ReportedBy: "UN monitoring team south", SourceType: "own_monitor",
			Certainty: "possible", Weapon: "IED", Casualties: map[string]int{"killed": 0, "injured": 3},
			Location: &location{Lat: 32.62, Lon: 36.1, PrecisionM: 300}}, 37 * time.Minute},
		{report{ID: "rd-08", Zone: "daraa", Category: "small_arms", ReportedBy: "party-a liaison", SourceType: "party_allegation",
			Certainty: "possible", Weapon: "sniper rifle", AttributedTo: "southern-front",
			Location: &location{Lat: 32.75, Lon: 36.2, PrecisionM: 300}}, 52 * time.Minute},
		{report{ID: "rd-09", Zone: "latakia", Category: "heavy_weapons_in_restricted_area", ReportedBy: "UN monitoring team north",
			SourceType: "sensor", Certainty: "observed", Weapon: "T-72 tanks", AttributedTo: "coastal-brigades",
			Location: &location{Lat: 35.55, Lon: 35.95, PrecisionM: 300}}, 71 * time.Minute},
		{report{ID: "rd-10", Zone: "daraa", Category: "movement_of_forces", ReportedBy: "local media", SourceType: "media",
			Certainty: "unknown", Weapon: "armoured vehicles",
			Location: &location{Lat: 32.85, Lon: 36.3, PrecisionM: 300}}, 18 * time.Minute},
		{report{ID: "rd-11", Zone: "homs-north", Category: "access_denial", ReportedBy: "NGO field office", SourceType: "ngo",
			Certainty: "observed", Target: "humanitarian", Description: "Aid convoy turned back at a checkpoint.",
			Location: &location{Lat: 34.95, Lon: 36.75, PrecisionM: 300}}, 95 * time.Minute},
		{report{ID: "rd-12", Zone: "latakia", Category: "ground_assault", ReportedBy: "UN monitoring team north", SourceType: "own_monitor",
			Certainty: "likely", Weapon: "infantry with armour support", AttributedTo: "gov-forces", Target: "coastal-brigades",
			Location: &location{Lat: 35.72, Lon: 36.02, PrecisionM: 300}}, 2 * time.Minute},
	}
	for _, r := range reports {
		postReport(t, a, r.r, r.ago)
	}
	const wantAlerts = 10 // rd-02 joins rd-01, rd-06 joins rd-05
	var daraaSmallArms, aleppoShelling, idlibDrone string
	alertingtest.Eventually(t, boardWait, "every report in an alert", func() bool {
		n, reps := 0, 0
		for _, z := range []string{"aleppo", "damascus-ghouta", "idlib", "daraa", "latakia", "homs-north"} {
			for _, al := range alerts(t, a, z) {
				n++
				reps += al.ReportCount
				switch {
				case z == "daraa" && al.Category == "small_arms":
					daraaSmallArms = al.ID
				case z == "aleppo" && al.Category == "shelling":
					aleppoShelling = al.ID
				case z == "idlib" && al.Category == "drone_strike":
					idlibDrone = al.ID
				}
			}
		}
		return n == wantAlerts && reps == len(reports)
	})
	// The co-chairs act through the API, each as their own duty officer.
	boardUser(t, a, coChairA)
	boardUser(t, a, coChairB)
	partyA, partyB := userToken(t, a, coChairA), userToken(t, a, coChairB)
	for _, act := range []struct{ token, alert, action, body string }{
		{partyA, daraaSmallArms, "ack", `{}`},
		{partyB, daraaSmallArms, "ack", `{"note":"Liaison south informed"}`},
		{partyA, aleppoShelling, "ack", `{"note":"Team north dispatched"}`},
		{partyA, aleppoShelling, "verify", `{"status":"confirmed","note":"Own monitors saw the impacts"}`},
		{partyB, idlibDrone, "verify", `{"status":"disputed","note":"No aircraft of ours was airborne"}`},
	} {
		if status, body := postAs(t, a, act.token, "/api/v1/alerts/"+act.alert+"/"+act.action, []byte(act.body)); status != 200 {
			t.Fatalf("%s %s: %d %v", act.action, act.alert, status, body)
		}
	}

	tab := startBrowser(t)
	// The window is 1280x720, but headless Chromium keeps some of it for
	// its (invisible) window frame: make the page itself 1280x720.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}
	// The header shows the duty officer on watch.
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "every alert on the board", func(rows []boardRow) bool {
		r, _ := rowByID(rows, daraaSmallArms)
		return len(rows) == wantAlerts && r.State == "acknowledged"
	})
	// Every alert's latest report was observed somewhere: a marker each,
	// or a place in a cluster of markers too close to tell apart.
	eventuallyIn(t, tab, boardWait, "a map marker for every alert", func() bool {
		return evaluate[int](t, tab, `document.querySelectorAll('[data-testid=map] [data-testid=map-marker]').length +
			[...document.querySelectorAll('[data-testid=map] [data-testid=map-cluster-count]')].reduce((n, c) => n + Number(c.textContent), 0)`) == wantAlerts
	})
	b.eventually(boardWait, "co-chair A's chip on the Aleppo shelling, party names and countdowns", func() bool {
		return b.ackChips(aleppoShelling) == "party-a=true party-b=false" &&
			strings.Contains(b.text(fmt.Sprintf(`[data-alert-id=%q] [data-testid=ack-chip]`, aleppoShelling)), "Co-chair A") &&
			strings.HasPrefix(b.text(fmt.Sprintf(`[data-alert-id=%q] [data-testid=countdown]`, aleppoShelling)), "next step in 9:")
	})
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, shot, 1280, 720)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("README screenshot: %s", path)
}

// postLocated posts a report observed a minute ago, with a severity when
// severity is not "" and a location when lat and lon are not 0.
func postLocated(t *testing.T, a *app.App, id, zone, category, severity string, lat, lon float64) {
	t.Helper()
	extra := ""
	if severity != "" {
		extra += fmt.Sprintf(`,"severity":%q`, severity)
	}
	if lat != 0 || lon != 0 {
		extra += fmt.Sprintf(`,"location":{"lat":%g,"lon":%g,"precision_m":250}`, lat, lon)
	}
	body := fmt.Appendf(nil, `{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":"test monitor"%s}`,
		id, zone, category, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), extra)
	if status, resp := post(t, a, "/api/v1/reports", body); status != http.StatusAccepted {
		t.Fatalf("POST report %s: %d %v", id, status, resp)
	}
}

// mapZone is what the map shows of one zone.
type mapZone struct {
	Zone     string `json:"zone"`
	Severity string `json:"severity"`
	Pressed  string `json:"pressed"`
}

func (b *board) mapZones() map[string]mapZone {
	b.t.Helper()
	zones := evaluate[[]mapZone](b.t, b.ctx, `Array.from(document.querySelectorAll('[data-testid=map] [data-testid=map-zone]'), (p) => ({
		zone: p.dataset.zone || '', severity: p.dataset.severity || '', pressed: p.getAttribute('aria-pressed') || '',
	}))`)
	m := make(map[string]mapZone, len(zones))
	for _, z := range zones {
		m[z.Zone] = z
	}
	return m
}

// filterValues says what the zone, state, severity and verification filters
// show: "latakia|active|extreme|unverified".
func (b *board) filterValues() string {
	b.t.Helper()
	return evaluate[string](b.t, b.ctx, `['zone', 'state', 'severity', 'verification']
		.map((f) => document.querySelector('[data-testid=' + f + '-filter]').value).join('|')`)
}

func (b *board) setFilter(name, value string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const s = document.querySelector('[data-testid=%s-filter]');
		s.value = %q;
		s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`, name, value))); err != nil {
		b.t.Fatal(err)
	}
}

// TestMapAndFilters checks the zone map (a shape per zone, shaded by its
// most severe alert, with markers where reports were observed), the zone
// counters, choosing a zone on the map, the severity and verification
// filters, and that the filters live in the URL and survive a reload.
func TestMapAndFilters(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postLocated(t, a, "map-1", "aleppo", "airstrike", "extreme", 36.2, 37.15)
	postLocated(t, a, "map-2", "latakia", "airstrike", "extreme", 35.42, 35.9)
	postLocated(t, a, "map-3", "latakia", "small_arms", "", 0, 0)
	postLocated(t, a, "map-4", "idlib", "shelling", "", 35.8, 36.5)
	aleppo := onlyAlert(t, a, "aleppo")
	alertingtest.Eventually(t, boardWait, "the two Latakia alerts", func() bool { return len(alerts(t, a, "latakia")) == 2 })
	var latakiaExtreme string
	for _, al := range alerts(t, a, "latakia") {
		if al.Severity == "extreme" {
			latakiaExtreme = al.ID
		}
	}

	var zones struct {
		Zones []struct {
			ID string `json:"id"`
		} `json:"zones"`
	}
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/api/v1/zones")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&zones)
	resp.Body.Close()
	if err != nil || len(zones.Zones) == 0 {
		t.Fatalf("GET /api/v1/zones: %v %+v", err, zones)
	}

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "four rows", func(rows []boardRow) bool { return len(rows) == 4 })

	// A shape per zone, shaded by the most severe active alert in it.
	var shown map[string]mapZone
	ok := false
	defer func() {
		if !ok {
			t.Logf("the map showed %+v", shown)
		}
	}()
	b.eventually(boardWait, "the map to shade Aleppo and Latakia extreme and Idlib severe", func() bool {
		shown = b.mapZones()
		return shown["aleppo"].Severity == "extreme" && shown["latakia"].Severity == "extreme" && shown["idlib"].Severity == "severe"
	})
	ok = true
	if len(shown) != len(zones.Zones) {
		t.Errorf("the map has %d zones, want the %d of /api/v1/zones", len(shown), len(zones.Zones))
	}
	for _, z := range zones.Zones {
		if _, ok := shown[z.ID]; !ok {
			t.Errorf("the map has no shape for zone %s", z.ID)
		}
	}
	if s := shown["daraa"].Severity; s != "none" {
		t.Errorf("Daraa, without alerts, is shaded %q", s)
	}

	// Markers where the newest report of an alert was observed.
	marker := func(id string) string {
		return fmt.Sprintf(`[data-testid=map] [data-testid=map-marker][data-alert-id=%q]`, id)
	}
	eventuallyIn(t, tab, boardWait, "markers for the located reports in Aleppo and Latakia", func() bool {
		return evaluate[bool](t, tab, fmt.Sprintf(`!!document.querySelector(%q) && !!document.querySelector(%q)`, marker(aleppo), marker(latakiaExtreme)))
	})
	if got := evaluate[string](t, tab, fmt.Sprintf(`document.querySelector(%q).dataset.reportId`, marker(aleppo))); sentID(got) != "map-1" {
		t.Errorf("the Aleppo marker is of report %q, want map-1", got)
	}
	// Each report is fetched once at most.
	fetched := evaluate[[]string](t, tab, `performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.includes('/api/v1/reports/'))`)
	seen := map[string]bool{}
	for _, u := range fetched {
		if seen[u] {
			t.Errorf("the board fetched %s more than once: %v", u, fetched)
		}
		seen[u] = true
	}

	// The zone counters.
	counter := func(zone string) string {
		return evaluate[string](t, tab, fmt.Sprintf(`(() => {
			const r = document.querySelector('[data-testid=zone-counter][data-zone=%q]');
			return r ? r.dataset.open + ' open, ' + r.dataset.acknowledged + ' acknowledged, ' + r.dataset.severity : '';
		})()`, zone))
	}
	eventuallyIn(t, tab, boardWait, "the Latakia counter", func() bool { return counter("latakia") == "2 open, 0 acknowledged, extreme" })
	if got := counter("daraa"); got != "0 open, 0 acknowledged, none" {
		t.Errorf("the Daraa counter says %q", got)
	}

	// Choose Latakia on the map.
	b.click(`[data-testid=map] [data-testid=map-zone][data-zone=latakia]`)
	onlyLatakia := func(rows []boardRow) bool {
		for _, r := range rows {
			if r.Zone != "Latakia" {
				return false
			}
		}
		return len(rows) == 2
	}
	b.waitRows(boardWait, "only the two Latakia rows", onlyLatakia)
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(loc, "zone=latakia") {
		t.Errorf("the URL %s does not keep the zone chosen on the map", loc)
	}
	if got := b.filterValues(); got != "latakia|active||" {
		t.Errorf("after choosing Latakia on the map the filters show %q", got)
	}
	if z := b.mapZones()["latakia"]; z.Pressed != "true" {
		t.Errorf("the map does not mark Latakia as chosen: %+v", z)
	}

	// Only extreme alerts, only unverified ones.
	b.setFilter("severity", "extreme")
	onlyExtreme := func(rows []boardRow) bool {
		return len(rows) == 1 && rows[0].ID == latakiaExtreme && rows[0].Severity == "extreme"
	}
	b.waitRows(boardWait, "only the extreme Latakia row", onlyExtreme)
	b.setFilter("verification", "unverified")
	b.waitRows(boardWait, "the unverified extreme Latakia row", onlyExtreme)
	b.setFilter("verification", "disputed")
	b.waitRows(boardWait, "no row: nothing is disputed", func(rows []boardRow) bool { return len(rows) == 0 })
	if got := b.text("[data-testid=empty]"); !strings.Contains(got, "Latakia") {
		t.Errorf("the empty board says %q, want it to name the filters", got)
	}
	b.setFilter("verification", "unverified")
	b.waitRows(boardWait, "the unverified extreme Latakia row again", onlyExtreme)
	loc, err = chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"zone=latakia", "severity=extreme", "verification=unverified"} {
		if !strings.Contains(loc, want) {
			t.Errorf("the URL %s does not keep the filters (%s)", loc, want)
		}
	}

	// A reload keeps the view.
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	b.waitLive()
	b.waitRows(boardWait, "only the extreme Latakia row after a reload", onlyExtreme)
	if got := b.filterValues(); got != "latakia|active|extreme|unverified" {
		t.Errorf("after a reload the filters show %q", got)
	}
	b.eventually(boardWait, "the map to mark Latakia after the reload", func() bool {
		return b.mapZones()["latakia"].Pressed == "true"
	})
	// The counters count every zone whatever the filters.
	eventuallyIn(t, tab, boardWait, "the Aleppo counter after the reload", func() bool { return counter("aleppo") == "1 open, 0 acknowledged, extreme" })

	// Choosing Latakia again shows every zone.
	b.click(`[data-testid=map] [data-testid=map-zone][data-zone=latakia]`)
	b.waitRows(boardWait, "the extreme rows of every zone", func(rows []boardRow) bool {
		return len(rows) == 2 && rows[0].Severity == "extreme" && rows[1].Severity == "extreme"
	})
	saveArtifact(t, tab, "board-map-1280.png")

	// On a phone the map folds away above the list; unfolded, it is there.
	if os.Getenv("TRUCELINE_ARTIFACTS") != "" {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
			t.Fatal(err)
		}
		saveArtifact(t, tab, "board-390.png")
		b.click(`#side-toggle`)
		b.click(`#filters-toggle`)
		saveArtifact(t, tab, "board-map-390.png")
	}
}

// TestBoardTitleSoundAndHelp checks the marker in the tab title while an
// extreme alert is unacknowledged, the sound toggle (off by default, kept
// across reloads), and the keyboard: "?" shows the shortcuts, "/" goes to
// the zone filter.
func TestBoardTitleSoundAndHelp(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postLocated(t, a, "title-1", "daraa", "airstrike", "extreme", 0, 0)
	id := onlyAlert(t, a, "daraa")

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the extreme alert", hasRow(id))
	title := func() string {
		v, err := chromedp.Run(tab, chromedp.Title())
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	eventuallyIn(t, tab, boardWait, `the title "⚠ (1) truceline"`, func() bool { return title() == "⚠ (1) truceline" })
	b.click(fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] [data-testid=ack]`, id))
	eventuallyIn(t, tab, boardWait, `the title "(0) truceline" once acknowledged`, func() bool { return title() == "(0) truceline" })

	pressed := func() string {
		return evaluate[string](t, tab, `document.querySelector('[data-testid=sound-toggle]').getAttribute('aria-pressed')`)
	}
	if p := pressed(); p != "false" {
		t.Fatalf("the sound is %q by default, want off (false)", p)
	}
	b.click(`[data-testid=sound-toggle]`)
	if p := pressed(); p != "true" {
		t.Fatalf("after a click the sound toggle says %q", p)
	}
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	b.waitLive()
	if p := pressed(); p != "true" {
		t.Errorf("after a reload the sound toggle says %q, want it remembered", p)
	}

	helpShown := func() bool {
		return evaluate[bool](t, tab, `(() => {
			const h = document.querySelector('[data-testid=help]');
			return !!h && h.offsetParent !== null && h.textContent.includes('Acknowledge');
		})()`)
	}
	if err := chromedp.Do(tab, chromedp.KeyEvent("?")); err != nil {
		t.Fatal(err)
	}
	eventuallyIn(t, tab, boardWait, `"?" to show the shortcuts`, helpShown)
	saveArtifact(t, tab, "board-help.png")
	if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	eventuallyIn(t, tab, boardWait, "Esc to hide the shortcuts", func() bool { return !helpShown() })
	if err := chromedp.Do(tab, chromedp.KeyEvent("/")); err != nil {
		t.Fatal(err)
	}
	eventuallyIn(t, tab, boardWait, `"/" to focus the zone filter`, func() bool {
		return evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`) == "zone-filter"
	})
}
