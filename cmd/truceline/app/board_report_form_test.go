package app_test

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// The board's "New report" form (issue 15): duty officers enter the reports
// they take by phone or radio, with the location typed or picked on the map.

const reportDialog = `[data-testid=report-dialog]`

// rf is the selector of the report form's element with test id testid.
func rf(testid string) string { return reportDialog + ` [data-testid=` + testid + `]` }

// formOpen reports whether the report form's dialog is open.
func (b *board) formOpen() bool {
	b.t.Helper()
	return evaluate[bool](b.t, b.ctx, `document.querySelector('[data-testid=report-dialog]').open`)
}

// openReportForm selects "New report" and waits for the form.
func (b *board) openReportForm() {
	b.t.Helper()
	b.click(`[data-testid=new-report]`)
	b.eventually(boardWait, "the report form to open", b.formOpen)
}

// rfSet sets a field of the report form, as choosing or typing it would,
// and fails unless the field took the value (a select without that
// option does not).
func (b *board) rfSet(testid, value string) {
	b.t.Helper()
	got := evaluate[string](b.t, b.ctx, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (e.type === 'checkbox') e.checked = %q === 'true'; else e.value = %q;
		e.dispatchEvent(new Event('input', { bubbles: true }));
		e.dispatchEvent(new Event('change', { bubbles: true }));
		return e.type === 'checkbox' ? String(e.checked) : e.value;
	})()`, rf(testid), value, value))
	if got != value {
		b.t.Fatalf("the form's %s took %q, want %q", testid, got, value)
	}
}

// rfValue is the value of a field of the report form.
func (b *board) rfValue(testid string) string {
	b.t.Helper()
	return evaluate[string](b.t, b.ctx, fmt.Sprintf(`document.querySelector(%q).value`, rf(testid)))
}

// typeInto types text into a field of the report form, key by key.
func (b *board) typeInto(testid, text string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(rf(testid)), text)); err != nil {
		b.t.Fatalf("type into %s: %v", testid, err)
	}
}

// mapPoint is a point of the map on the screen, and the place there.
type mapPoint struct {
	X, Y float64
	Lat  float64 `json:"lat"`
	Lon  float64 `json:"lon"`
	// DegPerPx is how many degrees of longitude a pixel spans there.
	DegPerPx float64 `json:"degPerPx"`
	// Zone is the zone whose shape is on top there, for a click.
	Zone string `json:"zone"`
}

// pickOnMap selects "Pick on map" in the form, waits until the map asks
// for a click, and clicks it at the centre of zone's shape. It returns
// the place clicked, once the form is back.
func (b *board) pickOnMap(zone string) mapPoint {
	b.t.Helper()
	b.click(rf("rf-pick"))
	var at mapPoint
	b.eventually(boardWait, "the map to wait for a click, with "+zone+" where the test clicks", func() bool {
		at = evaluate[mapPoint](b.t, b.ctx, fmt.Sprintf(`(() => {
			const m = window.truceline.map;
			const r = m.root.getBoundingClientRect();
			if (!m.root.classList.contains('is-picking') || r.height < 100) return { zone: '' };
			const c = m.zones.get(%q).layer.getCenter();
			const p = m.map.latLngToContainerPoint(c);
			const x = r.left + p.x, y = r.top + p.y;
			const hit = document.elementFromPoint(x, y);
			const next = m.map.containerPointToLatLng([p.x + 1, p.y]);
			return { X: x, Y: y, lat: c.lat, lon: c.lng, degPerPx: Math.abs(next.lng - c.lng),
				zone: hit?.closest('[data-testid=map-zone]')?.dataset.zone || '' };
		})()`, zone))
		return at.Zone == zone && !b.formOpen() && b.shown("[data-testid=pick-bar]")
	})
	saveArtifact(b.t, b.ctx, fmt.Sprintf("report-pick-%d.png", evaluate[int](b.t, b.ctx, `innerWidth`)))
	if err := chromedp.Do(b.ctx, chromedp.MouseClickXY(at.X, at.Y)); err != nil {
		b.t.Fatalf("click the map: %v", err)
	}
	b.eventually(boardWait, "the form to come back with the place", func() bool {
		return b.formOpen() && b.rfValue("rf-lat") != "" && b.rfValue("rf-lon") != ""
	})
	return at
}

// near fails the test unless the form's field testid holds a number within
// tolerance of want.
func (b *board) near(testid string, want, tolerance float64) float64 {
	b.t.Helper()
	got, err := strconv.ParseFloat(b.rfValue(testid), 64)
	if err != nil || math.Abs(got-want) > tolerance {
		b.t.Errorf("the form's %s is %q, want %.5f ± %.5f", testid, b.rfValue(testid), want, tolerance)
	}
	return got
}

// watchFlashes makes the page record every alert row that flashes.
func (b *board) watchFlashes() {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		window.flashed = [];
		const note = (n) => { if (n instanceof Element && n.classList.contains('flash')) window.flashed.push(n.dataset.alertId); };
		new MutationObserver((ms) => {
			for (const m of ms) { note(m.target); m.addedNodes.forEach(note); }
		}).observe(document.getElementById('alerts'), { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
	})()`)); err != nil {
		b.t.Fatal(err)
	}
}

