package app_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/web/auth"
)

// The sign-in tests: who may see the board, and what the board offers them.

// showsNoBoard fails the test unless the page shows no board and nothing of
// the alerts: neither rows nor the title of the alert titled title.
func (b *board) showsNoBoard(when, title string) {
	b.t.Helper()
	if b.shown("#board-app") {
		b.t.Errorf("%s the board shows", when)
	}
	if n := evaluate[int](b.t, b.ctx, `document.querySelectorAll('[data-testid=alert]').length`); n != 0 {
		b.t.Errorf("%s the page holds %d alert rows", when, n)
	}
	if title != "" && evaluate[bool](b.t, b.ctx, fmt.Sprintf(`document.body.textContent.includes(%q)`, title)) {
		b.t.Errorf("%s the page still says %q", when, title)
	}
	if name := b.text("[data-testid=whoami-name]"); name != "" {
		b.t.Errorf("%s the header names %q", when, name)
	}
}

// whoami is what the header says of the signed-in user: "name|role|party".
func (b *board) whoami() string {
	b.t.Helper()
	return evaluate[string](b.t, b.ctx, `['name', 'role', 'party'].map((f) => {
		const e = document.querySelector('[data-testid=whoami-' + f + ']');
		return e && e.getClientRects().length ? e.textContent : '';
	}).join('|')`)
}

// sessionCookie returns the board's session cookie in tab, or nil.
func sessionCookie(t *testing.T, tab context.Context, a *app.App) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{"http://" + a.HTTPAddr() + "/"}})
	if err != nil {
		t.Fatalf("read the cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == auth.CookieName {
			return c
		}
	}
	return nil
}

// TestBoardLoginWrongPassword signs in with a wrong password: the form says
// so and no board shows. Tried again and again, the server refuses: too many
// attempts, and then the right password does not help either.
func TestBoardLoginWrongPassword(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	cfg := d.config(t)
	cfg.RateLogins = 1 // one attempt a minute (after a burst): no token comes back during the test
	a := start(t, cfg)
	postReport(t, a, report{ID: "wrong-1", Zone: "aleppo", Category: "shelling"}, time.Minute)
	onlyAlert(t, a, "aleppo")
	boardUser(t, a, dutyOfficer)

	b := loadPage(t, startBrowser(t), a, "")
	b.signIn(dutyOfficer.Name, "wrong horse battery")
	b.eventually(boardWait, "the form to say the password is wrong", func() bool {
		return b.text("[data-testid=signin-error]") == "Wrong user name or password."
	})
	if role := evaluate[string](t, b.ctx, `document.querySelector('[data-testid=signin-error]').getAttribute('role')`); role != "alert" {
		t.Errorf("the error has role %q, want alert (announced at once)", role)
	}
	if !b.shown("[data-testid=signin-form]") {
		t.Errorf("the sign-in form is gone after a wrong password")
	}
	b.showsNoBoard("after a wrong password", "Shelling in Aleppo")
	// The password is cleared for the next try, and has the focus.
	if got := evaluate[string](t, b.ctx, `document.activeElement?.dataset.testid + '=' + document.activeElement?.value`); got != "signin-password=" {
		t.Errorf("after a wrong password the focus is on %q, want the emptied password field", got)
	}

	// Wrong again and again, until the server has had enough.
	var said string
	for i := 0; !strings.HasPrefix(said, "Too many sign-in attempts"); i++ {
		if i == 20 {
			t.Fatalf("after 20 wrong passwords the form says %q, want too many attempts", said)
		}
		b.signIn(dutyOfficer.Name, "wrong horse battery")
		b.eventually(boardWait, "the answer to the sign-in", func() bool {
			said = evaluate[string](t, b.ctx, `(() => {
				const button = document.querySelector('[data-testid=signin-submit]');
				return button.disabled ? '' : document.querySelector('[data-testid=signin-error]').textContent;
			})()`)
			return said != ""
		})
	}
	b.signIn(dutyOfficer.Name, testPassword)
	b.eventually(boardWait, "the right password to be refused too", func() bool {
		return strings.HasPrefix(b.text("[data-testid=signin-error]"), "Too many sign-in attempts")
	})
	b.showsNoBoard("after too many attempts", "Shelling in Aleppo")
}

