package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/configs"
)

// longZone is a zone whose name is as long as real ones get.
const (
	longZone     = "tartus-hills"
	longZoneName = "Tartus countryside and the coastal mountain villages south of Baniyas"
)

// Duty officers seconded by the co-chairs, with names as long as real ones.
var (
	longChairA = alerting.User{Name: "desk-a", FullName: "Lt. Col. Katarina Johansson-Meyer", Role: alerting.RoleDutyOfficer, Party: "party-a"}
	longChairB = alerting.User{Name: "desk-b", FullName: "Cmdr. Oleksandr Petrenko-Vasylenko", Role: alerting.RoleDutyOfficer, Party: "party-b"}
)

// layoutJS lists every place where the board's text does not fit: in the
// header, the rows and the detail panel, an element whose content is wider
// or taller than its box (cut off, or spilling over its neighbours), a word
// broken over lines, a short label (a name, a chip: 20 characters at most)
// wrapped onto several lines for want of room, anything outside its row or
// outside the panel, a page that scrolls sideways, and a row's button
// outside the viewport or its row, or (when cover is true) under something
// else. Each problem names the element (tag, classes, test id, row) and its
// text.
const layoutJS = `((cover) => {
	const problems = [];
	const vw = document.documentElement.clientWidth;
	const vh = document.documentElement.clientHeight;
	const name = (e) => {
		let s = e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + [...e.classList].map((c) => '.' + c).join('');
		if (e.dataset && e.dataset.testid) s += '[data-testid=' + e.dataset.testid + ']';
		const row = e.closest('[data-testid=alert]');
		if (row && row !== e) s = 'row ' + row.dataset.alertId + ' ' + s;
		return s;
	};
	const text = (e) => JSON.stringify((e.innerText || e.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 70));
	const px = (n) => Math.round(n) + 'px';
	const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
	// Not text boxes: drawings, form fields, and text for screen readers
	// only (clipped away).
	const ignored = (e) => {
		if (e.closest('svg, select, input, textarea')) return true;
		for (let a = e; a; a = a.parentElement) if (getComputedStyle(a).clip !== 'auto') return true;
		return false;
	};
	// The lines a text node's characters from..to are laid out on.
	const lines = (n, from, to) => {
		const range = document.createRange();
		range.setStart(n, from);
		range.setEnd(n, to);
		const tops = [];
		for (const q of range.getClientRects()) {
			if (q.width > 0 && !tops.some((t) => Math.abs(t - q.top) < 3)) tops.push(q.top);
		}
		return tops.length;
	};
	if (document.documentElement.scrollWidth > vw + 1) {
		problems.push('the page scrolls sideways: ' + px(document.documentElement.scrollWidth) + ' wide in a ' + px(vw) + ' viewport');
	}
	const scopes = [...document.querySelectorAll('.top, #alerts, #detail')].filter(shown);
	for (const scope of scopes) {
		const panel = scope.id === 'detail' ? scope.getBoundingClientRect() : null;
		for (const e of [scope, ...scope.querySelectorAll('*')]) {
			if (ignored(e) || !shown(e)) continue;
			const cs = getComputedStyle(e);
			// Nothing here is meant to scroll sideways; only the panel's
			// body (and nothing in a row) scrolls down.
			if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1) {
				problems.push(name(e) + ' ' + text(e) + ': content ' + px(e.scrollWidth) + ' wide in a box ' + px(e.clientWidth) + ' wide');
			}
			const scrollsDown = /auto|scroll/.test(cs.overflowY);
			if (!scrollsDown && e.clientHeight > 0 && e.scrollHeight > e.clientHeight + 1) {
				problems.push(name(e) + ' ' + text(e) + ': content ' + px(e.scrollHeight) + ' tall in a box ' + px(e.clientHeight) + ' tall');
			}
			const r = e.getBoundingClientRect();
			const row = e.closest('[data-testid=alert]');
			if (row && row !== e) {
				const rr = row.getBoundingClientRect();
				if (r.left < rr.left - 1 || r.right > rr.right + 1 || r.top < rr.top - 1 || r.bottom > rr.bottom + 1) {
					problems.push(name(e) + ' ' + text(e) + ': outside its row (' + px(r.left) + '–' + px(r.right) + ' in a row at ' + px(rr.left) + '–' + px(rr.right) + ')');
				}
			}
			if (panel && e !== scope && (r.left < panel.left - 1 || r.right > panel.right + 1)) {
				problems.push(name(e) + ' ' + text(e) + ': outside the panel (' + px(r.left) + '–' + px(r.right) + ' in a panel at ' + px(panel.left) + '–' + px(panel.right) + ')');
			}
		}
		// A word broken over lines, or a short label wrapped: the box was
		// too narrow for it.
		const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			const parent = n.parentElement;
			if (!parent || ignored(parent) || !shown(parent)) continue;
			const label = n.data.trim();
			if (parent.childNodes.length === 1 && label.length <= 20 && lines(n, 0, n.data.length) > 1) {
				problems.push(name(parent) + ' ' + text(parent) + ': a short label wrapped onto ' + lines(n, 0, n.data.length) + ' lines');
				continue;
			}
			for (const m of n.data.matchAll(/[\p{L}\p{N}]{2,}/gu)) {
				const k = lines(n, m.index, m.index + m[0].length);
				if (k > 1) {
					problems.push(name(parent) + ' ' + text(parent) + ': the word ' + JSON.stringify(m[0]) + ' is broken over ' + k + ' lines');
					break;
				}
			}
		}
	}
	// Every row's buttons: inside the viewport and the row, and not under
	// anything else.
	const top = document.querySelector('.top').getBoundingClientRect().bottom;
	for (const btn of document.querySelectorAll('[data-testid=alert] .cell-actions .btn')) {
		if (!shown(btn)) continue;
		const row = btn.closest('[data-testid=alert]');
		const what = name(btn) + ' ' + text(btn);
		let r = btn.getBoundingClientRect();
		const rr = row.getBoundingClientRect();
		if (r.left < 0 || r.right > vw) problems.push(what + ': outside the viewport (' + px(r.left) + '–' + px(r.right) + ' of ' + px(vw) + ')');
		if (r.left < rr.left || r.right > rr.right || r.top < rr.top || r.bottom > rr.bottom) problems.push(what + ': outside its row');
		if (!cover) continue;
		if (r.top < top || r.bottom > vh) {
			btn.scrollIntoView({ block: 'center', inline: 'nearest' });
			r = btn.getBoundingClientRect();
		}
		// Each edge's middle, just inside (the corners are rounded off).
		const [mx, my] = [(r.left + r.right) / 2, (r.top + r.bottom) / 2];
		for (const [x, y] of [[r.left + 3, my], [r.right - 3, my], [mx, r.top + 3], [mx, r.bottom - 3]]) {
			const hit = document.elementFromPoint(x, y);
			if (!hit || !btn.contains(hit)) {
				problems.push(what + ': its edge at (' + px(x) + ', ' + px(y) + ') is under ' + (hit ? name(hit) + ' ' + text(hit) : 'nothing'));
				break;
			}
		}
	}
	window.scrollTo(0, 0);
	return problems;
})`