// waitReportAlert waits for the one alert of zone, and until the board has
// selected its row, opened its details and flashed it; it returns the alert
// and the id its report is kept under.
func (b *board) waitReportAlert(a *app.App, zone string) (alerting.Alert, string) {
	b.t.Helper()
	var al alerting.Alert
	alertingtest.Eventually(b.t, boardWait, "the alert of the report in "+zone, func() bool {
		as := alerts(b.t, a, zone)
		if len(as) == 1 && len(as[0].ReportIDs) > 0 {
			al = as[0]
			return true
		}
		return false
	})
	b.waitDetail(al.ID)
	b.eventually(boardWait, "the alert's row selected and flashed", func() bool {
		return evaluate[bool](b.t, b.ctx, fmt.Sprintf(`!!document.querySelector('[data-testid=alert].is-selected[data-alert-id=%q]') &&
			window.flashed.includes(%q)`, al.ID, al.ID))
	})
	return al, al.ReportIDs[len(al.ReportIDs)-1]
}

// TestBoardReportForm: a duty officer enters a report taken by radio. The
// form opens with the focus in it, offers every zone and the schema's
// categories, and has "now" as the time observed; the location is picked
// on the map, which fills in the zone clicked too. Sent, the form closes,
// the board says the report was accepted, and selects, flashes and opens
// the alert it lands in. The report is stored with every field as given,
// as the duty officer's, under an id of the board's.
func TestBoardReportForm(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1600, 1000)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, dutyOfficer, "")
	began := time.Now()

	b.openReportForm()
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "rf-zone" {
		t.Errorf("the focus is on %q in the opened form, want the zone", got)
	}
	options := func(testid string) []string {
		return evaluate[[]string](t, tab, fmt.Sprintf(`[...document.querySelector(%q).options].map((o) => o.value)`, rf(testid)))
	}
	var categories []string
	for _, c := range alerting.Categories {
		categories = append(categories, string(c))
	}
	if got := options("rf-category"); !slices.Equal(got, append([]string{""}, categories...)) {
		t.Errorf("the form offers the categories %q, want the schema's %q", got, categories)
	}
	if got := options("rf-zone"); len(got) != 7 || !slices.Contains(got, "aleppo") || !slices.Contains(got, "daraa") {
		t.Errorf("a duty officer may report for the zones %q, want every zone", got)
	}
	if !evaluate[bool](t, tab, fmt.Sprintf(`Math.abs(new Date(document.querySelector(%q).value) - Date.now()) < 120000`, rf("rf-observed_at"))) {
		t.Errorf("the time observed is %q, want now", b.rfValue("rf-observed_at"))
	}

	// The location, picked on the map in Aleppo, which chooses the zone.
	at := b.pickOnMap("aleppo")
	lat := b.near("rf-lat", at.Lat, 2*at.DegPerPx+1e-5)
	lon := b.near("rf-lon", at.Lon, 2*at.DegPerPx+1e-5)
	if got := b.rfValue("rf-zone"); got != "aleppo" {
		t.Errorf("after a click in Aleppo the zone is %q", got)
	}
	precision, err := strconv.ParseFloat(b.rfValue("rf-precision"), 64)
	if err != nil || precision <= 0 {
		t.Errorf("the precision of a place picked is %q, want the map's scale", b.rfValue("rf-precision"))
	}
	if !b.shown(`[data-testid=map] [data-testid=map-pin]`) {
		t.Errorf("the map does not mark the place picked")
	}
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "rf-pick" {
		t.Errorf("after the pick the focus is on %q, want Pick on map", got)
	}

	b.rfSet("rf-category", "airstrike")
	b.typeInto("rf-reported_by", "OP Sierra-3")
	b.rfSet("rf-source_type", "own_monitor")
	b.rfSet("rf-certainty", "observed")
	b.rfSet("rf-severity", "extreme")
	b.rfSet("rf-count", "2")
	b.typeInto("rf-weapon", "fixed-wing aircraft")
	b.rfSet("rf-attributed_to", "gov-forces")
	b.rfSet("rf-target", "civilian")
	b.rfSet("rf-killed", "1")
	b.rfSet("rf-injured", "3")
	b.typeInto("rf-description", "Two strikes near the water station.")
	b.rfSet("rf-exercise", "true")
	// What the observer recorded of the fire.
	b.rfSet("rf-observed_until", b.rfValue("rf-observed_at"))
	b.rfSet("rf-impacts", "2")
	b.typeInto("rf-weapon_calibre", "122mm")
	b.rfSet("rf-observer_lat", "36.25")
	b.rfSet("rf-observer_lon", "37.05")
	b.rfSet("rf-direction_deg", "45")
	b.rfSet("rf-distance_min", "3000")
	b.rfSet("rf-distance_max", "5000")
	saveArtifact(t, tab, "report-form-1600.png")

	b.watchFlashes()
	b.click(rf("rf-submit"))
	al, key := b.waitReportAlert(a, "aleppo")
	if b.formOpen() {
		t.Errorf("the form is still open after the report was accepted")
	}
	b.eventually(boardWait, "a toast saying the report was accepted", func() bool {
		return strings.Contains(b.text("[data-testid=toast]"), "Report accepted (id "+key+")")
	})
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "detail-title" {
		t.Errorf("with the alert's details open the focus is on %q, want their title", got)
	}
	if b.shown(`[data-testid=map] [data-testid=map-pin]`) {
		t.Errorf("the map still marks the place of a report sent")
	}
	saveArtifact(t, tab, "report-form-sent-1600.png")

	r := storedReport(t, a, key)
	want := alerting.Report{
		Zone: "aleppo", Category: "airstrike", ReportedBy: "OP Sierra-3", SourceType: "own_monitor",
		Location: &alerting.Location{Lat: lat, Lon: lon, PrecisionM: precision}, Severity: "extreme", Certainty: "observed",
		Count: 2, Weapon: "fixed-wing aircraft", AttributedTo: "gov-forces", Target: "civilian",
		Casualties: &alerting.Casualties{Killed: 1, Injured: 3}, Description: "Two strikes near the water station.", Exercise: true,
	}
	got := r.Report
	if got.Zone != want.Zone || got.Category != want.Category || got.ReportedBy != want.ReportedBy || got.SourceType != want.SourceType ||
		got.Location == nil || *got.Location != *want.Location || got.Severity != want.Severity || got.Certainty != want.Certainty ||
		got.Count != want.Count || got.Weapon != want.Weapon || got.AttributedTo != want.AttributedTo || got.Target != want.Target ||
		got.Casualties == nil || *got.Casualties != *want.Casualties || got.Description != want.Description || got.Exercise != want.Exercise {
		t.Errorf("stored report %+v (location %+v, casualties %+v),\nwant %+v (location %+v, casualties %+v)",
			got, got.Location, got.Casualties, want, want.Location, want.Casualties)
	}
	// Entered in the minute the test began (the form keeps minutes).
	if got.ObservedAt.Before(began.Truncate(time.Minute).Add(-time.Minute)) || got.ObservedAt.After(time.Now()) {
		t.Errorf("the report was observed at %s; the test began at %s", got.ObservedAt, began)
	}
	if !strings.HasPrefix(got.SubmittedID, "board-") || got.SubmittedBy == nil || got.SubmittedBy.User != dutyOfficer.Name || got.SubmittedBy.Via != "http" {
		t.Errorf("the report was sent as %q by %+v, want an id of the board's, by %s", got.SubmittedID, got.SubmittedBy, dutyOfficer.Name)
	}
	if got.ObservedUntil == nil || !got.ObservedUntil.Equal(got.ObservedAt) || got.Impacts == nil || *got.Impacts != 2 || got.WeaponCalibre != "122mm" ||
		got.Observer == nil || *got.Observer != (alerting.Position{Lat: 36.25, Lon: 37.05}) || got.DirectionDeg == nil || *got.DirectionDeg != 45 ||
		got.DistanceM == nil || *got.DistanceM != (alerting.DistanceRange{Min: 3000, Max: 5000}) {
		t.Errorf("stored observation: until %v impacts %v calibre %q observer %+v bearing %v distance %+v",
			got.ObservedUntil, got.Impacts, got.WeaponCalibre, got.Observer, got.DirectionDeg, got.DistanceM)
	}
	// The detail's reports table shows it.
	b.eventually(boardWait, "the observation in the reports table", func() bool {
		return strings.Contains(b.text(`[data-testid=report-observation]`), "bearing 45° · 3–5 km") &&
			strings.Contains(b.text(`[data-testid=report-row]`), "fixed-wing aircraft 122mm") &&
			strings.Contains(b.text(`[data-testid=report-row]`), "Impacts 2")
	})
	evaluate[bool](t, tab, `(document.querySelector('[data-testid=report-row]').scrollIntoView(), true)`)
	saveArtifact(t, tab, "report-form-detail-1600.png")
	if al.ReportCount != 1 || !al.Exercise {
		t.Errorf("the alert holds %d reports (exercise %t), want the one exercise report", al.ReportCount, al.Exercise)
	}
}

