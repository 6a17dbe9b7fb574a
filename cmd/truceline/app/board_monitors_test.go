package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting"
)

// TestBoardShowsTheSourcesAndAZoneNobodyHears: the board lists each zone's
// monitored sources with where they stand (heard N s ago, silent for N,
// paused by schedule), and marks a zone whose sources are all silent ("no
// source heard") in the zone table and in the list, while a zone with one
// source heard is not marked. A heartbeat takes the mark away.
//
// With TRUCELINE_SCREENSHOTS=1 it writes docs/board-monitors.png.
func TestBoardShowsTheSourcesAndAZoneNobodyHears(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	now := time.Now().UTC()
	// A schedule that is not on now: from two to three hours ahead.
	off := &alerting.Recurrence{From: now.Add(2 * time.Hour).Format("15:04"), To: now.Add(3 * time.Hour).Format("15:04"), Timezone: "UTC"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.ApplyConfig(ctx, alerting.Config{Monitors: []alerting.Monitor{
		{ID: "op-latakia-north", Name: "OP Latakia North", Kind: "observation_post", Zones: []string{"latakia"}, Interval: alerting.Duration(time.Hour)},
		{ID: "op-aleppo-east", Name: "OP Aleppo East", Kind: "observation_post", Zones: []string{"aleppo"}, Interval: alerting.Duration(time.Hour)},
		{ID: "op-aleppo-west", Name: "OP Aleppo West", Kind: "observation_post", Zones: []string{"aleppo"}, Interval: alerting.Duration(10 * time.Second)},
		{ID: "op-idlib-south", Name: "OP Idlib South", Kind: "observation_post", Zones: []string{"idlib"}, Interval: alerting.Duration(10 * time.Second)},
		{ID: "party-b-system", Name: "Party B reporting system", Kind: "party_system", Zones: []string{"daraa"}, Interval: alerting.Duration(time.Hour), Schedule: off},
	}}); err != nil {
		t.Fatal(err)
	}
	admin := userToken(t, a, alerting.User{Name: "ops", Role: alerting.RoleAdmin})
	beat := func(monitor string) {
		t.Helper()
		if status, body := call(t, a, admin, "POST", "/api/v1/monitors/"+monitor+"/heartbeat", ""); status != http.StatusOK {
			t.Fatalf("heartbeat of %s: %d %s", monitor, status, body)
		}
	}
	beat("op-latakia-north")
	beat("op-aleppo-east")

	tab := startBrowser(t)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	b := signInBoard(t, tab, a, dutyOfficer, "")
	state := func(monitor string) string {
		return b.text(fmt.Sprintf(`[data-testid=sources] [data-monitor=%q] [data-testid=source-state]`, monitor))
	}
	unwatched := func() string {
		return evaluate[string](t, tab, `[...document.querySelectorAll('[data-testid=zone-counter][data-unwatched=true]')].map((r) => r.dataset.zone).join(' ')`)
	}
	heard := regexp.MustCompile(`^heard \d+ s ago$`)
	silent := regexp.MustCompile(`^silent for \d+ s$`)
	b.eventually(boardWait, "the heard and paused sources", func() bool {
		return heard.MatchString(state("op-latakia-north")) && heard.MatchString(state("op-aleppo-east")) &&
			state("party-b-system") == "paused by schedule"
	})
	// The two 10 s posts fall silent, and open their alerts; the board
	// learns it from those alerts' frames.
	b.eventually(30*time.Second, "the silent sources and the zone nobody hears", func() bool {
		return silent.MatchString(state("op-idlib-south")) && silent.MatchString(state("op-aleppo-west")) && unwatched() == "idlib"
	})
	if got := b.text(`[data-testid=zone-counter][data-zone=idlib] [data-testid=zone-sources]`); got != "No source heard" {
		t.Errorf("Idlib's row says %q", got)
	}
	if got := b.text(`[data-testid=zone-counter][data-zone=aleppo] [data-testid=zone-sources]`); got != "2 sources · 1 silent" {
		t.Errorf("Aleppo's row says %q", got)
	}
	if got := b.text(`[data-testid=source-zone][data-zone=idlib] .no-source-badge`); got != "no source heard" {
		t.Errorf("Idlib in the sources' list: %q", got)
	}
	if got := b.text(`[data-testid=zone-counter][data-zone=daraa] [data-testid=zone-sources]`); got != "1 source · paused" {
		t.Errorf("Daraa's row says %q", got)
	}
	if b.shown(`[data-testid=source-zone][data-zone=aleppo] .no-source-badge`) {
		t.Error("Aleppo, with a source heard, is marked unwatched")
	}
	// The silent times go on ticking.
	before := state("op-idlib-south")
	b.eventually(5*time.Second, "the silence to count on", func() bool { return state("op-idlib-south") != before })

	if os.Getenv("TRUCELINE_SCREENSHOTS") == "1" {
		if err := chromedp.Do(tab, chromedp.ScrollIntoView(`#sources`)); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		checkPNG(t, shot, 1280, 900)
		path := filepath.Join("..", "..", "..", "docs", "board-monitors.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	saveArtifact(t, tab, "board-monitors.png")
	if os.Getenv("TRUCELINE_ARTIFACTS") != "" {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
			t.Fatal(err)
		}
		if evaluate[bool](t, tab, `document.getElementById('side').classList.contains('is-collapsed')`) {
			b.click(`#side-toggle`)
		}
		if err := chromedp.Do(tab, chromedp.ScrollIntoView(`#sources`)); err != nil {
			t.Fatal(err)
		}
		saveArtifact(t, tab, "board-monitors-390.png")
		if err := chromedp.Do(tab, chromedp.ScrollIntoView(`[data-testid=zone-counters]`)); err != nil {
			t.Fatal(err)
		}
		saveArtifact(t, tab, "board-monitors-390-zones.png")
		if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
			t.Fatal(err)
		}
	}

	// Heard again: its alert resolves, and Idlib is watched again (until
	// its next silence, 10 s on).
	beat("op-idlib-south")
	b.eventually(boardWait, "Idlib heard again", func() bool {
		return heard.MatchString(state("op-idlib-south")) && unwatched() == "" &&
			b.text(`[data-testid=zone-counter][data-zone=idlib] [data-testid=zone-sources]`) == "1 source"
	})

	// The daily summary counts the silence in Idlib, and none of OP
	// Latakia North.
	status, body := call(t, a, admin, "GET", "/api/v1/summary?zone=idlib,latakia&cutoff=0&tz=UTC", "")
	var summary struct{ Sources []alerting.SourceDay }
	if status != http.StatusOK || json.Unmarshal([]byte(body), &summary) != nil {
		t.Fatalf("GET /api/v1/summary: %d %s", status, body)
	}
	// Silent from its interval (10 s) before its alert opened until the
	// heartbeat: at least 10 s, and less than the test took.
	if ss := summary.Sources; len(ss) != 2 || ss[0].Monitor != "op-idlib-south" || ss[0].Zone != "idlib" || ss[0].SilentPeriods != 1 ||
		ss[0].SilentSeconds < 10 || ss[0].SilentSeconds > int64(time.Since(now)/time.Second) || ss[1].Monitor != "op-latakia-north" || ss[1].SilentPeriods != 0 || ss[1].SilentSeconds != 0 {
		t.Errorf("the summary's sources: %+v", ss)
	}
	if err := chromedp.Do(tab, chromedp.Navigate("http://"+a.HTTPAddr()+"/summary?cutoff=0&tz=UTC")); err != nil {
		t.Fatal(err)
	}
	summaryLine := func(monitor string) string {
		return b.text(fmt.Sprintf(`[data-testid=summary-zone][data-zone=aleppo] [data-testid=summary-source][data-monitor=%q] .sum-source-silence`, monitor))
	}
	b.eventually(boardWait, "the sources in the daily summary", func() bool {
		return summaryLine("op-aleppo-east") == "never silent" && regexp.MustCompile(`^silent once · \d+ s$`).MatchString(summaryLine("op-aleppo-west"))
	})
	saveArtifact(t, tab, "summary-monitors.png")
}
