package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/alerting/alertingtest"
)

const escalationConfig = `
zones:
  - {id: aleppo, name: Aleppo}
parties:
  - {id: party-a, name: Co-chair A, status: adherent}
  - {id: party-b, name: Co-chair B, status: adherent}
contacts:
  - id: duty-officers
    name: Duty officers
    methods: [{id: hook, type: webhook, url: "http://127.0.0.1:9/duty", secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}]
  - id: co-chairs
    name: Co-chairs
    methods: [{id: hook, type: webhook, url: "http://127.0.0.1:9/co-chairs", secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}]
policies:
  - id: joint
    steps:
      - {after: 0s, notify: [board]}
      - {after: 5m, notify: [duty-officers]}
      - {after: 15m, notify: [co-chairs]}
    repeat: 1
    repeat_after: 10m
    require_ack_from: [party-a, party-b]
rules:
  - {id: all, policy: joint}
`

// escalation is a Redis, an engine and an escalator on a hand-moved clock.
type escalation struct {
	*fixture
	clock *alertingtest.Clock
	esc   *alerting.Escalator
	srv   *redistest.Server
}

func setupEscalation(t *testing.T) *escalation {
	t.Helper()
	srv, store := storeWith(t, escalationConfig)
	e := &escalation{fixture: &fixture{redis: srv, store: store, pub: &recorder{}}, clock: alertingtest.NewClock(t0), srv: srv}
	e.eng, e.esc = e.replica(t)
	return e
}

