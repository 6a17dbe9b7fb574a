package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/alerting/alertingtest"
)

const testSecret = "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="

// inbox is a real HTTP server in front of a verifying webhook receiver,
// with a switch to make it fail, and a count of every request it got.
type inbox struct {
	*httptest.Server
	rc *webhook.Receiver

	mu    sync.Mutex
	fail  func(n int) int // status to answer the nth request (from 1); 0 lets it through
	hang  chan struct{}   // closed at cleanup: requests told to hang wait for it
	hits  int
	byKey map[string]int
}

func newInbox(t *testing.T) *inbox {
	t.Helper()
	in := &inbox{hang: make(chan struct{}), byKey: map[string]int{}}
	in.rc = webhook.NewReceiver(func(*http.Request) (string, bool) { return testSecret, true }, 1000)
	in.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.mu.Lock()
		in.hits++
		in.byKey[r.Header.Get("webhook-id")]++
		n, fail := in.hits, in.fail
		in.mu.Unlock()
		if fail != nil {
			switch status := fail(n); status {
			case 0:
			case -1: // hang past the sender's timeout
				<-in.hang
				return
			default:
				w.WriteHeader(status)
				return
			}
		}
		in.rc.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(in.hang); in.Close() })
	return in
}

func (in *inbox) requests() (hits int, byKey map[string]int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m := make(map[string]int, len(in.byKey))
	for k, v := range in.byKey {
		m[k] = v
	}
	return in.hits, m
}

// deliveryConfig has one contact, "ops", whose webhook leads to url, and a
// policy that notifies it as soon as an alert opens.
func deliveryConfig(url string) string {
	return fmt.Sprintf(`
zones:
  - {id: aleppo, name: Aleppo}
  - {id: idlib, name: Idlib}
parties:
  - {id: party-a, name: Co-chair A, status: adherent}
contacts:
  - id: ops
    name: Liaison ops
    party: party-a
    methods: [{id: hook, type: webhook, url: %q, secret: %q}]
policies:
  - id: now
    steps: [{after: 0s, notify: [board, ops]}]
rules:
  - {id: all, policy: now}
`, url, testSecret)
}

// deliveries is a Redis with an engine that opens alerts and dispatchers
// that deliver their notifications, on the real clock.
type deliveries struct {
	srv     *redistest.Server
	store   *redisstore.Store
	pub     *recorder
	eng     *alerting.Engine
	catalog staticCatalog
}

func setupDeliveries(t testing.TB, yaml string) *deliveries {
	t.Helper()
	srv, store := storeWith(t, yaml)
	catalog, err := store.LoadCatalog(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	d := &deliveries{srv: srv, store: store, pub: &recorder{}, catalog: staticCatalog{catalog}}
	d.eng, err = alerting.NewEngine(alerting.EngineOptions{Store: store, Publisher: d.pub, Catalog: d.catalog})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *deliveries) dispatcher(t *testing.T, o alerting.DispatcherOptions) *alerting.Dispatcher {
	t.Helper()
	o.Store, o.Queue, o.Publisher, o.Catalog = d.store, d.store, d.pub, d.catalog
	if o.Senders == nil {
		o.Senders = map[alerting.MethodKind]alerting.Sender{alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{Timeout: 300 * time.Millisecond})}
	}
	if o.Backoff == 0 {
		o.Backoff, o.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
	}
	o.Logger = alertingtest.Logger(t)
	disp, err := alerting.NewDispatcher(o)
	if err != nil {
		t.Fatal(err)
	}
	return disp
}

