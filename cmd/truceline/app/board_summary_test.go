package app_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// summaryPage is what the daily summary page shows.
type summaryPage struct {
	// Path is the page's path and query.
	Path   string        `json:"path"`
	Day    string        `json:"day"`    // the date picker
	Cutoff string        `json:"cutoff"` // the cut-off select
	CSV    string        `json:"csv"`    // the Download CSV link
	Period string        `json:"period"`
	Busy   bool          `json:"busy"`
	Error  string        `json:"error"`
	Zones  []summaryZone `json:"zones"`
}

// summaryZone is a zone's card.
type summaryZone struct {
	Zone     string `json:"zone"`
	Name     string `json:"name"`
	Exercise bool   `json:"exercise"`
	Empty    string `json:"empty"`
	// Totals are "43 ▲ +33" by reports, events, killed and injured.
	Totals map[string]string `json:"totals"`
	// Categories are the rows of the category table, "Shelling|2|42|10|▲ +32".
	Categories []string `json:"categories"`
	// Severities are "severe 2/42": reports and events.
	Severities []string `json:"severities"`
	// NotApplicable is "1/5": reports and events.
	NotApplicable string `json:"not_applicable"`
	// Parties and Regimes are the compliance charts' rows, "Co-chair
	// B|1 report · 2 events|▲ +2|7-day avg 1": name, figures, change, the
	// week before's daily average.
	Parties []string `json:"parties"`
	Regimes []string `json:"regimes"`
	// Compliance are the rows of the compliance table, "Co-chair
	// B|1/1|0/0|0/0|0/0|0/0": per column this day's figure / the seven
	// days before's.
	Compliance []string `json:"compliance"`
}

const summaryJS = `(() => {
	const q = (s) => document.querySelector(s);
	const sign = (c) => c.querySelector('.sum-change-sign')?.textContent ?? '';
	const zones = [...document.querySelectorAll('[data-testid=summary-zone]')].map((c) => ({
		zone: c.dataset.zone || '',
		name: c.querySelector('h2')?.textContent || '',
		exercise: !!c.querySelector('[data-testid=summary-exercise]'),
		empty: c.querySelector('[data-testid=summary-empty]')?.textContent || '',
		totals: Object.fromEntries([...c.querySelectorAll('[data-testid=summary-totals] > div')].map((t) =>
			[t.dataset.key, t.querySelector('dd > span').textContent + ' ' + sign(t)])),
		categories: [...c.querySelectorAll('[data-testid=summary-categories] tbody tr')].map((r) =>
			[...r.cells].map((x) => x.querySelector('.sum-change') ? sign(x) : x.textContent).join('|')),
		severities: [...c.querySelectorAll('[data-testid=summary-severities] li')].map((s) =>
			s.dataset.key + ' ' + s.dataset.reports + '/' + s.dataset.events),
		parties: [...c.querySelectorAll('[data-testid=summary-parties] li')].map((r) =>
			[r.querySelector('.sum-comp-name').textContent, r.querySelector('.sum-comp-figures').textContent, sign(r),
				r.querySelector('.sum-comp-week').textContent].join('|')),
		regimes: [...c.querySelectorAll('[data-testid=summary-regimes] li')].map((r) =>
			[r.querySelector('.sum-comp-name').textContent, r.querySelector('.sum-comp-figures').textContent, sign(r),
				r.querySelector('.sum-comp-week').textContent].join('|')),
		compliance: [...c.querySelectorAll('[data-testid=summary-compliance] tbody tr')].map((r) =>
			[r.cells[0].textContent, ...[...r.cells].slice(1).map((x) =>
				x.firstChild.textContent + '/' + x.querySelector('.sum-week').textContent.replace('7 d: ', ''))].join('|')),
		not_applicable: (() => {
			const na = c.querySelector('[data-testid=summary-not-applicable]');
			return na ? na.dataset.reports + '/' + na.dataset.events : '';
		})(),
	}));
	return {
		path: location.pathname + location.search,
		day: q('[data-testid=summary-day]')?.value ?? '',
		cutoff: q('[data-testid=summary-cutoff]')?.value ?? '',
		csv: q('[data-testid=summary-csv]')?.getAttribute('href') ?? '',
		period: q('[data-testid=summary-period]')?.textContent ?? '',
		busy: q('[data-testid=summary-zones]')?.getAttribute('aria-busy') !== 'false',
		error: q('[data-testid=summary-error]:not([hidden])')?.textContent ?? '',
		zones,
	};
})()`