// TestBoardLoginLiaison signs in as party-a's liaison for Aleppo while there
// are alerts in Aleppo and Idlib: the board shows only Aleppo's (also those
// that arrive later), its zone filter and map offer only Aleppo, the header
// names the liaison, their role and party, and their acknowledgement is
// party-a's without the board choosing a party.
func TestBoardLoginLiaison(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	post(t, a, "/api/v1/reports", reportJSON("liaison-1", "aleppo", "shelling"))
	post(t, a, "/api/v1/reports", reportJSON("liaison-2", "idlib", "shelling"))
	aleppo, idlib := onlyAlert(t, a, "aleppo"), onlyAlert(t, a, "idlib")
	liaison := alerting.User{Name: "liaison-a", FullName: "Nadia Haddad", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}}

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, liaison, "")
	rows := b.waitRows(boardWait, "the Aleppo alert", hasRow(aleppo))
	if len(rows) != 1 || rows[0].Zone != "Aleppo" {
		t.Errorf("the liaison for Aleppo sees %+v, want only the Aleppo alert", rows)
	}
	b.eventually(boardWait, "the header to name the liaison, the role and the party", func() bool {
		return b.whoami() == "Nadia Haddad|Liaison|Co-chair A"
	})

	// Later alerts too: Idlib's never reach the board.
	post(t, a, "/api/v1/reports", reportJSON("liaison-3", "idlib", "small_arms"))
	post(t, a, "/api/v1/reports", reportJSON("liaison-4", "aleppo", "small_arms"))
	alertingtest.Eventually(t, boardWait, "the second Aleppo alert", func() bool { return len(alerts(t, a, "aleppo")) == 2 })
	rows = b.waitRows(boardWait, "both Aleppo alerts", func(rows []boardRow) bool { return len(rows) == 2 })
	for _, r := range rows {
		if r.Zone != "Aleppo" || r.ID == idlib {
			t.Errorf("the liaison for Aleppo sees %+v", r)
		}
	}
	if got := b.text("[data-testid=open-count]"); got != "2" {
		t.Errorf("the open count says %q, want the 2 Aleppo alerts only", got)
	}

	// The zone filter, the map and the zone table offer Aleppo alone.
	eventuallyIn(t, tab, boardWait, "the zone filter to offer Aleppo alone", func() bool {
		return evaluate[string](t, tab, `[...document.querySelector('[data-testid=zone-filter]').options].map((o) => o.value + ':' + o.text).join('|')`) ==
			":All zones|aleppo:Aleppo"
	})
	if zones := b.mapZones(); len(zones) != 1 || zones["aleppo"].Zone != "aleppo" {
		t.Errorf("the map draws %+v, want Aleppo alone", zones)
	}
	if got := evaluate[[]string](t, tab, `[...document.querySelectorAll('[data-testid=zone-counter]')].map((r) => r.dataset.zone)`); !slices.Equal(got, []string{"aleppo"}) {
		t.Errorf("the zone table lists %v, want Aleppo alone", got)
	}

	// Acknowledging is for party-a, without the board naming a party.
	b.click(fmt.Sprintf(`[data-testid=alert][data-alert-id=%q] [data-testid=ack]`, aleppo))
	b.waitRows(boardWait, "the acknowledgement", func(rows []boardRow) bool { r, _ := rowByID(rows, aleppo); return r.State == "acknowledged" })
	status, body := get(t, a, "/api/v1/alerts/"+aleppo)
	acks, _ := body["acks"].([]any)
	if status != 200 || len(acks) != 1 {
		t.Fatalf("after the click the API has %d %v", status, body)
	}
	if got := fmt.Sprint(acks[0]); !strings.Contains(got, "party:party-a") || !strings.Contains(got, "by:Nadia Haddad") {
		t.Errorf("the acknowledgement is %s, want the liaison's for party-a", got)
	}
	b.eventually(boardWait, "the row to say who acknowledged", func() bool {
		return strings.Contains(b.text(fmt.Sprintf(`[data-alert-id=%q] .ack-chips`, aleppo)), "Co-chair A (Nadia Haddad)")
	})
}

