package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestRegimesCountDownOnTheBoard: the board lists the regimes in force,
// soonest end first, each counting down live; each zone's row names the
// regime that ends first there; a regime-end notice counts down in its row;
// and a liaison sees the regimes of its zones by name.
func TestRegimesCountDownOnTheBoard(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	now := time.Now().UTC()
	in := func(dur time.Duration) *time.Time { t := now.Add(dur).Truncate(time.Second); return &t }
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A regime of silence over Idlib ending in 40 minutes (so its end is
	// announced: warn_before is 1 h), a ceasefire over Aleppo ending in 3
	// days, and a cessation of hostilities everywhere without an end.
	if err := a.ApplyConfig(ctx, alerting.Config{Regimes: []alerting.Regime{
		{ID: "silence-idlib", Name: "Regime of silence, Idlib", Zones: []string{"idlib"}, Kind: alerting.RegimeOfSilence,
			StartsAt: now.Add(-2 * time.Hour), EndsAt: in(40 * time.Minute), WarnBefore: alerting.Duration(time.Hour)},
		{ID: "aleppo-ceasefire", Name: "Aleppo ceasefire", Zones: []string{"aleppo"}, Kind: alerting.CessationOfHostilities,
			StartsAt: now.Add(-24 * time.Hour), EndsAt: in(72 * time.Hour)},
		{ID: "coh", Name: "Cessation of hostilities", Zones: []string{"*"}, Kind: alerting.CessationOfHostilities,
			StartsAt: now.Add(-48 * time.Hour)},
	}}); err != nil {
		t.Fatal(err)
	}

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	regimes := func() []string {
		return evaluate[[]string](t, tab, `[...document.querySelectorAll('[data-testid=regimes] [data-testid=regime]')].map((r) => r.dataset.regime)`)
	}
	eventuallyIn(t, tab, boardWait, "the three regimes, soonest end first", func() bool {
		return strings.Join(regimes(), " ") == "silence-idlib aleppo-ceasefire coh"
	})
	left := `[data-testid=regimes] [data-regime=silence-idlib] [data-testid=regime-left]`
	before := b.text(left)
	// Within 40 minutes, however slow the sign-in was on a busy machine.
	if !strings.HasPrefix(before, "ends in 3") && !strings.HasPrefix(before, "ends in 40:") {
		t.Errorf("the Idlib regime says %q, want at most 40 minutes left", before)
	}
	b.eventually(5*time.Second, "the countdown to tick", func() bool { return b.text(left) != before })
	if got := b.text(`[data-testid=regimes] [data-regime=coh] [data-testid=regime-left]`); got != "no end set" {
		t.Errorf("the regime without an end says %q", got)
	}
	zoneLine := func(zone string) string {
		return b.text(fmt.Sprintf(`[data-testid=zone-counter][data-zone=%q] [data-testid=zone-regime]`, zone))
	}
	b.eventually(boardWait, "each zone's regime ending first", func() bool {
		return strings.HasPrefix(zoneLine("idlib"), "Regime of silence, Idlib · ends in ") &&
			strings.HasPrefix(zoneLine("aleppo"), "Aleppo ceasefire · ends in 2 d 23 h ") &&
			zoneLine("daraa") == "Cessation of hostilities · no end set"
	})

	// The announcement of the Idlib regime's end counts down in its row.
	var notice string
	alertingtest.Eventually(t, boardWait, "the regime-end notice in Idlib", func() bool {
		for _, al := range alerts(t, a, "idlib") {
			if al.Rule == alerting.RegimeEndRule {
				notice = al.ID
			}
		}
		return notice != ""
	})
	tag := fmt.Sprintf(`[data-alert-id=%q] [data-testid=regime-end-countdown]`, notice)
	b.eventually(boardWait, "the notice's countdown", func() bool {
		return strings.HasPrefix(b.text(tag), "regime ends in 3") || strings.HasPrefix(b.text(tag), "regime ends in 40:")
	})
	if title := b.text(fmt.Sprintf(`[data-alert-id=%q] .title-text`, notice)); !strings.HasPrefix(title, "Regime of silence, Idlib ends at ") {
		t.Errorf("the notice's title is %q", title)
	}
	saveArtifact(t, tab, "board-regimes.png")

	// A liaison of Idlib reads the regimes of Idlib, by name.
	tab2 := newProfile(t, tab, "the liaison's browser")
	liaison := alerting.User{Name: "liaison-idlib", FullName: "Idlib liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"idlib"}}
	signInBoard(t, tab2, a, liaison, "")
	eventuallyIn(t, tab2, boardWait, "the liaison's regimes", func() bool {
		return evaluate[string](t, tab2, `[...document.querySelectorAll('[data-testid=regimes] [data-testid=regime] .regime-name')].map((r) => r.textContent).join('|')`) ==
			"Regime of silence, Idlib|Cessation of hostilities"
	})
}
