package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// receiver is a liaison team's webhook endpoint: a real HTTP server that
// verifies signatures, counts every request by webhook-id, and answers 503
// while down.
type receiver struct {
	*httptest.Server
	rc   *webhook.Receiver
	down atomic.Bool
	// restarts counts restart calls; a connection opened before the last
	// one is refused, as a restarted server would have lost it.
	restarts atomic.Int64
	mu       sync.Mutex
	byKey    map[string]int
}

// connOpened keys the restart a connection was opened after.
type connOpened struct{}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{byKey: map[string]int{}}
	r.rc = webhook.NewReceiver(func(*http.Request) (string, bool) { return testSecret, true }, 1000)
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.down.Load() || req.Context().Value(connOpened{}).(int64) < r.restarts.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		r.mu.Lock()
		r.byKey[req.Header.Get("webhook-id")]++
		r.mu.Unlock()
		r.rc.ServeHTTP(w, req)
	}))
	r.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connOpened{}, r.restarts.Load())
	}
	r.Start()
	t.Cleanup(r.Close)
	return r
}

// restart brings a down receiver back as a new process would come back:
// without the connections of before, so that a request a killed truceline
// had on its way, and that arrives late, is not taken as delivered.
func (r *receiver) restart() {
	r.restarts.Add(1)
	r.CloseClientConnections()
	r.down.Store(false)
}

// counts says how often each key was delivered (not counting 503s).
func (r *receiver) counts() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.byKey))
	for k, v := range r.byKey {
		out[k] = v
	}
	return out
}

// notifyAtOnce is a policy that notifies contact as soon as an alert opens,
// with the rule that gives every report that policy.
func notifyAtOnce(contacts []alerting.Contact, target string, requireAck ...string) alerting.Config {
	return alerting.Config{
		Contacts: contacts,
		Policies: []alerting.Policy{{ID: "at-once", Steps: []alerting.Step{{After: 0, Notify: []string{"board", target}}}, RequireAckFrom: requireAck}},
		Rules:    []alerting.Rule{{ID: "all", Policy: "at-once"}},
	}
}

// firstAlert waits for the zone's one alert.
func firstAlert(t *testing.T, a *app.App, zone string) alerting.Alert {
	t.Helper()
	var al []alerting.Alert
	alertingtest.Eventually(t, 10*time.Second, "an alert in "+zone, func() bool {
		al = alerts(t, a, zone)
		return len(al) > 0
	})
	return al[0]
}

// TestAckLink follows the link a notification carries: it shows the alert,
// acknowledges it on behalf of the contact's party, and works for nothing
// else: not tampered with, not on another alert, not once expired.
func TestAckLink(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.AckLinkSecret = strings.Repeat("a", 32)
	a := start(t, cfg)
	in := newReceiver(t)
	if err := a.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("liaison-a", "party-a", in.URL+"/a")}, "liaison-a", "party-a", "party-b")); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("link-1", "aleppo", "shelling"))
	post(t, a, "/api/v1/reports", reportJSON("link-2", "idlib", "shelling"))
	var got []webhook.Received
	alertingtest.Eventually(t, 10*time.Second, "both webhooks", func() bool {
		got = in.rc.Received()
		return len(got) == 2
	})
	link := got[0].Payload.AckURL
	alertID := got[0].Payload.Alert.ID
	other := got[1].Payload.Alert.ID
	if !strings.HasPrefix(link, "http://"+a.HTTPAddr()+"/ack/"+alertID+"/") {
		t.Fatalf("ack link %q", link)
	}
	token := link[strings.LastIndex(link, "/")+1:]

	resp, err := adminClient.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Acknowledge on behalf of Co-chair A") {
		t.Fatalf("GET the link: %d %s", resp.StatusCode, page)
	}
	if al := alerts(t, a, got[0].Payload.Alert.Zone)[0]; len(al.Acks) != 0 {
		t.Fatalf("following the link acknowledged already (mail scanners follow links): %+v", al.Acks)
	}

	postLink := func(url string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", url, nil)
		req.Header.Set("Accept", "application/json")
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, decode(t, resp.Body)
	}
	status, body := postLink(link)
	acks, _ := body["acks"].([]any)
	if status != 200 || len(acks) != 1 || acks[0].(map[string]any)["party"] != "party-a" {
		t.Fatalf("POST the link: %d %v", status, body)
	}
	if status, body := postLink(link); status != 409 {
		t.Errorf("the link again: %d %v, want 409 already acknowledged", status, body)
	}
	base := "http://" + a.HTTPAddr() + "/ack/"
	tampered := []byte(token)
	tampered[len(tampered)/2] ^= 1
	links, _ := alerting.NewAckLinks([]byte(cfg.AckLinkSecret), time.Hour)
	old, _, _ := links.Sign(&alerting.Message{Key: "k", Alert: &alerting.Alert{ID: alertID}, Contact: alerting.Contact{ID: "liaison-a", Party: "party-a"}}, time.Now().Add(-2*time.Hour))
	for _, tc := range []struct{ name, url, want string }{
		{"on another alert", base + other + "/" + token, "another alert"},
		{"tampered", base + alertID + "/" + string(tampered), "not valid"},
		{"expired", base + alertID + "/" + old, "expired"},
	} {
		status, body := postLink(tc.url)
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if status != 403 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: %d %v, want 403 saying %q", tc.name, status, body, tc.want)
		}
	}
	if al := alerts(t, a, got[1].Payload.Alert.Zone)[0]; len(al.Acks) != 0 {
		t.Errorf("the other alert was acknowledged: %+v", al.Acks)
	}
}