// layoutBoard makes a board with what makes text long: a zone with a long
// name (and so a long title), a joint acknowledgement by both co-chairs
// with its escalation stopped, one co-chair's acknowledgement, both
// co-chairs' verifications, and an alert whose escalation ran out. It returns the id of the alert in the long
// zone, acknowledged by both, and the number of alerts.
func layoutBoard(t *testing.T, a *app.App) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	demo, err := configs.Demo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	zones := append(demo.Zones, alerting.Zone{ID: longZone, Name: longZoneName, Tags: []string{"coast"}})
	if err := a.ApplyConfig(ctx, alerting.Config{
		Zones:    zones,
		Parties:  demo.Parties,
		Contacts: []alerting.Contact{webhookContact("co-chairs", "", "http://127.0.0.1:9/nobody-listens")},
		Policies: []alerting.Policy{{
			ID:   "joint",
			Name: "Both co-chairs must acknowledge",
			Steps: []alerting.Step{
				{After: 0, Notify: []string{"board"}},
				{After: alerting.Duration(15 * time.Minute), Notify: []string{"co-chairs"}},
			},
			RequireAckFrom: []string{"party-a", "party-b"},
		}, {
			// Runs out a second after opening.
			ID:   "short",
			Name: "Runs out in a second",
			Steps: []alerting.Step{
				{After: 0, Notify: []string{"board"}},
				{After: alerting.Duration(time.Second), Notify: []string{"board"}},
			},
		}},
		Rules: []alerting.Rule{
			{ID: "joint", Name: "Ceasefire violation", Policy: "joint", Categories: []alerting.Category{
				"heavy_weapons_in_restricted_area", "shelling", "airstrike", "movement_of_forces", "small_arms"}},
			{ID: "explosions", Name: "Explosion", Policy: "short", Categories: []alerting.Category{"explosion"}},
		},
	}); err != nil {
		t.Fatalf("apply the layout test's configuration: %v", err)
	}
	reports := []report{
		{ID: "lay-01", Zone: longZone, Category: "heavy_weapons_in_restricted_area", Severity: "extreme", ReportedBy: "UN monitoring team coast",
			SourceType: "own_monitor", Certainty: "observed", Count: 4, Weapon: "self-propelled howitzers", AttributedTo: "coastal-brigades",
			Casualties: map[string]int{"killed": 1, "injured": 5}},
		{ID: "lay-02", Zone: "aleppo", Category: "shelling", Severity: "severe", ReportedBy: "party-b liaison", SourceType: "party_allegation"},
		{ID: "lay-03", Zone: "damascus-ghouta", Category: "airstrike", ReportedBy: "NGO field office", SourceType: "ngo"},
		{ID: "lay-04", Zone: longZone, Category: "movement_of_forces", ReportedBy: "local media", SourceType: "media"},
		{ID: "lay-05", Zone: "idlib", Category: "small_arms", ReportedBy: "OP Sierra-3", SourceType: "own_monitor"},
		{ID: "lay-06", Zone: "damascus-ghouta", Category: "explosion", ReportedBy: "NGO field office", SourceType: "ngo"},
	}
	for i, r := range reports {
		postReport(t, a, r, time.Duration(i+2)*time.Minute)
	}
	var long, aleppo string
	alertingtest.Eventually(t, boardWait, "an alert for every report", func() bool {
		n := 0
		for _, z := range []string{longZone, "aleppo", "damascus-ghouta", "idlib"} {
			for _, al := range alerts(t, a, z) {
				n++
				switch {
				case z == longZone && al.Category == "heavy_weapons_in_restricted_area":
					long = al.ID
				case z == "aleppo":
					aleppo = al.ID
				}
			}
		}
		return n == len(reports)
	})
	boardUser(t, a, longChairA)
	boardUser(t, a, longChairB)
	partyA, partyB := userToken(t, a, longChairA), userToken(t, a, longChairB)
	for _, act := range []struct{ token, alert, action, body string }{
		{partyA, long, "ack", `{"note":"Liaison coast informed"}`},
		{partyB, long, "ack", `{"note":"Checking with our units on the ridge"}`},
		{partyA, long, "verify", `{"status":"confirmed","note":"Our monitors counted four howitzers at the ridge line above the villages"}`},
		{partyB, long, "verify", `{"status":"disputed","note":"Those are recovery vehicles withdrawing under the agreed timetable"}`},
		{partyA, aleppo, "ack", `{}`},
	} {
		if status, body := postAs(t, a, act.token, "/api/v1/alerts/"+act.alert+"/"+act.action, []byte(act.body)); status != 200 {
			t.Fatalf("%s %s: %d %v", act.action, act.alert, status, body)
		}
	}
	return long, len(reports)
}

