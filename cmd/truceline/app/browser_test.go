package app_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"

	"github.com/truceline/truceline/alerting/alertingtest"
)

const (
	chromiumPath = "/usr/bin/chromium"
	// browserTimeout bounds every chromedp context, for the whole test: a
	// browser test that hangs fails instead of blocking CI. Browser tests
	// take 5 to 20 s on a quiet machine, and several times that on a
	// loaded one.
	browserTimeout = 4 * time.Minute
	// boardWait is how long the board gets to show a change.
	boardWait = 10 * time.Second
)

// needChromium skips the test when Chromium is not installed, except in CI
// (CI=true), where that fails the test.
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the board tests need Chromium at %s (%v): install chromium (apt-get install chromium)", chromiumPath, err)
		}
		t.Skipf("skipping the board test: no Chromium at %s; install chromium (apt-get install chromium) to run it (with CI=true this is a failure)", chromiumPath)
	}
}

// The browser tests share one headless Chromium per run of the package
// (started by the first, closed by TestMain). Each test borrows browser
// contexts of it (startBrowser, newProfile): each its own cookies and
// storage, as if it were a browser of its own. A context a passing test is
// done with is wiped and kept, its tab parked on a blank page on 127.0.0.1,
// for the next test to borrow: the renderer process that hosts the boards,
// all on 127.0.0.1, is started once per context rather than once per test
// (each start costs a second or more of CPU on these machines).
var chromium struct {
	mu      sync.Mutex
	ctx     context.Context // its first tab, which stays open
	stop    func()
	profile string
	parking *httptest.Server // the blank page parked tabs show
	parked  []parkedTab      // browser contexts no test holds
}

// parkedTab is the one tab of a browser context, and what closes it.
type parkedTab struct {
	ctx   context.Context
	close func()
}

// sharedBrowser is the package's Chromium, started now if it is not
// running (the first time, or after it died).
func sharedBrowser() (context.Context, error) {
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.ctx != nil && chromium.ctx.Err() == nil {
		return chromium.ctx, nil
	}
	stopBrowserLocked()
	profile, err := os.MkdirTemp("", "truceline-chromium-")
	if err != nil {
		return nil, err
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "SpareRendererForSitePerProcess"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 720),
	)
	ctx, cancel := chromedp.NewContext(allocCtx)
	chromium.ctx, chromium.profile = ctx, profile
	parking := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "<!doctype html><title>parked</title>")
	}))
	chromium.parking = parking
	chromium.stop = func() {
		parking.Close()
		// Closing the browser, rather than killing it, lets it remove what
		// it keeps in its profile.
		_ = chromedp.Cancel(ctx)
		cancel()
		cancelAlloc() // waits for the browser to exit
		_ = os.RemoveAll(profile)
	}
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err = <-started:
	case <-time.After(browserTimeout):
		err = fmt.Errorf("no answer in %s", browserTimeout)
	}
	if err != nil {
		stopBrowserLocked()
		return nil, fmt.Errorf("start %s: %w", chromiumPath, err)
	}
	return ctx, nil
}

func stopBrowserLocked() {
	for _, tab := range chromium.parked {
		tab.close()
	}
	if chromium.stop != nil {
		chromium.stop()
	}
	chromium.ctx, chromium.stop, chromium.parking, chromium.parked = nil, nil, nil, nil
}

// stopBrowser closes the package's Chromium, if it runs.
func stopBrowser() {
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	stopBrowserLocked()
}

// testParallel is how many tests run at once unless -parallel says
// otherwise. Each test waits on its own servers, browser tabs and clocks
// far more than it computes, so more of them run at once than there are
// cores: with 4, the two cores still idled a fifth of the time.
const testParallel = 6

func TestMain(m *testing.M) {
	flag.Parse()
	alertingtest.Parallel(testParallel)
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// startBrowser returns the first tab of a browser of the test's own: a
// browser context of the shared Chromium, with its own cookies. newTab
// opens more tabs in it, newProfile another browser context. The test holds
// it until it ends, and every chromedp call through it fails after
// browserTimeout.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return borrowTab(t, "tab 1")
}

// newTab opens another tab, in its own window, in the browser of tab. It
// shares tab's cookies: it is signed in as the same user.
func newTab(t *testing.T, tab context.Context, name string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(tab)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	if err := setUpTab(ctx); err != nil {
		t.Fatal(err)
	}
	keepConsole(t, ctx, name)
	return ctx
}

