// Package alertingtest has helpers for truceline's tests: waiting for a
// condition with a deadline instead of sleeping, and a quiet logger.
package alertingtest

import (
	"flag"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Eventually polls cond until it is true, and fails the test with what when
// it is still false after timeout times Patience. It looks at once, then
// after 1 ms, and waits twice as long each time up to pollCeiling: what comes
// quickly is seen quickly, and a long wait does not keep the machine busy
// asking.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	pause := time.Millisecond
	EventuallyAfter(t, timeout, what, cond, func() {
		wait := time.NewTimer(pause)
		<-wait.C
		pause = min(2*pause, pollCeiling)
	})
}

// EventuallyAfter is Eventually for a condition that can tell when it may
// have changed: between two looks at cond it calls wait, which returns when
// what cond looks at may have changed, and at the latest within a fraction
// of a second. A board in a browser, for one, is asked through the DevTools
// protocol, and each look costs the browser more than the page's own work;
// the board's wait returns when the page changes instead.
func EventuallyAfter(t testing.TB, timeout time.Duration, what string, cond func() bool, wait func()) {
	t.Helper()
	timeout *= Patience
	deadline := time.Now().Add(timeout)
	for !cond() {
		if !time.Now().Before(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		wait()
	}
}

// Parallel sets how many tests of a package run at once (go test's
// -parallel) to n, unless the command line says; call it in TestMain,
// after flag.Parse. Tests that mostly wait on servers, browsers and child
// processes leave two cores idle at the default (GOMAXPROCS), and go test
// holds back the next packages until a package's tests are done.
func Parallel(n int) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic(err)
		}
	}
}

// Run is the whole TestMain of a package that needs nothing else: it runs
// the package's tests n at a time (see Parallel) and exits with their code.
func Run(m *testing.M, n int) {
	flag.Parse()
	Parallel(n)
	os.Exit(m.Run())
}

// pollCeiling is the longest Eventually waits between two looks.
const pollCeiling = 50 * time.Millisecond

// Patience multiplies every deadline Eventually waits for. A deadline
// only bounds a test that hangs: a passing test never waits for it, while a
// machine running two suites at once (tests in parallel, on two cores)
// takes several times longer for everything, and must not fail for it.
const Patience = 3

// Logger returns a logger that writes into the test's log, shown only when
// the test fails or runs with -v.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// Clock is a clock tests move by hand.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