// TestBoardLoginViewer signs in as a viewer: every alert shows, and no
// action: no buttons in the rows, none in the detail panel (which says
// why), and "a" acknowledges nothing.
func TestBoardLoginViewer(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	post(t, a, "/api/v1/reports", reportJSON("viewer-1", "aleppo", "shelling"))
	post(t, a, "/api/v1/reports", reportJSON("viewer-2", "idlib", "shelling"))
	aleppo, idlib := onlyAlert(t, a, "aleppo"), onlyAlert(t, a, "idlib")
	viewer := alerting.User{Name: "observer", FullName: "Ines Lund", Role: alerting.RoleViewer}

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, viewer, "")
	b.waitRows(boardWait, "both alerts", func(rows []boardRow) bool { return hasRow(aleppo)(rows) && hasRow(idlib)(rows) })
	if got := b.whoami(); got != "Ines Lund|Viewer|" {
		t.Errorf("the header says %q, want the viewer without a party", got)
	}
	visibleButtons := func(scope string) int {
		return evaluate[int](t, tab, fmt.Sprintf(`[...document.querySelectorAll(%q)].filter((e) => e.getClientRects().length > 0).length`, scope))
	}
	if n := visibleButtons("[data-testid=alert] button"); n != 0 {
		t.Errorf("the rows offer a viewer %d buttons", n)
	}

	b.openDetail(aleppo)
	// Controls that act on the alert, that is: the reports' filter and
	// paging only read.
	if n := visibleButtons("[data-testid=detail] .detail-body :is(button, input, select):not(.detail-reports *)"); n != 0 {
		t.Errorf("the detail panel offers a viewer %d controls", n)
	}
	if note := b.text("[data-testid=detail] [data-testid=read-only-note]"); !strings.Contains(note, "viewer") || !b.shown("[data-testid=detail] [data-testid=read-only-note]") {
		t.Errorf("the detail panel says %q to a viewer, want why there are no actions", note)
	}

	// "a" on the selected alert says why not, and sends nothing.
	if err := chromedp.Do(tab, chromedp.KeyEvent("a")); err != nil {
		t.Fatal(err)
	}
	b.eventually(boardWait, "a notice that a viewer does not act", func() bool {
		return strings.Contains(b.text("[data-testid=toast]"), "viewer")
	})
	if _, body := get(t, a, "/api/v1/alerts/"+aleppo); body["state"] != "open" || fmt.Sprint(body["acks"]) != "[]" {
		t.Errorf("after a viewer pressed a, the alert is %v", body)
	}
}

// TestBoardLoginReporter signs in as a reporter: there is no board for them,
// only a word on how reporters submit reports, and the way out.
func TestBoardLoginReporter(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postReport(t, a, report{ID: "reporter-1", Zone: "aleppo", Category: "shelling"}, time.Minute)
	onlyAlert(t, a, "aleppo")
	reporter := alerting.User{Name: "monitor-north", FullName: "UN team north", Role: alerting.RoleReporter, Zones: []string{"aleppo"}}
	boardUser(t, a, reporter)

	b := loadPage(t, startBrowser(t), a, "")
	b.signIn(reporter.Name, testPassword)
	b.eventually(boardWait, "the word for reporters", func() bool { return b.shown("[data-testid=no-board]") })
	if got := b.text("[data-testid=no-board-text]"); !strings.Contains(got, "Reporters submit reports through the API") {
		t.Errorf("a reporter reads %q", got)
	}
	if got := b.text("[data-testid=no-board-who]"); !strings.Contains(got, "UN team north") || !strings.Contains(got, "Reporter") {
		t.Errorf("the page says %q of the reporter", got)
	}
	b.showsNoBoard("for a reporter", "Shelling in Aleppo")

	b.click("[data-testid=no-board-sign-out]")
	b.waitSignInForm()
	if c := sessionCookie(t, b.ctx, a); c != nil {
		t.Errorf("signed out, the browser keeps the session cookie %+v", c)
	}
}

