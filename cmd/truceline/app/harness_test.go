package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/configs"
	"github.com/truceline/truceline/web/auth"
)

// deps are the NATS and Redis servers a test's truceline instances share.
type deps struct {
	nats  *natstest.Server
	redis *redistest.Server
}

func startDeps(t *testing.T) *deps {
	t.Helper()
	return &deps{nats: natstest.Start(t), redis: redistest.Start(t)}
}

// config is truceline on free ports against the test's servers; start loads
// the demo zones and parties, without the demo's regimes and rules, so that
// every report opens or updates one alert of the default rule.
func (d *deps) config(t *testing.T) app.Config {
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.NATSURL = d.nats.URL()
	cfg.RedisURL = d.redis.URL()
	cfg.ShutdownDrain = 0 // no load balancer waits for these
	// Sign-ins at bcrypt's least cost: at 12, under the race detector on a
	// busy machine, one takes seconds (the sign-in path is the same).
	cfg.PasswordCost = bcrypt.MinCost
	// The tests' webhook receivers listen on loopback, which webhooks may
	// not reach unless allowed.
	cfg.WebhookAllowNetworks = []string{"127.0.0.0/8", "::1/128"}
	return cfg
}

func start(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	return startWithLogger(t, cfg, alertingtest.Logger(t))
}

// startWithLogger is start with the logger given.
func startWithLogger(t *testing.T, cfg app.Config, logger *slog.Logger) *app.App {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg, logger)
	if err != nil {
		t.Fatalf("start truceline: %v", err)
	}
	demo, err := configs.Demo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ApplyConfig(ctx, alerting.Config{Zones: demo.Zones, Parties: demo.Parties}); err != nil {
		t.Fatal(err)
	}
	signIn(t, a)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	return a
}

func reportJSON(id, zone, category string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":"test monitor"}`,
		id, zone, category, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339))
}

// postKey sends a report as the test admin and returns the id truceline
// keeps it under.
func postKey(t *testing.T, a *app.App, body []byte) string {
	t.Helper()
	status, resp := post(t, a, "/api/v1/reports", body)
	key, _ := resp["id"].(string)
	if status != http.StatusAccepted || key == "" {
		t.Fatalf("POST report: %d %v", status, resp)
	}
	return key
}

// post sends a JSON body and decodes the JSON answer.
func post(t *testing.T, a *app.App, path string, body []byte) (int, map[string]any) {
	t.Helper()
	resp, err := adminClient.Post("http://"+a.HTTPAddr()+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decode(t, resp.Body)
}

// postAs is post with another user's token.
func postAs(t *testing.T, a *app.App, token, path string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decode(t, resp.Body)
}

func get(t *testing.T, a *app.App, path string) (int, map[string]any) {
	t.Helper()
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decode(t, resp.Body)
}

func decode(t *testing.T, r io.Reader) map[string]any {
	t.Helper()
	var v map[string]any
	data, _ := io.ReadAll(r)
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, data)
	}
	return v
}

// alerts lists every alert of a zone.
func alerts(t *testing.T, a *app.App, zone string) []alerting.Alert {
	t.Helper()
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/api/v1/alerts?limit=5000&zone=" + zone)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Alerts []alerting.Alert }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Alerts
}

// frame is any server→client WebSocket message.
type frame struct {
	Type     string           `json:"type"`
	Zone     string           `json:"zone"`
	Seq      int64            `json:"seq"`
	From     int64            `json:"from"`
	Event    string           `json:"event"`
	ReportID string           `json:"report_id"`
	Alert    *alerting.Alert  `json:"alert"`
	Alerts   []alerting.Alert `json:"alerts"`
	Reason   string           `json:"reason"`
	Code     string           `json:"code"`
}

// wsClient is a board's connection, read by a goroutine into a channel.
type wsClient struct {
	conn   *websocket.Conn
	frames chan frame
}

func dial(t *testing.T, a *app.App) *wsClient {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"truceline.v1"}}
	header := http.Header{}
	if tok, ok := tokens.Load(a.HTTPAddr()); ok {
		header.Set("Authorization", "Bearer "+tok.(string))
	}
	conn, resp, err := d.Dial("ws://"+a.HTTPAddr()+"/ws", header)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	if resp.Header.Get("Sec-WebSocket-Protocol") != "truceline.v1" {
		t.Fatalf("server chose subprotocol %q", resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	c := &wsClient{conn: conn, frames: make(chan frame, 4096)}
	go func() {
		defer close(c.frames)
		for {
			var f frame
			if err := conn.ReadJSON(&f); err != nil {
				return
			}
			if f.Type == "heartbeat" {
				continue // the tests that want them read them on their own
			}
			c.frames <- f
		}
	}()
	t.Cleanup(func() { _ = conn.Close() })
	return c
}

func (c *wsClient) subscribe(t *testing.T, zones []string, resume map[string]int64) {
	t.Helper()
	if err := c.conn.WriteJSON(map[string]any{"type": "subscribe", "zones": zones, "resume": resume}); err != nil {
		t.Fatal(err)
	}
}

// next returns the next frame, failing after a deadline.
func (c *wsClient) next(t *testing.T) frame {
	t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			t.Fatal("the WebSocket closed")
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no WebSocket frame within 10s")
	}
	return frame{}
}