// open makes an alert by a report, and returns its id.
func (d *deliveries) open(t *testing.T, reportID, zone string, sev alerting.Severity) string {
	t.Helper()
	r := &alerting.Report{ID: reportID, Zone: zone, Category: alerting.CategoryShelling, ObservedAt: time.Now().UTC(), ReportedBy: "test", Severity: sev}
	if err := d.eng.HandleReport(context.Background(), r, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := d.store.GroupAlert(context.Background(), "all:"+zone+":shelling")
	if err != nil || a == nil {
		t.Fatalf("no alert for %s: %v", reportID, err)
	}
	return a.ID
}

func (d *deliveries) alert(t *testing.T, id string) *alerting.Alert {
	t.Helper()
	a, err := d.store.Alert(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// notification is the alert's one notification to ops.
func (d *deliveries) notification(t *testing.T, id string) alerting.Notification {
	t.Helper()
	for _, n := range d.alert(t, id).Notifications {
		if n.Contact == "ops" {
			return n
		}
	}
	t.Fatalf("alert %s has no notification to ops", id)
	return alerting.Notification{}
}

// drain ticks the dispatcher until the notification's delivery is over.
func (d *deliveries) drain(t *testing.T, disp *alerting.Dispatcher, id string) alerting.Notification {
	t.Helper()
	var n alerting.Notification
	alertingtest.Eventually(t, 10*time.Second, "the delivery to end", func() bool {
		if _, err := disp.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		disp.Wait()
		n = d.notification(t, id)
		return n.Final()
	})
	return n
}

func (d *deliveries) queued(t *testing.T) int64 {
	t.Helper()
	normal, urgent, err := d.store.QueuedDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return normal + urgent
}

func TestWebhookIsDeliveredSignedAndRecorded(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	if n := d.notification(t, id); n.State != alerting.NotificationPending || d.queued(t) != 1 {
		t.Fatalf("before delivery: %+v, %d queued", n, d.queued(t))
	}
	disp := d.dispatcher(t, alerting.DispatcherOptions{PublicURL: "https://truceline.example.org", Links: mustLinks(t)})
	n := d.drain(t, disp, id)
	if n.State != alerting.NotificationSent || n.Attempts != 1 || n.SentAt == nil {
		t.Fatalf("notification %+v, want sent at the first attempt", n)
	}
	got := in.rc.Received()
	if len(got) != 1 {
		t.Fatalf("the receiver verified %d webhooks, want 1", len(got))
	}
	p := got[0].Payload
	if got[0].ID != n.Key || p.Key != n.Key || p.Alert.ID != id || p.Contact != "ops" || p.Step != 1 || p.Alert.Severity != alerting.SeveritySevere {
		t.Errorf("received %+v for notification %s", got[0], n.Key)
	}
	if !strings.HasPrefix(p.AckURL, "https://truceline.example.org/ack/"+id+"/") || p.AckExpires == nil || p.Alert.URL == "" {
		t.Errorf("ack link %q (expires %v), board link %q", p.AckURL, p.AckExpires, p.Alert.URL)
	}
	if q := d.queued(t); q != 0 {
		t.Errorf("%d deliveries still queued", q)
	}
	timeline := d.alert(t, id).Timeline
	if last := timeline[len(timeline)-1]; !strings.Contains(last.Note, "webhook to ops/hook: sent") {
		t.Errorf("last timeline entry %+v", last)
	}
	if _, byKey := in.requests(); byKey[n.Key] != 1 {
		t.Errorf("key sent %d times", byKey[n.Key])
	}
}

func mustLinks(t *testing.T) *alerting.AckLinks {
	t.Helper()
	l, err := alerting.NewAckLinks([]byte(strings.Repeat("k", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestFailuresAreRetriedUntilTheyPass injects a 500, a hang past the
// timeout and a 503, then lets the webhook through: the fourth attempt
// delivers, every attempt is on the timeline, and the receiver gets it once.
func TestFailuresAreRetriedUntilTheyPass(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	in.fail = func(n int) int { return map[int]int{1: 500, 2: -1, 3: 503}[n] }
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	n := d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{}), id)
	if n.State != alerting.NotificationSent || n.Attempts != 4 {
		t.Fatalf("notification %+v, want sent at the fourth attempt", n)
	}
	if got := in.rc.Received(); len(got) != 1 {
		t.Errorf("received %d, want 1", len(got))
	}
	var failed int
	for _, e := range d.alert(t, id).Timeline {
		if strings.Contains(e.Note, "webhook to ops/hook: failed") {
			failed++
		}
	}
	if failed != 3 {
		t.Errorf("%d failed attempts on the timeline, want 3", failed)
	}
}

// TestConnectionRefusedThenRecovery delivers to a port nobody listens on,
// then starts the receiver there.
func TestConnectionRefusedThenRecovery(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	d := setupDeliveries(t, deliveryConfig("http://"+addr+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	disp := d.dispatcher(t, alerting.DispatcherOptions{Attempts: 100, Backoff: 20 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	alertingtest.Eventually(t, 10*time.Second, "a refused attempt", func() bool {
		_, _ = disp.Tick(context.Background())
		disp.Wait()
		n := d.notification(t, id)
		return n.State == alerting.NotificationFailed && strings.Contains(n.Error, "refused")
	})
	rc := webhook.NewReceiver(func(*http.Request) (string, bool) { return testSecret, true }, 10)
	l, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	srv := &http.Server{Handler: rc}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	if n := d.drain(t, disp, id); n.State != alerting.NotificationSent {
		t.Fatalf("after recovery: %+v", n)
	}
	if len(rc.Received()) != 1 {
		t.Errorf("received %d", len(rc.Received()))
	}
}

func TestDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	t.Run("after the last attempt", func(t *testing.T) {
		in := newInbox(t)
		in.fail = func(int) int { return 502 }
		d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
		id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
		n := d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{Attempts: 3, BreakerFailures: 100}), id)
		if hits, _ := in.requests(); n.State != alerting.NotificationGaveUp || n.Attempts != 3 || hits != 3 {
			t.Fatalf("notification %+v after %d requests, want gave_up after 3", n, hits)
		}
		if !strings.Contains(n.Error, "502") || d.queued(t) != 0 {
			t.Errorf("error %q, %d queued", n.Error, d.queued(t))
		}
	})
	t.Run("at once when the receiver refuses", func(t *testing.T) {
		in := newInbox(t)
		in.fail = func(int) int { return 400 }
		d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
		id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
		n := d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{}), id)
		if hits, _ := in.requests(); n.State != alerting.NotificationGaveUp || hits != 1 {
			t.Fatalf("notification %+v after %d requests", n, hits)
		}
	})
	t.Run("when the server has no sender for the method", func(t *testing.T) {
		d := setupDeliveries(t, deliveryConfig("http://127.0.0.1:9/hook"))
		id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
		disp := d.dispatcher(t, alerting.DispatcherOptions{Senders: map[alerting.MethodKind]alerting.Sender{}})
		if n := d.drain(t, disp, id); n.State != alerting.NotificationGaveUp || !strings.Contains(n.Error, "no webhook delivery") {
			t.Fatalf("notification %+v", n)
		}
	})
}

// TestAcknowledgedBeforeDeliveryIsCancelled: nobody is woken for an alert
// already in hand.
func TestAcknowledgedBeforeDeliveryIsCancelled(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	if _, err := d.eng.Acknowledge(context.Background(), id, alerting.Actor{Name: "duty officer"}, ""); err != nil {
		t.Fatal(err)
	}
	n := d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{}), id)
	if hits, _ := in.requests(); n.State != alerting.NotificationCancelled || hits != 0 || d.queued(t) != 0 {
		t.Fatalf("notification %+v, %d requests, %d queued", n, hits, d.queued(t))
	}
}

// TestCircuitBreakerHoldsBackAFailingDestination: after two failures in a
// row the destination is left alone; its deliveries wait without attempts.
func TestCircuitBreakerHoldsBackAFailingDestination(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	in.fail = func(int) int { return 503 }
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	var ids []string
	for i, zone := range []string{"aleppo", "idlib"} {
		ids = append(ids, d.open(t, fmt.Sprintf("r%d", i), zone, alerting.SeveritySevere))
	}
	disp := d.dispatcher(t, alerting.DispatcherOptions{BreakerFailures: 2, BreakerOpen: time.Hour, Workers: 1})
	alertingtest.Eventually(t, 10*time.Second, "the breaker to open", func() bool {
		_, _ = disp.Tick(context.Background())
		disp.Wait()
		return disp.BreakerState("webhook "+in.URL) == "open"
	})
	hits, _ := in.requests()
	for range 20 {
		_, _ = disp.Tick(context.Background())
		disp.Wait()
	}
	if later, _ := in.requests(); later != hits || hits != 2 {
		t.Errorf("%d requests when the breaker opened, %d after 20 more ticks; want 2 and no more", hits, later)
	}
	if q := d.queued(t); q != 2 {
		t.Errorf("%d queued, want both deliveries waiting", q)
	}
}

// TestExtremeAlertsTakeThePriorityLane: with the destination throttled to
// one delivery, the extreme alert's notification still goes at once.
func TestExtremeAlertsTakeThePriorityLane(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	zones := []string{"aleppo", "idlib"}
	var normal []string
	for i, zone := range zones {
		normal = append(normal, d.open(t, fmt.Sprintf("n%d", i), zone, alerting.SeverityModerate))
	}
	// A third alert, extreme, opened last.
	urgentID := d.openExtreme(t)
	disp := d.dispatcher(t, alerting.DispatcherOptions{Rate: 0.001}) // one token, then one per 1000 s
	if _, err := disp.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	disp.Wait()
	if n := d.notification(t, urgentID); n.State != alerting.NotificationSent || !n.Urgent {
		t.Fatalf("extreme alert's notification %+v, want sent in the first tick", n)
	}
	sent := 0
	for _, id := range normal {
		if d.notification(t, id).State == alerting.NotificationSent {
			sent++
		}
	}
	if sent != 1 {
		t.Errorf("%d normal notifications sent, want the one the throttle allows", sent)
	}
}

// openExtreme opens an extreme alert in a third zone-category group.
func (d *deliveries) openExtreme(t *testing.T) string {
	t.Helper()
	r := &alerting.Report{ID: "x1", Zone: "aleppo", Category: alerting.CategoryAirstrike, ObservedAt: time.Now().UTC(), ReportedBy: "test", Severity: alerting.SeverityExtreme}
	if err := d.eng.HandleReport(context.Background(), r, time.Now()); err != nil {
		t.Fatal(err)
	}
	a, err := d.store.GroupAlert(context.Background(), "all:aleppo:airstrike")
	if err != nil || a == nil {
		t.Fatalf("no extreme alert: %v", err)
	}
	return a.ID
}

// TestTwoDispatchersSendEachKeyOnce runs two dispatchers, as two replicas
// would, over 40 alerts: every key reaches the receiver exactly once.
func TestTwoDispatchersSendEachKeyOnce(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	var zones strings.Builder
	for i := range 40 {
		fmt.Fprintf(&zones, "  - {id: z%d, name: Zone %d}\n", i, i)
	}
	cfg := strings.Replace(deliveryConfig(in.URL+"/hook"), "zones:\n", "zones:\n"+zones.String(), 1)
	d := setupDeliveries(t, cfg)
	var ids []string
	for i := range 40 {
		ids = append(ids, d.open(t, fmt.Sprintf("r%d", i), fmt.Sprintf("z%d", i), alerting.SeveritySevere))
	}
	// A send that timed out is sent again, as it must be; a timeout long
	// enough for a busy machine keeps this test about the claims.
	patient := func() alerting.DispatcherOptions {
		return alerting.DispatcherOptions{Interval: 5 * time.Millisecond, Senders: map[alerting.MethodKind]alerting.Sender{
			alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{Timeout: 30 * time.Second})}}
	}
	a, b := d.dispatcher(t, patient()), d.dispatcher(t, patient())
	go a.Run()
	go b.Run()
	t.Cleanup(func() { _ = a.Shutdown(context.Background()); _ = b.Shutdown(context.Background()) })
	alertingtest.Eventually(t, 20*time.Second, "every notification sent", func() bool {
		for _, id := range ids {
			if d.notification(t, id).State != alerting.NotificationSent {
				return false
			}
		}
		return true
	})
	hits, byKey := in.requests()
	if hits != 40 || len(byKey) != 40 {
		t.Fatalf("%d requests for %d keys, want 40 for 40", hits, len(byKey))
	}
	for k, n := range byKey {
		if n != 1 {
			t.Errorf("key %s sent %d times", k, n)
		}
	}
}

// TestPendingDeliveriesSurviveARedisRestart: deliveries queued while the
// receiver is down are in Redis, and a fresh dispatcher sends them after
// Redis restarts.
func TestPendingDeliveriesSurviveARedisRestart(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	d := setupDeliveries(t, deliveryConfig(in.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	d.srv.Restart(t)
	alertingtest.Eventually(t, 10*time.Second, "redis back", func() bool { return d.store.Ping(context.Background()) == nil })
	if q := d.queued(t); q != 1 {
		t.Fatalf("%d queued after the restart, want 1", q)
	}
	if n := d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{}), id); n.State != alerting.NotificationSent {
		t.Fatalf("notification %+v", n)
	}
	if len(in.rc.Received()) != 1 {
		t.Errorf("received %d", len(in.rc.Received()))
	}
}

// TestNobodyOnCallFallsBack: a schedule whose only layer is not in force
// sends the step's notification to the policy's fallback contact, marked.
func TestNobodyOnCallFallsBack(t *testing.T) {
	t.Parallel()
	in := newInbox(t)
	cfg := strings.Replace(deliveryConfig(in.URL+"/hook"), `policies:
  - id: now
    steps: [{after: 0s, notify: [board, ops]}]`, `schedules:
  - id: night-desk
    timezone: Europe/Zurich
    layers:
      - {name: later, participants: [ops], shift: 24h, start: "2099-01-01T08:00"}
policies:
  - id: now
    steps: [{after: 0s, notify: [board, night-desk]}]
    fallback: ops`, 1)
	d := setupDeliveries(t, cfg)
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	n := d.notification(t, id)
	if !n.Fallback || n.Target != "night-desk" {
		t.Fatalf("notification %+v, want a fallback for night-desk", n)
	}
	var loud bool
	for _, e := range d.alert(t, id).Timeline {
		loud = loud || strings.Contains(e.Note, "night-desk: NOBODY ON CALL, fell back to ops")
	}
	if !loud {
		t.Errorf("the timeline does not say nobody was on call: %+v", d.alert(t, id).Timeline)
	}
	d.drain(t, d.dispatcher(t, alerting.DispatcherOptions{}), id)
	if got := in.rc.Received(); len(got) != 1 || !got[0].Payload.Fallback || got[0].Payload.Target != "night-desk" {
		t.Errorf("received %+v", got)
	}
}

// TestShutdownAbortsTheSendsItGaveUpOn: a send still running when
// Shutdown stops waiting is aborted, as a crash would end it (the receiver
// sees its request cancelled), and the delivery is not marked sent: its
// lease brings it back.
func TestShutdownAbortsTheSendsItGaveUpOn(t *testing.T) {
	t.Parallel()
	arrived, aborted := make(chan struct{}, 1), make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server notices the sender hang up
		arrived <- struct{}{}
		<-r.Context().Done()
		aborted <- struct{}{}
	}))
	t.Cleanup(srv.Close)
	d := setupDeliveries(t, deliveryConfig(srv.URL+"/hook"))
	id := d.open(t, "r1", "aleppo", alerting.SeveritySevere)
	disp := d.dispatcher(t, alerting.DispatcherOptions{Senders: map[alerting.MethodKind]alerting.Sender{
		alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{Timeout: time.Hour})}})
	go disp.Run()
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook never arrived")
	}
	gaveUp, cancel := context.WithCancel(context.Background())
	cancel()
	if err := disp.Shutdown(gaveUp); err == nil {
		t.Fatal("Shutdown said all was done with a send still running")
	}
	select {
	case <-aborted:
	case <-time.After(20 * time.Second):
		t.Fatal("the send still runs after Shutdown gave up on it")
	}
	if n := d.notification(t, id); n.State == alerting.NotificationSent {
		t.Errorf("the aborted notification says %s", n.State)
	}
}