// TestBoardLoginSignOut checks the session cookie (HttpOnly, SameSite
// Strict, out of reach of scripts, and the CSRF token in no storage), signs
// out (the form is back, nothing of the board stays, and a reload stays
// signed out), then signs in again and ends the session under the board:
// its next request brings the form back.
//
// With TRUCELINE_SCREENSHOTS=1 it writes docs/board-signin.png: the header
// of the signed-in board over the sign-in form.
func TestBoardLoginSignOut(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postReport(t, a, report{ID: "out-1", Zone: "daraa", Category: "explosion"}, time.Minute)
	id := onlyAlert(t, a, "daraa")

	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, coChairA, "")
	b.waitRows(boardWait, "the alert", hasRow(id))
	b.eventually(boardWait, "the header to name the duty officer and the party", func() bool {
		return b.whoami() == "Jonas Meyer|Duty officer|Co-chair A"
	})

	// The cookie is the server's alone; the CSRF token lives in memory.
	c := sessionCookie(t, tab, a)
	if c == nil {
		t.Fatal("signed in, the browser has no session cookie")
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" {
		t.Errorf("the session cookie is HttpOnly %v, SameSite %q, path %q; want HttpOnly, Strict, /", c.HTTPOnly, c.SameSite, c.Path)
	}
	if evaluate[bool](t, tab, fmt.Sprintf(`document.cookie.includes(%q)`, auth.CookieName)) {
		t.Errorf("scripts can read the session cookie")
	}
	stored, err := chromedp.Run(tab, chromedp.Evaluate[bool](`fetch('/api/v1/session').then((r) => r.json()).then((s) => {
		const all = [localStorage, sessionStorage].flatMap((st) => Object.keys(st).map((k) => k + '=' + st.getItem(k)));
		return !!s.csrf && all.some((e) => e.includes(s.csrf) || /csrf/i.test(e));
	})`, chromedp.EvalAwaitPromise))
	if err != nil || stored {
		t.Errorf("the CSRF token is in the browser's storage (%v)", err)
	}

	var header []byte
	if os.Getenv("TRUCELINE_SCREENSHOTS") == "1" {
		if header, err = chromedp.Run(tab, chromedp.Screenshot(chromedp.CSS(`.topbar`))); err != nil {
			t.Fatalf("screenshot of the header: %v", err)
		}
	}

	// Sign out: the form, and nothing of the board.
	b.click("[data-testid=sign-out]")
	b.waitSignInForm()
	if got := b.text("[data-testid=signin-note]"); got != "You signed out." {
		t.Errorf("after signing out the form says %q", got)
	}
	b.showsNoBoard("signed out", "Explosion in Daraa")
	if c := sessionCookie(t, tab, a); c != nil {
		t.Errorf("signed out, the browser keeps the session cookie")
	}
	if header != nil {
		saveSignInShot(t, tab, header)
	}

	// A reload stays signed out.
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	b.waitSignInForm()
	b.showsNoBoard("signed out, after a reload", "Explosion in Daraa")
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "signin-user" {
		t.Errorf("the sign-in form opens with the focus on %q, want the user name", got)
	}

	// Signed in again, the session ends under the board (an admin disables
	// the user): the server closes the board's connection (4401), which
	// brings the form back by itself, the board gone.
	b.signIn(coChairA.Name, testPassword)
	b.waitBoard()
	b.waitRows(boardWait, "the alert again", hasRow(id))
	disableUser(t, a, coChairA)
	b.eventually(boardWait, "the form to say the session ended", func() bool {
		return b.shown("[data-testid=signin-form]") && b.text("[data-testid=signin-error]") == "Your session ended. Sign in again."
	})
	b.showsNoBoard("when the session ended", "Explosion in Daraa")
	if got := evaluate[string](t, tab, `document.querySelector('[data-testid=signin-user]').value`); got != coChairA.Name {
		t.Errorf("the form offers user name %q, want %q's again", got, coChairA.Name)
	}
}

// disableUser disables u through the API, as an admin would.
func disableUser(t *testing.T, a *app.App, u alerting.User) {
	t.Helper()
	u.Disabled = true
	body := fmt.Sprintf(`{"name":%q,"full_name":%q,"role":%q,"party":%q,"disabled":true}`, u.Name, u.FullName, u.Role, u.Party)
	req, err := http.NewRequest(http.MethodPut, "http://"+a.HTTPAddr()+"/api/v1/users/"+u.Name, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("disable %s: %d %v", u.Name, resp.StatusCode, decode(t, resp.Body))
	}
}

// saveSignInShot writes docs/board-signin.png: the signed-in board's header
// (a PNG), then, below a band, what tab shows: the sign-in form.
func saveSignInShot(t *testing.T, tab context.Context, header []byte) {
	t.Helper()
	form, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, form, 1280, 720)
	top, err := png.Decode(bytes.NewReader(header))
	if err != nil {
		t.Fatalf("the header screenshot: %v", err)
	}
	bottom, err := png.Decode(bytes.NewReader(form))
	if err != nil {
		t.Fatalf("the sign-in screenshot: %v", err)
	}
	// The header, a band that says these are two pictures, and the form
	// less some of the empty space below it.
	const band = 12
	formH := bottom.Bounds().Dy() * 3 / 4
	w := max(top.Bounds().Dx(), bottom.Bounds().Dx())
	out := image.NewRGBA(image.Rect(0, 0, w, top.Bounds().Dy()+band+formH))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{0x34, 0x45, 0x5a, 0xff}), image.Point{}, draw.Src)
	draw.Draw(out, top.Bounds().Sub(top.Bounds().Min), top, top.Bounds().Min, draw.Src)
	draw.Draw(out, image.Rect(0, top.Bounds().Dy()+band, w, out.Bounds().Dy()), bottom, bottom.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "..", "docs", "board-signin.png")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