// TestBoardReportFormProblems, on a phone: Esc closes the form and keeps
// the draft. The map, folded away, unfolds for a pick and folds again.
// A report the server refuses (observed two hours ahead, a count of 0, a
// latitude of 95) shows each of the server's problems next to its field,
// with the focus on the first, and stores nothing; a field edited loses its
// problem. The report corrected is sent, its answer lost on the way back,
// and sent again: it is stored and counted once.
func TestBoardReportFormProblems(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, coChairA, "")

	// Esc closes the form, the focus goes back, and the draft stays.
	b.openReportForm()
	b.typeInto("rf-reported_by", "OP Sierra-3")
	if err := chromedp.Do(tab, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	b.eventually(boardWait, "Esc to close the form", func() bool { return !b.formOpen() })
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "new-report" {
		t.Errorf("after Esc the focus is on %q, want New report", got)
	}
	b.openReportForm()
	if got := b.rfValue("rf-reported_by"); got != "OP Sierra-3" {
		t.Errorf("the draft lost what was typed: reported by %q", got)
	}

	if !evaluate[bool](t, tab, `document.getElementById('side').classList.contains('is-collapsed')`) {
		t.Fatal("on a phone the map does not start folded away")
	}
	b.pickOnMap("aleppo")
	if !evaluate[bool](t, tab, `document.getElementById('side').classList.contains('is-collapsed')`) {
		t.Errorf("after the pick the map stays unfolded")
	}
	picked := b.rfValue("rf-lat")

	b.rfSet("rf-category", "shelling")
	b.rfSet("rf-observed_at", evaluate[string](t, tab, `(() => {
		const d = new Date(Date.now() + 2 * 3600 * 1000);
		const p = (n) => String(n).padStart(2, '0');
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
	})()`))
	b.rfSet("rf-count", "0")
	b.rfSet("rf-lat", "95")
	b.click(rf("rf-submit"))

	problem := func(field string) string {
		return evaluate[string](t, tab, fmt.Sprintf(`(() => {
			const box = document.querySelector('%s [data-field="%s"] > .form-error');
			return box && !box.hidden ? box.textContent : '';
		})()`, reportDialog, field))
	}
	eventuallyIn(t, tab, boardWait, "the server's problems next to the fields", func() bool {
		return problem("observed_at") != "" && problem("count") != "" && problem("location.lat") != ""
	})
	for field, want := range map[string]string{
		"observed_at":  "Is more than 5m0s in the future.",
		"count":        "Must be between 1 and 100000.",
		"location.lat": "Must be between -90 and 90.",
	} {
		if got := problem(field); got != want {
			t.Errorf("next to %s the form says %q, want %q", field, got, want)
		}
	}
	for _, field := range []string{"zone", "category", "reported_by", "location", "location.lon", "casualties"} {
		if got := problem(field); got != "" {
			t.Errorf("next to %s, which has no problem, the form says %q", field, got)
		}
	}
	if got := b.text(rf("rf-summary")); got != "The server refused the report: 3 problems, marked below." {
		t.Errorf("the form's summary says %q", got)
	}
	invalid := evaluate[[]string](t, tab, fmt.Sprintf(`[...document.querySelectorAll('%s [aria-invalid=true]')].map((e) => e.dataset.testid)`, reportDialog))
	if !slices.Equal(invalid, []string{"rf-observed_at", "rf-lat", "rf-count"}) {
		t.Errorf("the fields marked invalid are %q", invalid)
	}
	if got := evaluate[string](t, tab, `document.activeElement?.dataset.testid ?? ''`); got != "rf-observed_at" {
		t.Errorf("the focus is on %q, want the first field with a problem", got)
	}
	// Each problem is the description of its field, for screen readers.
	if !evaluate[bool](t, tab, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		return e.getAttribute('aria-describedby').split(' ').some((id) => document.getElementById(id).textContent.includes('between 1 and'));
	})()`, rf("rf-count"))) {
		t.Errorf("the count's problem does not describe the count field")
	}
	if !b.formOpen() {
		t.Errorf("the form closed on a refused report")
	}
	saveArtifact(t, tab, "report-form-problems-390.png")
	if n := len(alerts(t, a, "aleppo")); n != 0 {
		t.Errorf("a refused report made %d alerts", n)
	}

	// Corrected field by field: each loses its problem.
	b.rfSet("rf-count", "2")
	if got := problem("count"); got != "" {
		t.Errorf("the corrected count still says %q", got)
	}
	b.rfSet("rf-lat", picked)
	b.rfSet("rf-observed_at", evaluate[string](t, tab, `(() => {
		const d = new Date(Date.now() - 10 * 60 * 1000);
		const p = (n) => String(n).padStart(2, '0');
		return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
	})()`))
	if n := evaluate[int](t, tab, fmt.Sprintf(`document.querySelectorAll('%s [aria-invalid=true]').length`, reportDialog)); n != 0 {
		t.Errorf("%d fields are still marked invalid after the corrections", n)
	}
	// The answer to the first try is lost on its way back: the board cannot
	// tell whether the report was stored, and says so. Sent again, it is
	// the same report, counted once.
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`(() => {
		const real = window.fetch;
		window.fetch = async (url, init) => {
			const res = await real(url, init);
			if (String(url).endsWith('/api/v1/reports') && init?.method === 'POST') {
				window.fetch = real;
				throw new TypeError('Failed to fetch');
			}
			return res;
		};
	})()`)); err != nil {
		t.Fatal(err)
	}
	b.watchFlashes()
	b.click(rf("rf-submit"))
	b.eventually(boardWait, "the form to say the answer was lost", func() bool {
		return strings.Contains(b.text(rf("rf-summary")), "Send it again: it will not count twice.")
	})
	b.click(rf("rf-submit"))
	al, key := b.waitReportAlert(a, "aleppo")
	if al.ReportCount != 1 || len(al.ReportIDs) != 1 {
		t.Errorf("the alert holds %d reports %v, want only the corrected one, once", al.ReportCount, al.ReportIDs)
	}
	b.eventually(boardWait, "a toast saying the report was already received", func() bool {
		return strings.Contains(b.text("[data-testid=toast]"), "Report already received (id "+key+")")
	})
	if r := storedReport(t, a, key); r.Count != 2 || r.Location == nil || strconv.FormatFloat(r.Location.Lat, 'f', -1, 64) != picked {
		t.Errorf("stored %+v (location %+v), want the corrected count and latitude %s", r.Report, r.Location, picked)
	}
	saveArtifact(t, tab, "report-form-sent-390.png")
}

// TestBoardReportFormWho: the form is for those who may submit. A viewer
// has no "New report" (nor its key); a liaison chooses among their own zones.
func TestBoardReportFormWho(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	tab := startBrowser(t)

	viewer := signInBoard(t, tab, a, alerting.User{Name: "observer", FullName: "Ines Lund", Role: alerting.RoleViewer}, "")
	if viewer.shown(`[data-testid=new-report]`) {
		t.Errorf("a viewer is offered New report")
	}
	if err := chromedp.Do(tab, chromedp.KeyEvent("n")); err != nil {
		t.Fatal(err)
	}
	if viewer.formOpen() {
		t.Errorf("n opens the report form for a viewer")
	}

	liaison := alerting.User{Name: "liaison-ai", FullName: "Nadia Haddad", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"idlib", "aleppo"}}
	b := signInBoard(t, newProfile(t, tab, "the liaison's browser"), a, liaison, "")
	b.openReportForm()
	zones := evaluate[[]string](t, b.ctx, fmt.Sprintf(`[...document.querySelector(%q).options].map((o) => o.value + ':' + o.text)`, rf("rf-zone")))
	if want := []string{":Choose a zone…", "aleppo:Aleppo", "idlib:Idlib"}; !slices.Equal(zones, want) {
		t.Errorf("the liaison may report for %q, want %q", zones, want)
	}
}