// replica is one more engine and escalator on the same Redis and clock.
func (e *escalation) replica(t *testing.T) (*alerting.Engine, *alerting.Escalator) {
	t.Helper()
	catalog, err := e.store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := alerting.NewEngine(alerting.EngineOptions{Store: e.store, Publisher: e.pub, Catalog: staticCatalog{catalog}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: e.store, Timers: e.store, Publisher: e.pub,
		Catalog: staticCatalog{catalog}, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return eng, esc
}

// at moves the clock to t0+d and fires what is due, returning how many
// alerts escalated.
func (e *escalation) at(t *testing.T, d time.Duration) int {
	t.Helper()
	e.clock.Set(t0.Add(d))
	n, err := e.esc.Tick(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *escalation) alert(t *testing.T, id string) *alerting.Alert {
	t.Helper()
	a, err := e.store.Alert(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func targets(a *alerting.Alert) string {
	var out []string
	for _, n := range a.Notifications {
		out = append(out, fmt.Sprintf("%s@%d.%d", n.Target, n.Step, n.Repeat))
	}
	return strings.Join(out, " ")
}

func (e *escalation) open(t *testing.T) string {
	t.Helper()
	e.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0))
	return e.pub.all()[0].Alert.ID
}

func TestEscalationStepsFireOnTimeUntilJointAcknowledgement(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	ctx := context.Background()
	id := e.open(t)
	if got := targets(e.alert(t, id)); got != "board@0.0" {
		t.Fatalf("at opening: notifications %q, want the board at once", got)
	}
	if n := e.at(t, 5*time.Minute-time.Second); n != 0 {
		t.Fatalf("a step fired %d early", n)
	}
	if n := e.at(t, 5*time.Minute); n != 1 || targets(e.alert(t, id)) != "board@0.0 duty-officers@1.0" {
		t.Fatalf("at 5m: %d fired, notifications %q", n, targets(e.alert(t, id)))
	}
	e.clock.Set(t0.Add(6 * time.Minute))
	a, err := e.eng.Acknowledge(ctx, id, alerting.Actor{Name: "liaison A", Party: "party-a"}, "")
	if err != nil || a.State != alerting.StateOpen || len(a.AwaitingAck()) != 1 {
		t.Fatalf("one party's ack: %v, state %s, awaiting %v", err, a.State, a.AwaitingAck())
	}
	if _, err := e.eng.Acknowledge(ctx, id, alerting.Actor{Name: "liaison A again", Party: "party-a"}, ""); alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Errorf("the same party acknowledging twice: %v, want a conflict", err)
	}
	if n := e.at(t, 15*time.Minute); n != 1 {
		t.Fatalf("at 15m the co-chairs' step must fire although party-a acknowledged; %d fired", n)
	}
	if n := e.at(t, 25*time.Minute); n != 1 || !strings.HasSuffix(targets(e.alert(t, id)), "board@0.1") {
		t.Fatalf("at 25m the repeat must begin: %d fired, %q", n, targets(e.alert(t, id)))
	}
	e.clock.Set(t0.Add(26 * time.Minute))
	a, err = e.eng.Acknowledge(ctx, id, alerting.Actor{Name: "liaison B", Party: "party-b"}, "")
	if err != nil || a.State != alerting.StateAcknowledged || a.Escalation.NextAt != nil || a.Escalation.Stopped != "acknowledged" {
		t.Fatalf("joint ack complete: %v, state %s, escalation %+v", err, a.State, a.Escalation)
	}
	if n := e.at(t, 2*time.Hour); n != 0 {
		t.Errorf("%d steps fired after the joint acknowledgement", n)
	}
	if n, _ := e.store.Timers(ctx); n != 0 {
		t.Errorf("%d timers pending after the joint acknowledgement", n)
	}
	a = e.alert(t, id)
	if got := targets(a); got != "board@0.0 duty-officers@1.0 co-chairs@2.0 board@0.1" {
		t.Errorf("notifications %q", got)
	}
	if a.Escalation.Level != 4 {
		t.Errorf("escalation level %d, want 4", a.Escalation.Level)
	}
}

func TestRepeatsRunOutThenEscalationStops(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	id := e.open(t)
	for _, d := range []time.Duration{5, 15, 25, 30, 40} {
		if n := e.at(t, d*time.Minute); n != 1 {
			t.Fatalf("at %dm: %d fired, want 1", d, n)
		}
	}
	a := e.alert(t, id)
	if a.Escalation.Stopped != "exhausted" || len(a.Notifications) != 6 {
		t.Fatalf("after both passes: %+v, %d notifications", a.Escalation, len(a.Notifications))
	}
	if n := e.at(t, 10*time.Hour); n != 0 {
		t.Errorf("%d fired after the last repeat", n)
	}
}

func TestSnoozeResolveAndReopen(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	ctx := context.Background()
	id := e.open(t)
	e.clock.Set(t0.Add(time.Minute))
	if _, err := e.eng.Snooze(ctx, id, alerting.Actor{Name: "officer"}, t0.Add(20*time.Minute), "checking with the team"); err != nil {
		t.Fatal(err)
	}
	if n := e.at(t, 15*time.Minute); n != 0 {
		t.Fatalf("%d fired while snoozed", n)
	}
	if n := e.at(t, 20*time.Minute); n != 1 {
		t.Fatalf("at the snooze's end: %d fired, want the step that was held", n)
	}
	if _, err := e.eng.Resolve(ctx, id, alerting.Actor{Name: "officer"}, "ended"); err != nil {
		t.Fatal(err)
	}
	if n := e.at(t, time.Hour); n != 0 {
		t.Fatalf("%d fired after resolve", n)
	}
	// A new report within the window reopens it and escalation starts over.
	e.clock.Set(t0.Add(61 * time.Minute))
	e.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(9*time.Minute)))
	a := e.alert(t, id)
	if a.State != alerting.StateOpen || a.Escalation.Step != 1 || a.Escalation.NextAt == nil || !a.Escalation.NextAt.Equal(t0.Add(66*time.Minute)) {
		t.Fatalf("reopened: state %s, escalation %+v", a.State, a.Escalation)
	}
	if n := e.at(t, 66*time.Minute); n != 1 {
		t.Errorf("after reopening: %d fired at 5m, want 1", n)
	}
}

