package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestAFrozenServerMakesTheBoardStale: the board hears a heartbeat every
// ws_heartbeat; when the server goes silent (here: every byte held, as a
// stopped process holds them), the board says within two heartbeats that
// it is stale (the pill, a bar with the time it went silent, STALE in the
// title), reconnects, and once the server speaks again shows what it
// missed. What the server says of its own trouble (Redis down) is shown
// too, and goes when it is over.
func TestAFrozenServerMakesTheBoardStale(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	cfg := d.config(t)
	cfg.WSHeartbeat = 500 * time.Millisecond
	a := start(t, cfg)
	fr := alertingtest.NewFreezer(t, a.HTTPAddr())
	tab := startBrowser(t)
	boardUser(t, a, dutyOfficer)
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+fr.Addr()+"/")); err != nil {
		t.Fatal(err)
	}
	b := &board{t: t, ctx: tab}
	b.signIn(dutyOfficer.Name, testPassword)
	b.waitBoard()

	// With the sound on, going stale is heard too: record the cues.
	b.click(`[data-testid=sound-toggle]`)
	evaluate[bool](t, tab, `(() => {
		window.__played = [];
		const s = window.truceline.sound, play = s._play.bind(s);
		s._play = (kind, gain) => { window.__played.push(kind); play(kind, gain); };
		return true;
	})()`)

	fr.Freeze()
	frozenAt := time.Now()
	b.eventually(boardWait, "the board to say it is stale", func() bool {
		return evaluate[string](t, tab, `document.querySelector('[data-testid=conn]').dataset.state`) == "stale" &&
			strings.Contains(b.text("[data-testid=offline-bar]"), "No word from the server since") &&
			strings.HasPrefix(evaluate[string](t, tab, `document.title`), "STALE")
	})
	// The page's own clock: two heartbeats, its one-second watch, and
	// the test's polling; not how fast the machine is.
	t.Logf("stale %.1f s after the freeze", time.Since(frozenAt).Seconds())
	if played := evaluate[[]string](t, tab, `window.__played`); strings.Join(played, " ") != "stale" {
		t.Errorf("the board played %v on going stale, want the stale cue once", played)
	}
	post(t, a, "/api/v1/reports", reportJSON("while-frozen", "aleppo", "shelling"))
	fr.Thaw()
	aleppo := onlyAlert(t, a, "aleppo")
	b.waitRows(boardWait, "the report sent while the board was frozen out", hasRow(aleppo))
	b.waitLive()
	eventuallyIn(t, tab, boardWait, "the stale marks to go", func() bool {
		return evaluate[bool](t, tab, `document.querySelector('[data-testid=offline-bar]').hidden`) &&
			!strings.HasPrefix(evaluate[string](t, tab, `document.title`), "STALE")
	})

	// The server's own trouble.
	d.redis.Kill(t)
	b.eventually(boardWait, "the board to show that Redis is down", func() bool {
		return strings.Contains(b.text("[data-testid=server-health]"), "Server trouble: redis:")
	})
	d.redis.Restart(t)
	eventuallyIn(t, tab, 30*time.Second, "the trouble to go", func() bool {
		return evaluate[bool](t, tab, `document.querySelector('[data-testid=server-health]').hidden`)
	})
}