// until reads frames until one satisfies match, and returns it.
func (c *wsClient) until(t *testing.T, what string, match func(frame) bool) frame {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				t.Fatalf("the WebSocket closed while waiting for %s", what)
			}
			if match(f) {
				return f
			}
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// hasReport reports whether an alert frame holds the report sent as id.
func hasReport(f frame, id string) bool {
	if f.Alert == nil {
		return false
	}
	for _, r := range f.Alert.ReportIDs {
		if r == id || sentID(r) == id {
			return true
		}
	}
	return false
}

// reportIDs lists every report id of an alert.
func reportIDs(t *testing.T, a *app.App, alertID string) []string {
	t.Helper()
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/api/v1/alerts/" + alertID + "/reports?limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		ReportIDs []string `json:"report_ids"`
		Total     int      `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || len(body.ReportIDs) != body.Total {
		t.Fatalf("reports of %s: %v, %d of %d", alertID, err, len(body.ReportIDs), body.Total)
	}
	return body.ReportIDs
}

// testSecret signs the webhooks of test contacts.
const testSecret = "whsec_ru023l+5ly9431sis52Nw/9vv13EccYo2usB2fpD3Ck="

// webhookContact is a contact reached by one webhook at url.
func webhookContact(id, party, url string) alerting.Contact {
	return alerting.Contact{ID: id, Name: id, Party: party,
		Methods: []alerting.Method{{ID: "hook", Type: alerting.MethodWebhook, URL: url, Secret: testSecret}}}
}

// tokens holds, per truceline address, the API token of its test admin;
// adminClient sends it.
var tokens sync.Map

// adminClient is the tests' HTTP client: it calls a truceline as its test
// admin unless a request carries credentials of its own. The tests leave
// http.DefaultClient alone.
var adminClient = &http.Client{Transport: tokenTransport{}}

// tokenTransport adds the test admin's token to requests that carry no
// credentials of their own.
type tokenTransport struct{}

func (tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if tok, ok := tokens.Load(r.URL.Host); ok && r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+tok.(string))
	}
	return http.DefaultTransport.RoundTrip(r)
}

// signIn gives the tests' HTTP client an admin token for a (the user
// test-admin, made without a password).
func signIn(t *testing.T, a *app.App) string {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Store.User(ctx, "test-admin"); err != nil {
		u := &alerting.User{Name: "test-admin", FullName: "Test admin", Role: alerting.RoleAdmin, CreatedAt: time.Now()}
		if err := a.CreateUser(ctx, u); err != nil && alerting.ErrorCode(err) != alerting.ECONFLICT {
			t.Fatal(err)
		}
	}
	tok, err := a.IssueToken(ctx, "test-admin", "tests")
	if err != nil {
		t.Fatal(err)
	}
	tokens.Store(a.HTTPAddr(), tok)
	return tok
}

// adminTokenID is the id of the test admin's token of a.
func adminTokenID(a *app.App) string {
	tok, _ := tokens.Load(a.HTTPAddr())
	id, _, _ := auth.ParseToken(tok.(string))
	return id
}

// userToken makes a user with the role (and party and zones) and returns an
// API token of it.
func userToken(t *testing.T, a *app.App, u alerting.User) string {
	t.Helper()
	ctx := context.Background()
	u.CreatedAt = time.Now()
	if err := a.CreateUser(ctx, &u); err != nil && alerting.ErrorCode(err) != alerting.ECONFLICT {
		t.Fatal(err)
	}
	tok, err := a.IssueToken(ctx, u.Name, "tests")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// twoReplicas starts two trucelines on one NATS and Redis, with a policy
// that shows every alert on the board and notifies the webhook contact
// duty-officers (at the receiver returned) stepAfter later, for every
// report; it returns once both replicas use it.
func twoReplicas(t *testing.T, stepAfter time.Duration) (*deps, *app.App, *app.App, *receiver) {
	t.Helper()
	d := startDeps(t)
	a := start(t, d.config(t))
	b := start(t, d.config(t))
	in := newReceiver(t)
	cfg := alerting.Config{
		Contacts: []alerting.Contact{webhookContact("duty-officers", "", in.URL+"/duty")},
		Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{
			{After: 0, Notify: []string{"board"}},
			{After: alerting.Duration(stepAfter), Notify: []string{"duty-officers"}},
		}}},
		Rules: []alerting.Rule{{ID: "all", Policy: "p"}},
	}
	if err := a.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 10*time.Second, "replica b to load the rule", func() bool {
		_, ra := get(t, a, "/readyz")
		_, rb := get(t, b, "/readyz")
		return ra["config_version"] == rb["config_version"]
	})
	return d, a, b, in
}