// TestTwoReplicasFireEachStepOnce ticks two escalators at once over many
// alerts: every step must fire exactly once.
func TestTwoReplicasFireEachStepOnce(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	_, second := e.replica(t)
	const alerts = 40
	for i := range alerts {
		e.handle(t, rep(fmt.Sprint(i), "aleppo", alerting.CategoryShelling, t0.Add(time.Duration(i)*time.Hour)))
	}
	e.clock.Set(t0.Add(100 * time.Hour))
	var wg sync.WaitGroup
	var total [2]int
	for i, esc := range []*alerting.Escalator{e.esc, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := esc.Tick(context.Background())
			if err != nil {
				t.Error(err)
			}
			total[i] = n
		}()
	}
	wg.Wait()
	if total[0]+total[1] != alerts {
		t.Errorf("replicas escalated %d and %d alerts, want %d in all", total[0], total[1], alerts)
	}
	as, _ := e.store.Alerts(context.Background(), alerting.AlertFilter{Zones: []string{"aleppo"}})
	for _, a := range as {
		seen := map[string]bool{}
		for _, n := range a.Notifications {
			if seen[n.Key] {
				t.Errorf("alert %s: notification %s twice", a.ID, n.Key)
			}
			seen[n.Key] = true
		}
	}
}

// TestTimersSurviveARedisCrash kills Redis with a step pending and checks
// that the step fires once, right after Redis and the escalator are back.
func TestTimersSurviveARedisCrash(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	id := e.open(t)
	e.srv.Kill(t)
	e.srv.Restart(t)
	ctx := context.Background()
	alertingtest.Eventually(t, 10*time.Second, "redis to come back", func() bool { return e.store.Ping(ctx) == nil })
	_, restarted := e.replica(t) // a truceline started after the outage
	e.clock.Set(t0.Add(7 * time.Minute))
	n, err := restarted.Tick(ctx)
	if err != nil || n != 1 {
		t.Fatalf("after the restart: %d fired (%v), want the step due while down", n, err)
	}
	if got := targets(e.alert(t, id)); got != "board@0.0 duty-officers@1.0" {
		t.Errorf("notifications %q", got)
	}
}

func TestVerifyPerParty(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	ctx := context.Background()
	id := e.open(t)
	a, err := e.eng.Verify(ctx, id, alerting.Actor{Name: "A", Party: "party-a"}, alerting.Confirmed, "own monitors saw it")
	if err != nil || a.Verification != alerting.PartlyConfirmed || a.VerificationSummary != "Registered by Co-chair A; awaiting Co-chair B." {
		t.Fatalf("A confirms, B has not judged: %v %s %q, want partly_confirmed", err, a.Verification, a.VerificationSummary)
	}
	a, err = e.eng.Verify(ctx, id, alerting.Actor{Name: "B", Party: "party-b"}, alerting.CannotConfirm, "no post of ours covers it")
	if err != nil || a.Verification != alerting.PartlyConfirmed || a.VerificationSummary != "Registered by Co-chair A; not confirmed by Co-chair B." {
		t.Fatalf("B cannot confirm: %v %s %q", err, a.Verification, a.VerificationSummary)
	}
	a, err = e.eng.Verify(ctx, id, alerting.Actor{Name: "B", Party: "party-b"}, alerting.Disputed, "our drone footage shows no impacts")
	if err != nil || a.Verification != alerting.Disputed || len(a.Verifications) != 2 {
		t.Fatalf("B disputes: %v %s %v", err, a.Verification, a.Verifications)
	}
	if stored := e.alert(t, id); stored.Verification != alerting.Disputed || stored.VerificationSummary != "Registered by Co-chair A; disputed by Co-chair B." {
		t.Errorf("stored: %s %q", stored.Verification, stored.VerificationSummary)
	}
	if _, err := e.eng.Verify(ctx, id, alerting.Actor{Name: "X"}, "probably", ""); len(alerting.ErrorFields(err)) != 3 {
		t.Errorf("a bad verification must name status, party and reason: %v", err)
	}
	if _, err := e.eng.Comment(ctx, id, alerting.Actor{Name: "officer"}, "asked party B for imagery"); err != nil {
		t.Fatal(err)
	}
	if a := e.alert(t, id); !strings.Contains(a.Timeline[len(a.Timeline)-1].Note, "imagery") {
		t.Errorf("comment missing from the timeline: %+v", a.Timeline)
	}
}