// newProfile opens a tab in a browser with cookies of its own (a separate
// browser context, as another person's browser), for another user to sign
// in.
func newProfile(t *testing.T, _ context.Context, name string) context.Context {
	t.Helper()
	return borrowTab(t, name)
}

// borrowTab lends the test the tab of a browser context of its own: a
// parked one, or a new one. When the test ends the tab is parked again if
// the test passed and wiping it worked, and closed otherwise.
func borrowTab(t *testing.T, name string) context.Context {
	t.Helper()
	needChromium(t)
	tab, err := takeTab()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab.ctx, browserTimeout)
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			tab.close()
			return
		}
		if err := park(tab); err != nil {
			t.Logf("close %s instead of keeping it for another test: %v", name, err)
			tab.close()
		}
	})
	keepConsole(t, ctx, name)
	return ctx
}

// takeTab returns a parked tab, or opens a browser context with a tab.
func takeTab() (parkedTab, error) {
	shared, err := sharedBrowser()
	if err != nil {
		return parkedTab{}, err
	}
	chromium.mu.Lock()
	for len(chromium.parked) > 0 {
		tab := chromium.parked[len(chromium.parked)-1]
		chromium.parked = chromium.parked[:len(chromium.parked)-1]
		if tab.ctx.Err() == nil {
			chromium.mu.Unlock()
			return tab, nil
		}
		tab.close()
	}
	chromium.mu.Unlock()
	ctx, cancel := chromedp.NewContext(shared, chromedp.WithNewBrowserContext())
	tab := parkedTab{ctx: ctx, close: func() {
		_ = chromedp.Cancel(ctx) // closes the browser context
		cancel()
	}}
	if err := chromedp.Do(ctx); err != nil {
		tab.close()
		return parkedTab{}, fmt.Errorf("open a browser context: %w", err)
	}
	if err := setUpTab(ctx); err != nil {
		tab.close()
		return parkedTab{}, err
	}
	return tab, nil
}

// setUpTab makes a new tab cheaper to run: its pages see less motion
// (reduceMotion), and it stops the DevTools events that chromedp asks for
// and no test reads. With the Network domain on, Chromium describes every
// request, response and WebSocket frame of the board to the test; with the
// CSS domain on, it tracks every style sheet. Without them a board's load
// costs Chromium about a tenth less CPU.
func setUpTab(tab context.Context) error {
	if _, err := chromedp.Call(tab, network.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("turn off the Network domain: %w", err)
	}
	if _, err := chromedp.Call(tab, css.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("turn off the CSS domain: %w", err)
	}
	return reduceMotion(tab)
}

// reduceMotion makes the tab's pages see prefers-reduced-motion: reduce, as
// a person who asked for less motion would. The board then shows a new
// alert's highlight without the pulsing glow, which Chromium, rendering in
// software here, would repaint at 60 frames a second for four seconds:
// over a suite, more CPU than everything else the board does. The
// highlight itself (the flash class) is the same either way, and it is
// what the tests check.
func reduceMotion(tab context.Context) error {
	_, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-reduced-motion", Value: "reduce"}}})
	if err != nil {
		return fmt.Errorf("ask for reduced motion: %w", err)
	}
	return nil
}

// park wipes what a test left in tab's browser context (its cookies, the
// storage of every origin its tab showed, the viewport it set), leaves the
// test's page for the blank one, and keeps the tab for the next test.
func park(tab parkedTab) error {
	ctx, cancel := context.WithTimeout(tab.ctx, time.Minute)
	defer cancel()
	history, err := chromedp.Call(ctx, page.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		return err
	}
	chromium.mu.Lock()
	parking := chromium.parking
	chromium.mu.Unlock()
	if parking == nil {
		return errors.New("the browser has stopped")
	}
	// The blank page is on 127.0.0.1 as every board is, so the tab keeps
	// its renderer process.
	if err := chromedp.Do(ctx, chromedp.Navigate(parking.URL)); err != nil {
		return err
	}
	for _, entry := range history.Entries {
		u, err := url.Parse(entry.URL)
		if err != nil || u.Scheme != "http" || u.Host == "" {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if _, err := chromedp.Call(ctx, storage.ClearDataForOrigin, storage.ClearDataForOriginParams{Origin: origin, StorageTypes: "all"}); err != nil {
			return fmt.Errorf("clear the storage of %s: %w", origin, err)
		}
	}
	steps := []error{}
	_, err = chromedp.CallBrowser(ctx, storage.ClearCookies, storage.ClearCookiesParams{BrowserContextID: chromedp.FromContext(ctx).BrowserContextID})
	steps = append(steps, err)
	_, err = chromedp.Call(ctx, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
	steps = append(steps, err)
	_, err = chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: false})
	steps = append(steps, err)
	_, err = chromedp.Call(ctx, page.ResetNavigationHistory, cdp.Empty{})
	steps = append(steps, err)
	if err := errors.Join(steps...); err != nil {
		return err
	}
	chromium.mu.Lock()
	defer chromium.mu.Unlock()
	if chromium.parking != parking { // the browser stopped meanwhile
		return errors.New("the browser has stopped")
	}
	chromium.parked = append(chromium.parked, tab)
	return nil
}

