package app_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// runOutPolicies gives airstrikes a policy whose last step comes two
// seconds after opening, so that an unacknowledged airstrike's escalation
// runs out at once, shelling and small-arms fire one whose second step is
// an hour away, and explosions one that only shows them on the board (its
// one step fires at opening: exhausted, but never escalated).
func runOutPolicies(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	board := []string{alerting.BoardTarget}
	if err := a.ApplyConfig(ctx, alerting.Config{
		Policies: []alerting.Policy{
			{ID: "short", Name: "Runs out in two seconds", Steps: []alerting.Step{
				{After: 0, Notify: board},
				{After: alerting.Duration(2 * time.Second), Notify: board},
			}},
			{ID: "long", Name: "Second step in an hour", Steps: []alerting.Step{
				{After: 0, Notify: board},
				{After: alerting.Duration(time.Hour), Notify: board},
			}},
			{ID: "board-only", Name: "Shown on the board, never escalated", Steps: []alerting.Step{{After: 0, Notify: board}}},
		},
		Rules: []alerting.Rule{
			{ID: "airstrikes", Name: "Airstrikes", Categories: []alerting.Category{"airstrike"}, Policy: "short"},
			{ID: "others", Name: "Shelling and small arms", Categories: []alerting.Category{"shelling", "small_arms"}, Policy: "long"},
			{ID: "explosions", Name: "Explosions", Categories: []alerting.Category{"explosion"}, Policy: "board-only"},
		},
	}); err != nil {
		t.Fatalf("apply the policies: %v", err)
	}
}