// TestAttributionPerParty: each party's judgement of an alleged party is
// committed with the alert and published; one party's judgement never
// replaces another's; a bad one names every problem, an unknown alleged
// party included, and changes nothing.
func TestAttributionPerParty(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	ctx := context.Background()
	id := e.open(t)
	A, B := alerting.Actor{Name: "A", Party: "party-a"}, alerting.Actor{Name: "B", Party: "party-b"}
	if _, err := e.eng.Attribute(ctx, id, A, "party-b", alerting.Substantiated, "tracer fire from their positions"); err != nil {
		t.Fatal(err)
	}
	published := len(e.pub.all())
	if _, err := e.eng.Attribute(ctx, id, B, "party-b", alerting.NotSubstantiated, "no unit of ours fired"); err != nil {
		t.Fatal(err)
	}
	if len(e.pub.all()) != published+1 {
		t.Errorf("the judgement was not published")
	}
	before := e.alert(t, id)
	_, err := e.eng.Attribute(ctx, id, alerting.Actor{Name: "X"}, "party-z", "maybe", "")
	if len(alerting.ErrorFields(err)) != 4 {
		t.Errorf("a bad judgement must name alleged, status, party and reason: %v", err)
	}
	a := e.alert(t, id)
	if a.Version != before.Version || len(a.Attributions) != 2 {
		t.Fatalf("after a bad judgement: version %d (was %d), %v", a.Version, before.Version, a.Attributions)
	}
	if a.Attributions[0].Party != "party-a" || a.Attributions[0].Status != alerting.Substantiated ||
		a.Attributions[1].Party != "party-b" || a.Attributions[1].Status != alerting.NotSubstantiated {
		t.Errorf("attributions %+v", a.Attributions)
	}
}

func TestRegimeEndIsAnnouncedOnce(t *testing.T) {
	t.Parallel()
	_, store := storeWith(t, `
zones:
  - {id: latakia, name: Latakia}
  - {id: aleppo, name: Aleppo}
regimes:
  - id: silence
    name: 72-hour regime of silence
    zones: [latakia]
    kind: regime_of_silence
    starts_at: 2026-11-23T00:00:00Z
    ends_at: 2026-11-26T00:00:00Z
    warn_before: 2h
`)
	ctx := context.Background()
	catalog, err := store.LoadCatalog(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	clock := alertingtest.NewClock(time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC))
	pub := &recorder{}
	var escs []*alerting.Escalator
	for range 2 { // two replicas
		esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: store, Timers: store, Publisher: pub, Catalog: staticCatalog{catalog}, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		escs = append(escs, esc)
	}
	tick := func(at time.Time) {
		clock.Set(at)
		for _, esc := range escs {
			if _, err := esc.Tick(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	tick(time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)) // 3 h before the end
	if n := len(pub.all()); n != 0 {
		t.Fatalf("%d announcements 3 h before the end, with warn_before 2h", n)
	}
	tick(time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC))
	tick(time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC))
	got := pub.all()
	if len(got) != 1 || got[0].Zone != "latakia" || got[0].Alert.Rule != alerting.RegimeEndRule || got[0].Alert.Severity != alerting.SeverityMinor {
		t.Fatalf("announcements: %+v", got)
	}
	if !strings.HasSuffix(got[0].Alert.Title, " ends at 26 Nov 00:00 UTC") {
		t.Errorf("title %q", got[0].Alert.Title)
	}
}