// keepConsole collects what the page writes to its console and logs it when
// the test fails.
func keepConsole(t *testing.T, tab context.Context, name string) {
	var mu sync.Mutex
	var lines []string
	messages := chromedp.Console(tab)
	go func() { // ends with the tab
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			lines = append(lines, m.String())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, l := range lines {
			t.Logf("%s console: %s", name, l)
		}
	})
}

func evaluate[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %.60q in the board: %v", expr, err)
	}
	return v
}

// eventuallyIn polls cond, which looks at the page in tab, until it is
// true, as alertingtest.Eventually does; between two looks it waits in the
// page, until the page changes or pageQuiet passes. Each look through the
// DevTools protocol costs Chromium and the test about a millisecond of CPU:
// looking every 50 ms, as Eventually does, the browser tests spent about a
// fifth of Chromium's CPU answering.
func eventuallyIn(t *testing.T, tab context.Context, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	alertingtest.EventuallyAfter(t, timeout, what, cond, func() { pageChange(tab) })
}

// eventually is eventuallyIn for the board's own tab.
func (b *board) eventually(timeout time.Duration, what string, cond func() bool) {
	b.t.Helper()
	eventuallyIn(b.t, b.ctx, timeout, what, cond)
}

// pageQuiet is the longest pageChange waits: what the DOM does not show
// (focus, a script's state, layout after a viewport change) is still looked
// at this often.
const pageQuiet = 250 * time.Millisecond

// pageChangeJS waits for a change of the page: it resolves at once if the
// DOM changed since the last wait resolved, or else at the next change, or
// after quiet milliseconds. The first wait in a page starts watching it and
// resolves at once.
const pageChangeJS = `((quiet) => new Promise((resolve) => {
	let w = window.__trucelineTestWatch;
	if (!w) {
		w = window.__trucelineTestWatch = { changes: 1, seen: 0, wake: null };
		new MutationObserver(() => { w.changes++; if (w.wake) w.wake(); })
			.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
	}
	let timer = 0;
	const done = () => { clearTimeout(timer); w.wake = null; w.seen = w.changes; resolve(true); };
	if (w.changes !== w.seen) return done();
	timer = setTimeout(done, quiet);
	w.wake = done;
}))(%d)`

// pageChange returns when the page in tab has changed since the last
// pageChange returned, or after pageQuiet. While the page is loading, when
// there is no page to ask, it waits a tenth of that.
func pageChange(tab context.Context) {
	ctx, cancel := context.WithTimeout(tab, 4*pageQuiet)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(pageChangeJS, pageQuiet.Milliseconds()), chromedp.EvalAwaitPromise)); err != nil {
		wait := time.NewTimer(pageQuiet / 10)
		defer wait.Stop()
		select {
		case <-wait.C:
		case <-tab.Done():
		}
	}
}

// checkPNG fails unless data is a PNG image, of width×height when those are
// not 0.
func checkPNG(t *testing.T, data []byte, width, height int) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if cfg.Width == 0 || cfg.Height == 0 || (width != 0 && (cfg.Width != width || cfg.Height != height)) {
		t.Fatalf("the screenshot is %dx%d, want %dx%d", cfg.Width, cfg.Height, width, height)
	}
}

// saveArtifact saves a screenshot of what tab shows as name in the directory
// TRUCELINE_ARTIFACTS, when that is set.
func saveArtifact(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("TRUCELINE_ARTIFACTS")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(tab, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	checkPNG(t, shot, 0, 0)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
