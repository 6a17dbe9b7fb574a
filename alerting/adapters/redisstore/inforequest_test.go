package redisstore_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

const infoRequestConfig = `
zones:
  - {id: aleppo, name: Aleppo}
parties:
  - {id: party-a, name: Co-chair A, status: adherent}
  - {id: party-b, name: Co-chair B, status: adherent}
contacts:
  - id: co-chairs
    name: Co-chairs
    methods: [{id: hook, type: webhook, url: "http://127.0.0.1:9/co-chairs", secret: "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="}]
policies:
  - id: board
    steps:
      - {after: 0s, notify: [board]}
    on_info_request_overdue:
      - {after: 0s, notify: [board, co-chairs]}
rules:
  - {id: all, policy: board}
`

// overdueReplica is one truceline's escalator on the shared Redis and
// clock, counting the requests it reports overdue.
func (e *escalation) overdueReplica(t *testing.T, overdue *atomic.Int64) *alerting.Escalator {
	t.Helper()
	catalog, err := e.store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: e.store, Timers: e.store, Publisher: e.pub,
		Catalog: staticCatalog{catalog}, Now: e.clock.Now, Overdue: func(*alerting.Alert, alerting.InfoRequest) { overdue.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	return esc
}

// TestInfoRequestGoesOverdueOnceAcrossReplicasAndRestarts asks for
// information on many alerts, then lets two escalators find the deadlines
// passed at once: each request goes overdue once, with one timeline entry,
// one set of notifications and one report to the audit. A request whose
// deadline passes while no truceline runs goes overdue when one starts
// again, from the timer Redis kept.
func TestInfoRequestGoesOverdueOnceAcrossReplicasAndRestarts(t *testing.T) {
	t.Parallel()
	srv, store := storeWith(t, infoRequestConfig)
	e := &escalation{fixture: &fixture{redis: srv, store: store, pub: &recorder{}}, clock: alertingtest.NewClock(t0), srv: srv}
	e.eng, e.esc = e.replica(t)
	ctx := context.Background()
	const alerts = 30
	var ids []string
	for i := range alerts {
		e.handle(t, rep("r"+string(rune('A'+i)), "aleppo", alerting.CategoryShelling, t0.Add(time.Duration(i)*time.Hour)))
	}
	for _, c := range e.pub.all() {
		if c.Event == alerting.EventOpened {
			ids = append(ids, c.Alert.ID)
		}
	}
	if len(ids) != alerts {
		t.Fatalf("%d alerts opened, want %d", len(ids), alerts)
	}
	for _, id := range ids {
		if _, err := e.eng.AskInfo(ctx, id, alerting.Actor{Name: "Liaison A", Party: "party-a"},
			alerting.InfoQuestion{Party: "party-b", Question: "Which unit fired?", Within: alerting.Duration(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	// The first deadlines pass with both replicas running.
	var overdue atomic.Int64
	first, second := e.overdueReplica(t, &overdue), e.overdueReplica(t, &overdue)
	e.clock.Set(t0.Add(time.Hour + time.Second))
	var wg sync.WaitGroup
	var fired [2]int
	for i, esc := range []*alerting.Escalator{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := esc.Tick(ctx)
			if err != nil {
				t.Error(err)
			}
			fired[i] = n
		}()
	}
	wg.Wait()
	if fired[0]+fired[1] != alerts || overdue.Load() != alerts {
		t.Fatalf("replicas fired %d and %d alerts and reported %d overdue, want %d of each", fired[0], fired[1], overdue.Load(), alerts)
	}
	for _, id := range ids {
		a := e.alert(t, id)
		r := a.InfoRequests[0]
		if r.State != alerting.InfoRequestOverdue || r.NextAt != nil {
			t.Fatalf("alert %s: request %+v", id, r)
		}
		entries, keys := 0, map[string]int{}
		for _, en := range a.Timeline {
			if strings.Contains(en.Note, "is OVERDUE") {
				entries++
			}
		}
		for _, n := range a.Notifications {
			if n.InfoRequest != "" {
				keys[n.Key]++
			}
		}
		if entries != 1 || len(keys) != 2 || keys[id+":ir-1:overdue:0:board"] != 1 || keys[id+":ir-1:overdue:0:co-chairs/hook"] != 1 {
			t.Fatalf("alert %s: %d overdue entries, notifications %v", id, entries, keys)
		}
	}
	if n, _ := e.store.Timers(ctx); n != 0 {
		t.Errorf("%d timers left once every request went overdue", n)
	}

	// One more request; every truceline stops, its deadline passes, and a
	// new one starts.
	e.clock.Set(t0.Add(2 * time.Hour))
	if _, err := e.eng.AskInfo(ctx, ids[0], alerting.Actor{Name: "Duty officer"},
		alerting.InfoQuestion{Party: "party-a", Question: "Was your post at Ramouseh firing?", Within: alerting.Duration(30 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.store.Timers(ctx); n != 1 {
		t.Fatalf("%d timers after asking, want the deadline's", n)
	}
	e.clock.Set(t0.Add(5 * time.Hour))
	restarted := e.overdueReplica(t, &overdue) // a truceline started after the deadline
	n, err := restarted.Tick(ctx)
	if err != nil || n != 1 || overdue.Load() != alerts+1 {
		t.Fatalf("after the restart: %d fired (%v), %d overdue, want the request whose deadline passed", n, err, overdue.Load())
	}
	if r := e.alert(t, ids[0]).InfoRequests[1]; r.State != alerting.InfoRequestOverdue {
		t.Fatalf("request %+v", r)
	}
	if n, _ := restarted.Tick(ctx); n != 0 || overdue.Load() != alerts+1 {
		t.Errorf("a second tick fired %d, %d overdue", n, overdue.Load())
	}
	// Answered late, through the same path: the answer is stored.
	a, err := e.eng.AnswerInfo(ctx, ids[0], alerting.Actor{Name: "Liaison A", Party: "party-a"}, "ir-2", "No: our post held fire.", []string{"doc:A-77"})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.alert(t, ids[0]).InfoRequests[1]; r.State != alerting.InfoRequestAnswered || !r.Answer.Late || r.Answer.Attachments[0] != "doc:A-77" || a.Version != e.alert(t, ids[0]).Version {
		t.Errorf("stored answer %+v", r)
	}
}