// TestEscalationNeverWaitsOnAFailingDelivery follows a webhook that never
// answers through the default retry schedule, on the hand-moved clock:
// the next step fires on time while the first step's delivery is still
// failing, and the failing one is tried for about a day before it gives up.
func TestEscalationNeverWaitsOnAFailingDelivery(t *testing.T) {
	t.Parallel()
	e := setupEscalation(t)
	catalog, err := e.store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	// The escalation config's webhooks lead to 127.0.0.1:9, where nobody
	// listens. The breaker would hold deliveries back for a minute of real
	// time; this test is about the schedule, so it never opens.
	disp, err := alerting.NewDispatcher(alerting.DispatcherOptions{Store: e.store, Queue: e.store, Publisher: e.pub,
		Catalog: staticCatalog{catalog}, Now: e.clock.Now, BreakerFailures: 1 << 20, Logger: alertingtest.Logger(t),
		Senders: map[alerting.MethodKind]alerting.Sender{alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{Timeout: time.Second})}})
	if err != nil {
		t.Fatal(err)
	}
	deliver := func() {
		t.Helper()
		if _, err := disp.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		disp.Wait()
	}
	duty := func() alerting.Notification {
		t.Helper()
		for _, n := range e.alert(t, e.pub.all()[0].Alert.ID).Notifications {
			if n.Contact == "duty-officers" && n.Step == 1 && n.Repeat == 0 {
				return n
			}
		}
		t.Fatal("no notification to the duty officers")
		return alerting.Notification{}
	}

	id := e.open(t)
	if n := e.at(t, 5*time.Minute); n != 1 {
		t.Fatalf("at 5m %d alerts escalated, want 1", n)
	}
	deliver()
	n := duty()
	if n.State != alerting.NotificationFailed || n.Attempts != 1 || n.NextAttempt == nil {
		t.Fatalf("after the first attempt: %+v, want failed with a next attempt", n)
	}
	first := t0.Add(5 * time.Minute)
	if d := n.NextAttempt.Sub(first); d > alerting.DefaultBackoff || d < alerting.DefaultBackoff*4/5 {
		t.Errorf("first retry %s after the attempt, want within the fifth below %s", d, alerting.DefaultBackoff)
	}

	if fired := e.at(t, 15*time.Minute); fired != 1 || !strings.Contains(targets(e.alert(t, id)), "co-chairs@2.0") {
		t.Fatalf("at 15m, with the duty officers' delivery still failing: %d escalated, notifications %q", fired, targets(e.alert(t, id)))
	}

	last, longest := first, time.Duration(0)
	for i := 0; !n.Final(); i++ {
		if i > 2*alerting.DefaultAttempts {
			t.Fatalf("still %s after %d rounds: %+v", n.State, i, n)
		}
		if n.NextAttempt != nil && n.NextAttempt.After(e.clock.Now()) {
			last, longest = *n.NextAttempt, max(longest, n.NextAttempt.Sub(last))
			e.clock.Set(*n.NextAttempt)
		}
		if _, err := e.esc.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		deliver()
		n = duty()
	}
	if n.State != alerting.NotificationGaveUp || n.Attempts != alerting.DefaultAttempts ||
		!strings.Contains(n.Error, fmt.Sprintf("gave up after %d attempts", alerting.DefaultAttempts)) {
		t.Fatalf("at the end: %+v, want gave_up after %d attempts", n, alerting.DefaultAttempts)
	}
	if span := last.Sub(first); span < 20*time.Hour || span > 26*time.Hour {
		t.Errorf("retried for %s, want about a day", span)
	}
	if longest > alerting.DefaultMaxBackoff || longest < alerting.DefaultMaxBackoff*4/5 {
		t.Errorf("longest delay %s, want close to %s", longest, alerting.DefaultMaxBackoff)
	}
	t.Logf("%d attempts over %s, longest delay %s", n.Attempts, last.Sub(first), longest)
}
