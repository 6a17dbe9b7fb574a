package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/webhook"
)

// benchDeliveries opens n alerts whose policy notifies the contact "ops"
// after step, each in a group of its own, at most rate a second (0: as
// fast as the engine goes), and returns the receiver behind ops and the
// fixture.
func benchDeliveries(b *testing.B, n int, step time.Duration, rate float64) (*deliveries, *webhook.Receiver) {
	b.Helper()
	rc := webhook.NewReceiver(func(*http.Request) (string, bool) { return testSecret, true }, n)
	srv := httptest.NewServer(rc)
	b.Cleanup(srv.Close)
	cfg := fmt.Sprintf(`
zones: [{id: aleppo, name: Aleppo}]
contacts:
  - {id: ops, name: Ops, methods: [{id: hook, type: webhook, url: %q, secret: %q}]}
policies:
  - id: p
    steps: [{after: 0s, notify: [board]}, {after: %s, notify: [ops]}]
rules:
  - {id: all, policy: p, group_by: [reported_by]}
`, srv.URL+"/hook", testSecret, step)
	d := setupDeliveries(b, cfg)
	ctx := context.Background()
	var pace <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		pace = t.C
	}
	for i := range n {
		if pace != nil {
			<-pace
		}
		r := &alerting.Report{ID: fmt.Sprintf("b%d", i), Zone: "aleppo", Category: alerting.CategoryShelling,
			ObservedAt: time.Now().UTC(), ReportedBy: fmt.Sprintf("monitor %d", i)}
		if err := d.eng.HandleReport(ctx, r, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	return d, rc
}

// BenchmarkStepDueToWebhook measures the time from an escalation step
// coming due to its webhook reaching a local receiver: 1,000 alerts opened
// at 100 a second whose second step comes due 15 s after each opened, so
// steps come due at 100 a second, with an escalator and a dispatcher on the
// real clock. Run it alone:
//
//	go test -run '^$' -bench StepDueToWebhook -benchtime 1x ./alerting/adapters/redisstore/
func BenchmarkStepDueToWebhook(b *testing.B) {
	const n = 1000
	const step = 15 * time.Second
	for range b.N {
		d, rc := benchDeliveries(b, n, step, 100)
		disp := d.benchDispatcher(b)
		esc, err := alerting.NewEscalator(alerting.EscalatorOptions{Store: d.store, Timers: d.store, Publisher: d.pub, Catalog: d.catalog, Queued: disp.Nudge})
		if err != nil {
			b.Fatal(err)
		}
		go esc.Run()
		go disp.Run()
		arrivals, stop := rc.Subscribe()
		var late []time.Duration
		deadline := time.After(2 * time.Minute)
		for len(late) < n {
			select {
			case r := <-arrivals:
				late = append(late, r.At.Sub(r.Payload.Alert.OpenedAt.Add(step)))
			case <-deadline:
				b.Fatalf("%d of %d webhooks arrived", len(late), n)
			}
		}
		stop()
		_ = esc.Shutdown(context.Background())
		_ = disp.Shutdown(context.Background())
		slices.Sort(late)
		q := func(p float64) float64 { return float64(late[int(p*float64(len(late)-1))].Microseconds()) / 1000 }
		b.ReportMetric(q(0.5), "p50-ms")
		b.ReportMetric(q(0.99), "p99-ms")
		b.ReportMetric(q(1), "max-ms")
	}
}

// BenchmarkDeliveryThroughput queues 5,000 due webhooks and measures how
// fast one dispatcher delivers them to a local receiver (throttling off).
//
//	go test -run '^$' -bench DeliveryThroughput -benchtime 1x ./alerting/adapters/redisstore/
func BenchmarkDeliveryThroughput(b *testing.B) {
	const n = 5000
	for range b.N {
		d, rc := benchDeliveries(b, n, 0, 0)
		disp := d.benchDispatcher(b)
		start := time.Now()
		go disp.Run()
		arrivals, stop := rc.Subscribe()
		for got := 0; got < n; got++ {
			select {
			case <-arrivals:
			case <-time.After(time.Minute):
				b.Fatalf("%d of %d webhooks arrived", got, n)
			}
		}
		elapsed := time.Since(start)
		stop()
		_ = disp.Shutdown(context.Background())
		b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	}
}

func (d *deliveries) benchDispatcher(b *testing.B) *alerting.Dispatcher {
	b.Helper()
	disp, err := alerting.NewDispatcher(alerting.DispatcherOptions{Store: d.store, Queue: d.store, Publisher: d.pub, Catalog: d.catalog,
		Senders: map[alerting.MethodKind]alerting.Sender{alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{})},
		Rate:    1e6})
	if err != nil {
		b.Fatal(err)
	}
	return disp
}
