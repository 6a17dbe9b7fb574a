package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestTheDetailListsTheReports: the detail panel shows an alert's reports
// as facts, newest first, ten at a time: when each was observed and how
// late it came, who says so and who sent it, weapon, target, alleged
// perpetrator, place (shown on the map at a click), casualties and
// description; and it filters them by alleged perpetrator.
func TestTheDetailListsTheReports(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	// Twelve reports of one incident: the first observed 9 minutes before it
	// was sent, the rest a minute or less.
	postReport(t, a, report{ID: "rep-01", Zone: "aleppo", Category: "shelling", ReportedBy: "OP Sierra-3",
		SourceType: "own_monitor", Certainty: "observed", Weapon: "82mm mortar", Target: "civilian", AttributedTo: "party-a",
		Casualties: map[string]int{"killed": 1, "injured": 2}, Description: "Four rounds near the water station.",
		Location: &location{Lat: 36.2012, Lon: 37.1345, PrecisionM: 300}}, 9*time.Minute)
	for i := 2; i <= 12; i++ {
		party := "party-b"
		if i%4 == 0 {
			party = "party-a"
		}
		postReport(t, a, report{ID: fmt.Sprintf("rep-%02d", i), Zone: "aleppo", Category: "shelling", AttributedTo: party}, 0)
	}
	id := onlyAlert(t, a, "aleppo")
	alertingtest.Eventually(t, boardWait, "the twelve reports in one alert", func() bool {
		for _, al := range alerts(t, a, "aleppo") {
			return al.ReportCount == 12
		}
		return false
	})

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the alert", hasRow(id))
	b.openDetail(id)
	rows := func() []string {
		return evaluate[[]string](t, tab, `[...document.querySelectorAll('[data-testid=detail] [data-testid=report-row]')].filter((r) => !r.hidden).map((r) => r.querySelector('[data-testid=report-id]').textContent)`)
	}
	var shown []string
	defer func() {
		if t.Failed() {
			t.Logf("the detail's report rows, last looked at: %q", shown)
		}
	}()
	eventuallyIn(t, tab, boardWait, "the newest ten reports, newest first", func() bool {
		shown = rows()
		return len(shown) == 10 && shown[0] == "rep-12" && shown[9] == "rep-03"
	})
	if s := b.text(`[data-testid=detail] [data-testid=reports-status]`); s != "Showing the newest 10 of 12 reports, newest first" {
		t.Errorf("the status says %q", s)
	}
	b.click(`[data-testid=detail] [data-testid=reports-more]`)
	eventuallyIn(t, tab, boardWait, "all twelve after 'older'", func() bool {
		got := rows()
		return len(got) == 12 && got[11] == "rep-01"
	})

	// The oldest, rep-01, is the last row.
	first := `[data-testid=detail] [data-testid=report-row]:last-child`
	text := b.text(first)
	for _, want := range []string{"arrived 9 min late", "OP Sierra-3", "own monitor", "sent by test-admin", "82mm mortar",
		"Target civilian", "Alleged Co-chair A", "Certainty Observed", "36.2012, 37.1345 ±300 m", "1 killed2 injured",
		"Four rounds near the water station."} {
		if !strings.Contains(text, want) {
			t.Errorf("the first report's row lacks %q: %q", want, text)
		}
	}

	evaluate[bool](t, tab, `(() => {
		const s = document.querySelector('[data-testid=detail] [data-testid=reports-party]');
		s.value = 'party-a';
		s.dispatchEvent(new Event('change'));
		return true;
	})()`)
	eventuallyIn(t, tab, boardWait, "only the reports alleging Co-chair A", func() bool {
		got := rows()
		return strings.Join(got, " ") == "rep-12 rep-08 rep-04 rep-01"
	})
	if s := b.text(`[data-testid=detail] [data-testid=reports-status]`); s != "4 of all 12 reports allege Co-chair A" {
		t.Errorf("the status says %q", s)
	}

	if got := b.text(`[data-testid=detail] [data-testid=alleged]`); got != "Co-chair A (4 reports), Co-chair B (8 reports)" {
		t.Errorf("the detail says alleged %q", got)
	}

	b.click(first + ` [data-testid=report-place]`)
	eventuallyIn(t, tab, boardWait, "the place on the map", func() bool {
		return evaluate[bool](t, tab, `(() => {
			const m = window.truceline.map.map, c = m.getCenter();
			return !!document.querySelector('[data-testid=map] [data-testid=map-focus]') && m.getZoom() >= 11 &&
				Math.abs(c.lat - 36.2012) < 0.001 && Math.abs(c.lng - 37.1345) < 0.001;
		})()`)
	})
	saveArtifact(t, tab, "board-reports.png")

	// A report that arrives while the list loads makes it load again after,
	// not alongside: two loads at once each added the newest ten. The
	// list's page requests are held until both arrivals are in.
	evaluate[bool](t, tab, `(() => {
		const r = window.truceline.detail.reports, a = window.truceline.detail.alert, page = r._page.bind(r);
		let release;
		const held = new Promise((resolve) => { release = resolve; });
		r._page = async (offset, limit) => { await held; return page(offset, limit); };
		r.party.value = '';
		r.alertId = ''; // as if another alert had been shown: the list starts over
		r.show(a);
		r.show({ ...a, report_ids: [...a.report_ids, 'rep-13'] });
		release();
		return true;
	})()`)
	eventuallyIn(t, tab, boardWait, "the newest ten once, after two arrivals during a load", func() bool {
		shown = rows()
		return len(shown) == 10 && shown[0] == "rep-12" && shown[9] == "rep-03" &&
			evaluate[int](t, tab, `document.querySelectorAll('[data-testid=detail] [data-testid=report-row]').length`) == 10
	})
}