// TestBoardUnansweredIsLoudest lets an extreme alert's escalation run out
// with nobody acknowledging it, on a board that already shows a fresh
// extreme and a fresh minor alert and a board-only one: its row becomes the
// loudest (marked, red, with a badge saying nobody acknowledged), goes to
// the top, is counted in the header and sounds the alarm when the sound is
// on. Acknowledged, it calms down and takes its place by severity and time
// again. The board-only alert, exhausted as it opened without escalating,
// stays calm throughout. With the sound off, an escalation that runs out
// makes no sound.
func TestBoardUnansweredIsLoudest(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	runOutPolicies(t, a)
	postReport(t, a, report{ID: "fresh-extreme", Zone: "idlib", Category: "shelling", Severity: "extreme"}, time.Minute)
	postReport(t, a, report{ID: "fresh-minor", Zone: "daraa", Category: "small_arms", Severity: "minor"}, time.Minute)
	postReport(t, a, report{ID: "board-only", Zone: "homs-north", Category: "explosion", Severity: "moderate"}, 2*time.Minute)
	freshExtreme, freshMinor, boardOnly := onlyAlert(t, a, "idlib"), onlyAlert(t, a, "daraa"), onlyAlert(t, a, "homs-north")

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the three alerts", func(rows []boardRow) bool { return len(rows) == 3 })
	if got := b.text(fmt.Sprintf(`[data-alert-id=%q] [data-testid=countdown]`, boardOnly)); got != "stopped: exhausted" {
		t.Errorf("the board-only alert's escalation says %q, want stopped: exhausted", got)
	}
	// The sound on (a click: the page may make sound), and every cue
	// noted instead of played.
	b.click(`[data-testid=sound-toggle]`)
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`(() => {
		window.cues = [];
		window.truceline.sound._play = (name) => { window.cues.push(name); };
	})()`)); err != nil {
		t.Fatal(err)
	}

	// An extreme airstrike, observed half an hour ago: older than the
	// fresh extreme alert, which comes first until its escalation runs out.
	postReport(t, a, report{ID: "runs-out", Zone: "aleppo", Category: "airstrike", Severity: "extreme"}, 30*time.Minute)
	id := onlyAlert(t, a, "aleppo")
	row := fmt.Sprintf(`[data-testid=alert][data-alert-id=%q]`, id)
	loud := func() bool {
		return evaluate[bool](t, tab, fmt.Sprintf(`(() => {
			const r = document.querySelector(%q);
			const badge = r && r.querySelector('[data-testid=unanswered]');
			return !!badge && r.classList.contains('is-unanswered') && badge.getClientRects().length > 0;
		})()`, row))
	}
	eventuallyIn(t, tab, boardWait, "the row to say nobody acknowledged", loud)
	if got := b.text(row + ` [data-testid=unanswered]`); got != "Nobody acknowledged — escalation exhausted" {
		t.Errorf("the badge says %q", got)
	}
	if got := b.text(row + ` [data-testid=countdown]`); got != "stopped: exhausted" {
		t.Errorf("the escalation cell says %q, want stopped: exhausted", got)
	}
	order := func(ids ...string) func([]boardRow) bool {
		return func(rows []boardRow) bool {
			var got []string
			for _, r := range rows {
				got = append(got, r.ID)
			}
			return slices.Equal(got, ids)
		}
	}
	b.waitRows(boardWait, "the unanswered alert above the fresh extreme, board-only moderate and fresh minor ones",
		order(id, freshExtreme, boardOnly, freshMinor))
	if evaluate[bool](t, tab, fmt.Sprintf(`document.querySelector('[data-alert-id=%q]').classList.contains('is-unanswered')`, boardOnly)) {
		t.Errorf("the board-only alert, exhausted as it opened, is marked unanswered")
	}
	if !b.shown(`[data-testid=unanswered-wrap]`) || b.text(`[data-testid=unanswered-count]`) != "1" {
		t.Errorf("the header does not count one unanswered alert: %q", b.text(`[data-testid=unanswered-wrap]`))
	}
	if cues := evaluate[[]string](t, tab, `window.cues`); !slices.Contains(cues, "unanswered") {
		t.Errorf("the board played %q, not the unanswered alarm", cues)
	}
	b.openDetail(id)
	if got := b.text(`[data-testid=detail] [data-testid=detail-unanswered]`); !strings.Contains(got, "Nobody acknowledged") ||
		!b.shown(`[data-testid=detail] [data-testid=detail-unanswered]`) {
		t.Errorf("the detail panel's badge says %q", got)
	}
	saveArtifact(t, tab, "board-unanswered.png")

	// Acknowledged (in the panel), it calms down: unmarked, and back in
	// its place.
	b.click(`[data-testid=detail] [data-testid=detail-ack]`)
	b.waitRows(boardWait, "the acknowledged alert below the fresh extreme one", func(rows []boardRow) bool {
		r, _ := rowByID(rows, id)
		return r.State == "acknowledged" && order(freshExtreme, id, boardOnly, freshMinor)(rows)
	})
	if evaluate[bool](t, tab, fmt.Sprintf(`document.querySelector(%q).classList.contains('is-unanswered')`, row)) || b.shown(row+` [data-testid=unanswered]`) {
		t.Errorf("the acknowledged row is still marked unanswered")
	}
	if b.shown(`[data-testid=unanswered-wrap]`) || b.shown(`[data-testid=detail] [data-testid=detail-unanswered]`) {
		t.Errorf("the header or the panel still shows an unanswered alert")
	}
	saveArtifact(t, tab, "board-unanswered-acked.png")

	// Sound off: another escalation runs out in silence.
	b.click(`[data-testid=sound-toggle]`)
	if err := chromedp.Do(tab, chromedp.Evaluate[chromedp.Void](`window.cues = []`)); err != nil {
		t.Fatal(err)
	}
	postReport(t, a, report{ID: "runs-out-muted", Zone: "latakia", Category: "airstrike", Severity: "minor"}, time.Minute)
	muted := fmt.Sprintf(`[data-testid=alert][data-alert-id=%q]`, onlyAlert(t, a, "latakia"))
	eventuallyIn(t, tab, boardWait, "the muted board to mark the second unanswered alert", func() bool {
		return evaluate[bool](t, tab, fmt.Sprintf(`!!document.querySelector(%q)?.classList.contains('is-unanswered')`, muted))
	})
	if cues := evaluate[[]string](t, tab, `window.cues`); len(cues) != 0 {
		t.Errorf("with the sound off the board played %q", cues)
	}
}