// TestBoardLayoutFits opens a board with long names, a joint
// acknowledgement, a stopped and an exhausted escalation, on screens from
// 1920×1080 down to a phone's 390×844 (issue 15's 1600×1000 among them),
// first without and then with the detail panel open, and checks that no
// text in the header, the rows or the panel is cut off, spills out of its
// box or is broken inside words, and that every row's buttons are within
// the viewport and their row and, where the list stays beside the panel,
// not under it. With TRUCELINE_ARTIFACTS set it saves a screenshot of each.
func TestBoardLayoutFits(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	long, n := layoutBoard(t, a)

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, longChairA, "")
	b.waitRows(boardWait, "every alert, the long one acknowledged by both, one unanswered", func(rows []boardRow) bool {
		r, _ := rowByID(rows, long)
		return len(rows) == n && r.State == "acknowledged" && r.Zone == longZoneName &&
			evaluate[int](t, tab, `document.querySelectorAll('[data-testid=alert].is-unanswered').length`) == 1
	})
	for _, size := range []struct {
		name          string
		width, height int64
		// cover: whether the list stays usable beside the open panel
		// (from 1200px it makes room for it; narrower, the panel covers
		// part of the list, or on a phone the whole screen).
		cover bool
	}{
		{"1920", 1920, 1080, true},
		{"1600", 1600, 1000, true},
		{"1280", 1280, 720, true}, // the README's screenshot
		{"800", 800, 900, false},
		{"390", 390, 844, false},
	} {
		t.Run(size.name, func(t *testing.T) {
			if err := chromedp.Do(tab, chromedp.EmulateViewport(size.width, size.height)); err != nil {
				t.Fatal(err)
			}
			if evaluate[bool](t, tab, `!document.querySelector('[data-testid=detail]').hidden`) {
				b.click(`[data-testid=detail-close]`)
			}
			checkLayout(t, b, "board-layout-"+size.name+".png", true)

			b.openDetail(long)
			eventuallyIn(t, tab, boardWait, "the panel to show both acknowledgements and the stopped escalation", func() bool {
				return b.text(`[data-testid=detail] [data-testid=countdown]`) == "stopped: acknowledged" &&
					evaluate[int](t, tab, `document.querySelectorAll('[data-testid=detail] [data-testid=detail-ack-party][data-acked=true]').length`) == 2 &&
					evaluate[int](t, tab, `document.querySelectorAll('[data-testid=detail] [data-testid=verification][data-status=disputed]').length`) == 1
			})
			checkLayout(t, b, "board-layout-"+size.name+"-detail.png", size.cover)
		})
	}
}

// checkLayout waits two frames for the layout to settle, saves a
// screenshot as name (see saveArtifact) and fails the test with every
// problem layoutJS finds.
func checkLayout(t *testing.T, b *board, name string, cover bool) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`,
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, b.ctx, name)
	problems := evaluate[[]string](t, b.ctx, fmt.Sprintf(`%s(%t)`, layoutJS, cover))
	if len(problems) > 0 {
		t.Errorf("%d layout problems (%s):\n%s", len(problems), name, strings.Join(problems, "\n"))
	}
}
