package redisstore_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// The escalator and the dispatcher look for due work when it comes due, not
// on a fixed beat. These tests give them an interval of an hour, so that
// only a look they planned from what they know, or were woken for, can
// make the work happen before the test's deadline.

const wakeConfig = `
zones:
  - {id: aleppo, name: Aleppo}
parties:
  - {id: party-a, name: Co-chair A, status: adherent}
contacts:
  - id: duty-officers
    name: Duty officers
    methods: [{id: hook, type: webhook, url: "http://127.0.0.1:9/duty", secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}]
policies:
  - id: soon
    steps:
      - {after: 0s, notify: [board]}
      - {after: 1s, notify: [duty-officers]}
rules:
  - {id: all, policy: soon}
`

// lookingTimers counts the escalator's looks for due timers.
type lookingTimers struct {
	alerting.Timers
	looks atomic.Int64
}

func (l *lookingTimers) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, time.Time, error) {
	defer l.looks.Add(1)
	return l.Timers.ClaimDue(ctx, now, limit, lease)
}

// sleepyEscalator is an engine and an escalator on the real clock that,
// unwoken, would look for due timers once at start and then once an hour.
func sleepyEscalator(t *testing.T) (*fixture, *alerting.Escalator, *lookingTimers) {
	t.Helper()
	srv, store := storeWith(t, wakeConfig)
	f := &fixture{redis: srv, store: store, pub: &recorder{}}
	catalog, err := store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.eng, err = alerting.NewEngine(alerting.EngineOptions{Store: store, Publisher: f.pub, Catalog: staticCatalog{catalog}}); err != nil {
		t.Fatal(err)
	}
	timers := &lookingTimers{Timers: store}
	esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: store, Timers: timers, Publisher: f.pub,
		Catalog: staticCatalog{catalog}, Interval: time.Hour, Logger: alertingtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = esc.Shutdown(context.Background()) })
	return f, esc, timers
}

// open opens an alert now, by a report.
func open(t *testing.T, f *fixture) {
	t.Helper()
	now := time.Now()
	if err := f.eng.HandleReport(context.Background(), rep("r1", "aleppo", alerting.CategoryShelling, now.UTC()), now); err != nil {
		t.Fatal(err)
	}
}

// escalated waits for the alert to reach its second step.
func escalated(t *testing.T, f *fixture, id string) {
	t.Helper()
	alertingtest.Eventually(t, 20*time.Second, "the second step to fire", func() bool {
		a, err := f.store.Alert(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range a.Notifications {
			if n.Contact == "duty-officers" {
				return true
			}
		}
		return false
	})
}

func TestEscalatorWakesForATimerItsStoreSets(t *testing.T) {
	t.Parallel()
	f, esc, timers := sleepyEscalator(t)
	f.store.OnTimer(esc.WakeAt)
	go esc.Run()
	alertingtest.Eventually(t, 20*time.Second, "the escalator's first look", func() bool { return timers.looks.Load() > 0 })
	// Run has looked once, at start, and found nothing: the step's timer
	// is set after that, by the commit that opens the alert.
	open(t, f)
	escalated(t, f, f.pub.all()[0].Alert.ID)
}

func TestEscalatorSleepsUntilTheEarliestTimerItSaw(t *testing.T) {
	t.Parallel()
	f, esc, _ := sleepyEscalator(t)
	// No OnTimer: the escalator learns of the timer from its first look,
	// which finds it not yet due.
	open(t, f)
	go esc.Run()
	escalated(t, f, f.pub.all()[0].Alert.ID)
}

func TestDispatcherRetriesWhenDueWithoutPolling(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	in.fail = func(n int) int {
		if n == 1 {
			return http.StatusServiceUnavailable
		}
		return 0
	}
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	disp := d.dispatcher(t, alerting.DispatcherOptions{Interval: time.Hour, Backoff: 200 * time.Millisecond, MaxBackoff: time.Second})
	go disp.Run()
	t.Cleanup(func() { _ = disp.Shutdown(context.Background()) })
	// The first look, at start, sends it and fails; the retry comes due
	// 160-200 ms later, and only the dispatcher's own plan can send it.
	alertingtest.Eventually(t, 20*time.Second, "the retry to be sent", func() bool {
		return d.notification(t, id).State == alerting.NotificationSent
	})
	if hits, _ := in.requests(); hits != 2 {
		t.Fatalf("%d requests, want the failed one and its retry", hits)
	}
}