// summary reads the summary page; false while the tab is between pages.
func (b *board) summary() (summaryPage, bool) {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[summaryPage](summaryJS))
	return v, err == nil
}

// waitSummary polls the summary page until cond holds, and returns it; when
// it times out, the test fails and logs what the page showed last.
func (b *board) waitSummary(what string, cond func(summaryPage) bool) summaryPage {
	b.t.Helper()
	var page summaryPage
	ok := false
	defer func() {
		if !ok {
			shown, _ := json.MarshalIndent(page, "", "  ")
			b.t.Logf("the summary page showed %s", shown)
		}
	}()
	b.eventually(boardWait, what, func() bool {
		p, read := b.summary()
		if read {
			page = p
		}
		return read && !p.Busy && p.Error == "" && cond(p)
	})
	ok = true
	return page
}

func (p summaryPage) zone(id string) summaryZone {
	for _, z := range p.Zones {
		if z.Zone == id {
			return z
		}
	}
	return summaryZone{}
}

// TestBoardSummary opens the daily summary from the board's header and
// reads each zone's day beside the day before: the totals and their change,
// the categories and severities, the reports against excluded parties apart,
// the exercise marker, empty zones; then the CSV link, the day before with
// Previous day, its address opened in another tab, the date picker and the
// cut-off hour, and Next day back to today. Each zone's compliance charts
// count its reports by alleged perpetrator and by regime beside the week
// before. A browser that is not signed in
// gets a link to sign in.
//
// With TRUCELINE_SCREENSHOTS=1 it writes docs/board-summary.png.
func TestBoardSummary(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	cfg := d.config(t)
	// The reports are of the past days: none is late here, so that each
	// opens the alert the compliance table counts.
	cfg.LateAfter = 0
	a := start(t, cfg)
	base := "http://" + a.HTTPAddr()

	// Reports at 00:30 UTC today and yesterday (earlier in the first half
	// hour of the day: a report may not come from the future). The summary
	// counts calendar days in UTC by default.
	now := time.Now().UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	todayAt := midnight.Add(min(30*time.Minute, now.Sub(midnight)/2))
	yesterdayAt := todayAt.AddDate(0, 0, -1)
	weekAt := todayAt.AddDate(0, 0, -3)
	day, dayBefore := todayAt.Format(time.DateOnly), yesterdayAt.Format(time.DateOnly)
	for _, r := range []struct {
		id, zone, category string
		at                 time.Time
		extra              string
	}{
		{"sum-1", "daraa", "shelling", todayAt, `,"count":40`},
		{"sum-2", "daraa", "shelling", todayAt, `,"count":2,"casualties":{"killed":1,"injured":3},"attributed_to":"party-b"`},
		{"sum-3", "daraa", "small_arms", todayAt, ``},
		{"sum-4", "daraa", "shelling", yesterdayAt, `,"count":10`},
		{"sum-5", "idlib", "explosion", todayAt, `,"count":3,"casualties":{"killed":0,"injured":2}`},
		// A strike on an excluded party: counted apart.
		{"sum-6", "idlib", "airstrike", todayAt, `,"count":5,"target":"isil"`},
		{"sum-7", "aleppo", "movement_of_forces", todayAt, `,"exercise":true`},
		{"sum-8", "idlib", "small_arms", yesterdayAt, `,"count":6`},
		{"sum-9", "latakia", "explosion", yesterdayAt, ``},
		{"sum-10", "daraa", "shelling", weekAt, `,"count":7,"attributed_to":"party-b"`},
	} {
		body := fmt.Sprintf(`{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":"OP 3"%s}`,
			r.id, r.zone, r.category, r.at.Format(time.RFC3339), r.extra)
		if status, b := post(t, a, "/api/v1/reports", []byte(body)); status != http.StatusAccepted {
			t.Fatalf("report %s: %d %v", r.id, status, b)
		}
	}
	alertingtest.Eventually(t, boardWait, "the reports counted in the summary", func() bool {
		var s struct{ Zones []alerting.DailySummary }
		resp, err := adminClient.Get(base + "/api/v1/summary?day=" + day)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if json.NewDecoder(resp.Body).Decode(&s) != nil {
			return false
		}
		n := 0
		for _, z := range s.Zones {
			n += z.Total.Tally.Reports + z.Total.Week.Reports + z.NotApplicable.Tally.Reports
		}
		return n == 10
	})

	// The page is served with the board's security headers.
	resp, err := adminClient.Get(base + "/summary")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
		resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("GET /summary: %d, headers %v", resp.StatusCode, resp.Header)
	}

	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, dutyOfficer, "")
	if href := evaluate[string](t, tab, `document.querySelector('[data-testid=summary-link]')?.getAttribute('href') ?? ''`); href != "/summary" {
		t.Errorf("the header's Daily summary link goes to %q", href)
	}
	b.click("[data-testid=summary-link]")

	page := b.waitSummary("the summary of today", func(p summaryPage) bool {
		return p.Path == "/summary" && p.Day != "" && len(p.Zones) == 6
	})
	if page.Day != day {
		t.Skipf("the day changed while the test ran: the page shows %s, the reports are of %s", page.Day, day)
	}
	if page.Cutoff != "0" || !strings.Contains(page.Period, "UTC") {
		t.Errorf("cut-off %q, period %q; want 0 and a period in UTC", page.Cutoff, page.Period)
	}
	// The zones with reports come first.
	var order []string
	for _, z := range page.Zones {
		order = append(order, z.Zone)
	}
	if want := []string{"aleppo", "daraa", "idlib", "latakia"}; !slices.Equal(order[:4], want) {
		t.Errorf("zones in the order %v, want %v first", order, want)
	}

	daraa := page.zone("daraa")
	wantTotals := map[string]string{"reports": "3 ▲ +2", "events": "43 ▲ +33", "killed": "1 ▲ +1", "injured": "3 ▲ +3"}
	if daraa.Name != "Daraa" || !maps.Equal(daraa.Totals, wantTotals) {
		t.Errorf("Daraa's card: %q, totals %v; want %v", daraa.Name, daraa.Totals, wantTotals)
	}
	if want := []string{"Shelling|2|42|10|▲ +32", "Small arms|1|1|0|▲ +1"}; !slices.Equal(daraa.Categories, want) {
		t.Errorf("Daraa's categories %q, want %q", daraa.Categories, want)
	}
	if want := []string{"severe 2/42", "moderate 1/1"}; !slices.Equal(daraa.Severities, want) {
		t.Errorf("Daraa's severities %q, want %q", daraa.Severities, want)
	}
	// Co-chair B is alleged once today (2 events) and once three days
	// before (7 events, a day's average of 1); two reports name nobody.
	if want := []string{"Co-chair B|1 report · 2 events|▲ +2|7-day avg 1", "Nobody named|2 reports · 41 events|▲ +31|7-day avg 1.4"}; !slices.Equal(daraa.Parties, want) {
		t.Errorf("Daraa's alleged perpetrators %q, want %q", daraa.Parties, want)
	}
	if want := []string{"Outside any regime|3 reports · 43 events|▲ +33|7-day avg 2.4"}; !slices.Equal(daraa.Regimes, want) {
		t.Errorf("Daraa's regimes %q, want %q", daraa.Regimes, want)
	}
	// Its alerts: today's shelling (alleging Co-chair B) and the one three
	// days before; nothing substantiated, no requests for information.
	if want := []string{"Co-chair B|1/1|0/0|0/0|0/0|0/0"}; !slices.Equal(daraa.Compliance, want) {
		t.Errorf("Daraa's compliance %q, want %q", daraa.Compliance, want)
	}
	if daraa.NotApplicable != "0/0" || daraa.Exercise || daraa.Empty != "" {
		t.Errorf("Daraa: not applicable %q, exercise %v, empty %q", daraa.NotApplicable, daraa.Exercise, daraa.Empty)
	}

	idlib := page.zone("idlib")
	wantTotals = map[string]string{"reports": "1 ±0", "events": "3 ▼ −3", "killed": "0 ±0", "injured": "2 ▲ +2"}
	if want := []string{"Small arms|0|0|6|▼ −6", "Explosion|1|3|0|▲ +3"}; !maps.Equal(idlib.Totals, wantTotals) || !slices.Equal(idlib.Categories, want) {
		t.Errorf("Idlib: totals %v, categories %q", idlib.Totals, idlib.Categories)
	}
	if idlib.NotApplicable != "1/5" {
		t.Errorf("Idlib's reports against an excluded party: %q, want 1/5 apart from the totals", idlib.NotApplicable)
	}
	if aleppo := page.zone("aleppo"); !aleppo.Exercise || aleppo.Totals["reports"] != "1 ▲ +1" {
		t.Errorf("Aleppo, all exercise: exercise %v, totals %v", aleppo.Exercise, aleppo.Totals)
	}
	if latakia := page.zone("latakia"); latakia.Empty != "No reports this day." || latakia.Totals["reports"] != "0 ▼ −1" {
		t.Errorf("Latakia, with reports the day before only: %+v", latakia)
	}
	if homs := page.zone("homs-north"); homs.Empty != "No reports this day or the day before." || len(homs.Totals) != 0 {
		t.Errorf("North of Homs, without reports: %+v", homs)
	}

	// The CSV link: the same day as CSV, downloaded with the session.
	if !strings.Contains(page.CSV, "format=csv") || !strings.Contains(page.CSV, "day="+day) {
		t.Errorf("the CSV link is %q", page.CSV)
	}
	csv, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch(document.querySelector('[data-testid=summary-csv]').href)
		.then(async (r) => r.status + ' ' + r.headers.get('Content-Type') + '\n' + await r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(csv, "200 text/csv") || !strings.Contains(csv, ",daraa,Daraa,total,total,,3,43,1,3,1,10,33,2,17") ||
		!strings.Contains(csv, ",daraa,Daraa,compliance_alleged,party-b,Co-chair B,1,,,,0,,1,1,\n") {
		t.Errorf("the CSV download: %v %q", err, csv)
	}

	// Previous day: the day before in the address bar, and its figures.
	b.click("[data-testid=summary-prev]")
	page = b.waitSummary("the summary of the day before", func(p summaryPage) bool {
		return p.Day == dayBefore && p.zone("daraa").Totals["reports"] != "3 ▲ +2"
	})
	if want := "/summary?day=" + dayBefore + "&cutoff=0"; page.Path != want {
		t.Errorf("after Previous day the address is %q, want %q", page.Path, want)
	}
	daraa = page.zone("daraa")
	wantTotals = map[string]string{"reports": "1 ▲ +1", "events": "10 ▲ +10", "killed": "0 ±0", "injured": "0 ±0"}
	if !maps.Equal(daraa.Totals, wantTotals) || !slices.Equal(daraa.Categories, []string{"Shelling|1|10|0|▲ +10"}) {
		t.Errorf("Daraa the day before: totals %v, categories %q", daraa.Totals, daraa.Categories)
	}
	if idlib := page.zone("idlib"); idlib.Totals["events"] != "6 ▲ +6" || idlib.NotApplicable != "0/0" {
		t.Errorf("Idlib the day before: %+v", idlib)
	}
	if aleppo := page.zone("aleppo"); aleppo.Empty != "No reports this day or the day before." || aleppo.Exercise || len(aleppo.Totals) != 0 {
		t.Errorf("Aleppo the day before, without reports: %+v", aleppo)
	}
	if !strings.Contains(page.CSV, "day="+dayBefore) {
		t.Errorf("the CSV link of the day before is %q", page.CSV)
	}

	// The shared address shows the same day.
	tab2 := newTab(t, tab, "shared link")
	b2 := &board{t: t, ctx: tab2}
	if err := chromedp.Do(tab2, chromedp.Navigate(base+page.Path)); err != nil {
		t.Fatal(err)
	}
	b2.waitSummary("the shared summary of the day before", func(p summaryPage) bool {
		return p.Day == dayBefore && p.zone("daraa").Totals["events"] == "10 ▲ +10"
	})
	// There, the date picker and the cut-off hour change the address too.
	twoDaysBefore := yesterdayAt.AddDate(0, 0, -1).Format(time.DateOnly)
	change := func(sel, value string) {
		t.Helper()
		if err := chromedp.Do(tab2, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
			const e = document.querySelector(%q);
			e.value = %q;
			e.dispatchEvent(new Event('change', { bubbles: true }));
		})()`, sel, value))); err != nil {
			t.Fatalf("set %s to %s: %v", sel, value, err)
		}
	}
	change("[data-testid=summary-day]", twoDaysBefore)
	b2.waitSummary("the day picked", func(p summaryPage) bool {
		return p.Path == "/summary?day="+twoDaysBefore+"&cutoff=0" && p.zone("daraa").Empty != ""
	})
	change("[data-testid=summary-cutoff]", "19")
	b2.waitSummary("the cut-off hour picked", func(p summaryPage) bool {
		return p.Path == "/summary?day="+twoDaysBefore+"&cutoff=19" && p.Cutoff == "19" && strings.Contains(p.Period, "19:00")
	})

	// Next day: back to today, with its figures going down from Daraa's.
	b.click("[data-testid=summary-next]")
	page = b.waitSummary("today again", func(p summaryPage) bool {
		return p.Day == day && p.zone("daraa").Totals["events"] == "43 ▲ +33"
	})
	if !evaluate[bool](t, tab, `document.querySelector('[data-testid=summary-next]').disabled`) {
		t.Errorf("Next day is enabled on the day in progress")
	}

	if os.Getenv("TRUCELINE_SCREENSHOTS") == "1" {
		shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		checkPNG(t, shot, 1280, 900)
		path := filepath.Join("..", "..", "..", "docs", "board-summary.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// On a phone, the cards with their charts and the compliance table fit
	// the screen: nothing scrolls sideways, nothing spills out of its card.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`,
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatal(err)
	}
	spills := evaluate[[]string](t, tab, `(() => {
		const out = [];
		const root = document.documentElement;
		if (root.scrollWidth > root.clientWidth + 1) out.push('the page is ' + root.scrollWidth + 'px wide in ' + root.clientWidth + 'px');
		for (const e of document.querySelectorAll('[data-testid=summary-zone], [data-testid=summary-zone] table, [data-testid=summary-zone] ul')) {
			if (e.scrollWidth > e.clientWidth + 1) out.push((e.dataset.zone || e.className) + ': ' + e.scrollWidth + 'px in ' + e.clientWidth + 'px');
		}
		return out;
	})()`)
	if len(spills) > 0 {
		t.Errorf("on a phone, the summary does not fit:\n%s", strings.Join(spills, "\n"))
	}
	evaluate[bool](t, tab, `(() => { document.querySelector('[data-testid=summary-zone][data-zone=daraa] [data-testid=summary-compliance]')?.scrollIntoView(); return true; })()`)
	saveArtifact(t, tab, "summary-390.png")

	// A browser that is not signed in: a link to sign in on the board.
	out := newProfile(t, tab, "signed out")
	if err := chromedp.Do(out, chromedp.Navigate(base+"/summary")); err != nil {
		t.Fatal(err)
	}
	eventuallyIn(t, out, boardWait, "the link to sign in", func() bool {
		return evaluate[bool](t, out, `(() => {
			const box = document.querySelector('[data-testid=summary-signin]');
			return !!box && !box.hidden && box.querySelector('a')?.getAttribute('href') === '/' &&
				!document.querySelector('[data-testid=summary-zone]');
		})()`)
	})
}
