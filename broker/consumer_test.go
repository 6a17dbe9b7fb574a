package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// flaky is a report handler that fails some reports: "poison" always (an
// error, or a panic for "poison-panic"), "outage" with unavailable until
// healed.
type flaky struct {
	mu       sync.Mutex
	done     []string
	tries    map[string]int
	healed   bool
	outageOK int // "outage" succeeds from this try on
}

func (f *flaky) Admit(data []byte, a alerting.Arrival) (alerting.Report, error) {
	var r alerting.Report
	if err := json.Unmarshal(data, &r); err != nil {
		return r, alerting.Errorf(alerting.EINVALID, "bad report")
	}
	if r.ID == "" {
		r.ID = a.AssignedID
	}
	return r, nil
}

func (f *flaky) HandleReport(_ context.Context, r *alerting.Report, _ time.Time) error {
	f.mu.Lock()
	f.tries[r.ID]++
	tries, healed := f.tries[r.ID], f.healed
	f.mu.Unlock()
	switch {
	case r.ID == "poison" && !healed:
		return errors.New("boom: a bug meets this report")
	case r.ID == "poison-panic" && !healed:
		panic("index out of range")
	case r.ID == "outage" && tries < f.outageOK:
		return &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "Redis is away"}
	}
	f.mu.Lock()
	f.done = append(f.done, r.ID)
	f.mu.Unlock()
	return nil
}

func (f *flaky) HandleReports(ctx context.Context, rs []*alerting.Report, receivedAt []time.Time) []error {
	errs := make([]error, len(rs))
	for i, r := range rs {
		errs[i] = f.HandleReport(ctx, r, receivedAt[i])
	}
	return errs
}

func (f *flaky) processed(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.done {
		if d == id {
			return true
		}
	}
	return false
}

// TestPoisonReportsAreParked: a report whose processing keeps failing is
// tried a bounded number of times and parked with its reason on
// rejected.parked, while the reports after it on the same subject go
// through; a dependency outage is never a reason to park; a parked report
// replayed after the fix is processed.
func TestPoisonReportsAreParked(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	h := &flaky{tries: map[string]int{}, outageOK: 6}
	c, err := b.StartConsumer(context.Background(), broker.ConsumerOptions{Handler: h, MaxAttempts: 3, RetryDelay: 10 * time.Millisecond, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown(context.Background()) })
	js, _ := jetstream.New(nc)
	parked, err := nc.SubscribeSync(broker.ParkedSubject)
	if err != nil {
		t.Fatal(err)
	}
	by := alerting.Submitter{Via: alerting.ViaHTTP, User: "liaison-b"}
	for _, id := range []string{"poison", "poison-panic", "outage", "after"} {
		m := nats.NewMsg("violations.aleppo.shelling")
		m.Data = []byte(`{"id":"` + id + `"}`)
		if id == "poison" { // as truceline stores a report it took over HTTP
			m.Header.Set(broker.HeaderSubmittedBy, by.HeaderValue())
		}
		if _, err := js.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	alertingtest.Eventually(t, 10*time.Second, "the good reports through", func() bool {
		return h.processed("after") && h.processed("outage")
	})
	got := map[string]*nats.Msg{}
	for len(got) < 2 {
		m, err := parked.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("parked so far %v: %v", got, err)
		}
		var r alerting.Report
		_ = json.Unmarshal(m.Data, &r)
		got[r.ID] = m
	}
	if m := got["poison"]; m == nil || !strings.Contains(m.Header.Get(broker.HeaderError), "boom") ||
		m.Header.Get(broker.HeaderSubject) != "violations.aleppo.shelling" || m.Header.Get(broker.HeaderAttempts) != "3" ||
		m.Header.Get(broker.HeaderSubmittedBy) != by.HeaderValue() {
		t.Errorf("parked poison (its sender kept, to be replayed as its report): %+v", m)
	}
	if m := got["poison-panic"]; m == nil || !strings.Contains(m.Header.Get(broker.HeaderError), "panicked") {
		t.Errorf("parked panic: %+v", m)
	}
	h.mu.Lock()
	tries := map[string]int{"poison": h.tries["poison"], "outage": h.tries["outage"]}
	h.mu.Unlock()
	// Deliveries are what count (the parked message says 3); a report in a
	// batch with a panicking one is handled again alone, so the handler may
	// see it more often than it was delivered.
	if tries["poison"] < 3 || tries["outage"] < 6 {
		t.Errorf("tries %v: want poison 3 deliveries (then parked), outage 6 (never parked)", tries)
	}
	// The fix ships; the operator replays the parked report.
	h.mu.Lock()
	h.healed = true
	h.mu.Unlock()
	m := got["poison"]
	if _, err := js.Publish(context.Background(), m.Header.Get(broker.HeaderSubject), m.Data); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 10*time.Second, "the replayed report processed", func() bool { return h.processed("poison") })
}