// TestDemoContactsAreReached runs the demo's contacts: a step's webhook
// lands in the demo's inbox with a valid signature, and the liaison team's
// NATS method publishes on its subject with the key as Nats-Msg-Id.
func TestDemoContactsAreReached(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.Demo, cfg.DemoRate = true, 0
	cfg.WebhookAllowNetworks = nil // the demo allows its own inbox by itself
	a := start(t, cfg)
	nc := d.nats.Connect(t)
	msgs := make(chan *nats.Msg, 10)
	sub, err := nc.ChanSubscribe("liaison.party-a.>", msgs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	cfgFast := notifyAtOnce(nil, "party-a-liaison")
	cfgFast.Rules[0].Zones = []string{"aleppo"}
	if err := a.ApplyConfig(context.Background(), cfgFast); err != nil {
		t.Fatal(err)
	}
	post(t, a, "/api/v1/reports", reportJSON("demo-1", "aleppo", "shelling"))
	var inbox struct {
		Received []webhook.Received `json:"received"`
	}
	alertingtest.Eventually(t, 10*time.Second, "the demo inbox to receive the webhook", func() bool {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/demo/inbox/", nil)
		req.Header.Set("Accept", "application/json")
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&inbox) == nil && len(inbox.Received) == 1
	})
	p := inbox.Received[0].Payload
	if p.Contact != "party-a-liaison" || p.Alert.Zone != "aleppo" || !strings.HasSuffix(p.Key, "party-a-liaison/inbox") {
		t.Errorf("inbox got %+v", p)
	}
	select {
	case m := <-msgs:
		var np alerting.Payload
		if err := json.Unmarshal(m.Data, &np); err != nil || np.Alert.ID != p.Alert.ID || m.Header.Get("Nats-Msg-Id") != np.Key || !strings.HasSuffix(np.Key, "party-a-liaison/ops-system") {
			t.Errorf("NATS method got %s %v (%v)", m.Data, m.Header, err)
		}
		if m.Subject != "liaison.party-a.alerts" {
			t.Errorf("subject %s", m.Subject)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the NATS method published nothing")
	}
	al := firstAlert(t, a, "aleppo")
	alertingtest.Eventually(t, 10*time.Second, "both methods sent on the alert", func() bool {
		al = firstAlert(t, a, "aleppo")
		sent := 0
		for _, n := range al.Notifications {
			if n.State == alerting.NotificationSent {
				sent++
			}
		}
		return sent == 2
	})
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, kind := range []string{"webhook", "nats"} {
		if want := `truceline_notification_attempt_duration_seconds_count{kind="` + kind + `",outcome="sent"} 1`; !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestDeliveriesSurviveAKill: a delivery that failed while the receiver
// was down is retried by the next truceline after the first is killed, and
// arrives once.
func TestDeliveriesSurviveAKill(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	in := newReceiver(t)
	in.down.Store(true)
	cfg := d.config(t)
	cfg.DeliveryBackoff, cfg.DeliveryMaxBackoff = 200*time.Millisecond, 400*time.Millisecond
	cfg.DeliveryAttempts = 50
	first := start(t, cfg)
	if err := first.ApplyConfig(context.Background(), notifyAtOnce([]alerting.Contact{webhookContact("ops", "", in.URL+"/ops")}, "ops")); err != nil {
		t.Fatal(err)
	}
	post(t, first, "/api/v1/reports", reportJSON("kill-1", "aleppo", "shelling"))
	alertingtest.Eventually(t, 10*time.Second, "a failed attempt", func() bool {
		for _, n := range firstAlert(t, first, "aleppo").Notifications {
			if n.State == alerting.NotificationFailed {
				return true
			}
		}
		return false
	})
	first.Kill()
	// The first may have had a retry on its way when killed: the receiver
	// refuses it, as it does every request of the first.
	in.restart()
	second := start(t, d.config(t))
	// When the kill came while the first held the retry's lease (two
	// minutes), the second sends it once the lease has run out.
	alertingtest.Eventually(t, 50*time.Second, "the delivery after the restart", func() bool {
		return len(in.rc.Received()) == 1
	})
	for k, n := range in.counts() {
		if n != 1 {
			t.Errorf("key %s delivered %d times", k, n)
		}
	}
	alertingtest.Eventually(t, 10*time.Second, "the alert to say sent", func() bool {
		for _, n := range firstAlert(t, second, "aleppo").Notifications {
			if n.Contact == "ops" {
				return n.State == alerting.NotificationSent
			}
		}
		return false
	})
}

// TestOnCallAPI answers who is on call in the demo schedules.
func TestOnCallAPI(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.Demo, cfg.DemoRate = true, 0
	a := start(t, cfg)
	status, body := get(t, a, "/api/v1/schedules/duty-officers/oncall?at=2026-11-25T20:00:00Z")
	people, _ := body["people"].([]any)
	if status != 200 || len(people) != 1 || people[0].(map[string]any)["id"] != "officer-amara" || body["from"] != "2026-11-25T07:00:00Z" {
		t.Errorf("duty officers: %d %v", status, body)
	}
	if status, body := get(t, a, "/api/v1/schedules/night-desk/oncall?at=2026-11-25T12:00:00Z"); status != 200 || len(body["contacts"].([]any)) != 0 {
		t.Errorf("night desk by day: %d %v", status, body)
	}
	if status, body := get(t, a, "/api/v1/schedules/duty-officers/oncall?at=tomorrow"); status != 400 {
		t.Errorf("bad at: %d %v", status, body)
	}
	if status, _ := get(t, a, "/api/v1/schedules/nope/oncall"); status != 404 {
		t.Errorf("unknown schedule: %d", status)
	}
}

// TestLiaisonsReadTheRegimesAndPoliciesOfTheirZones: a liaison reads the
// regimes covering its zones (listing only those) and the names and
// acknowledgement rules of the policies judging them, never their steps;
// the rest of the configuration stays closed.
func TestLiaisonsReadTheRegimesAndPoliciesOfTheirZones(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.Demo, cfg.DemoRate = true, 0
	a := start(t, cfg)
	liaison := userToken(t, a, alerting.User{Name: "liaison-latakia", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"latakia"}})
	read := func(path string) (int, map[string]any) {
		t.Helper()
		status, text := call(t, a, liaison, "GET", path, "")
		var body map[string]any
		_ = json.Unmarshal([]byte(text), &body)
		return status, body
	}
	status, body := read("/api/v1/regimes")
	regimes, _ := body["regimes"].([]any)
	ids := map[string]string{}
	for _, r := range regimes {
		rg := r.(map[string]any)
		ids[rg["id"].(string)] = fmt.Sprint(rg["zones"])
	}
	if status != 200 || len(ids) != 2 || ids["coh-all"] != "[latakia]" || ids["silence-latakia"] != "[latakia]" {
		t.Errorf("regimes: %d %v, want coh-all and silence-latakia, each listing latakia alone", status, ids)
	}
	status, body = read("/api/v1/policies")
	policies, _ := body["policies"].([]any)
	if status != 200 || len(policies) == 0 {
		t.Fatalf("policies: %d %v", status, body)
	}
	for _, p := range policies {
		pol := p.(map[string]any)
		if pol["name"] == nil || fmt.Sprint(pol["steps"]) != "[]" {
			t.Errorf("policy %v: want its name without its steps", pol)
		}
	}
	if status, _ := call(t, a, liaison, "GET", "/api/v1/regimes/silence-ghouta", ""); status != 404 {
		t.Errorf("another zone's regime: %d, want 404", status)
	}
	for _, kind := range []string{"contacts", "rules", "schedules"} {
		if status, _ := call(t, a, liaison, "GET", "/api/v1/"+kind, ""); status != 403 {
			t.Errorf("GET /api/v1/%s as a liaison: %d, want 403", kind, status)
		}
	}
	// A duty officer still reads everything.
	status, body = get(t, a, "/api/v1/regimes")
	if all, _ := body["regimes"].([]any); status != 200 || len(all) != 4 {
		t.Errorf("regimes as the admin: %d, %d of them", status, len(all))
	}
}
