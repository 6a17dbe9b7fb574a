package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/web/gateway"
)

type fixture struct {
	store  *redisstore.Store
	broker *broker.Broker
	// engine publishes its changes; silent commits them without
	// publishing, as a truceline that crashed in between would.
	engine, silent *alerting.Engine
	srv            *httptest.Server
	redis          *redistest.Server
}

type staticCatalog struct{ c *alerting.Catalog }

func (s staticCatalog) Catalog() *alerting.Catalog { return s.c }

type dropPublisher struct{}

func (dropPublisher) PublishChange(context.Context, alerting.Change) error { return nil }

// framePublisher publishes each change's frame as it comes, on core NATS:
// a feed that can have holes, for the gateway to fill. (The broker would
// fill them itself, from the store.)
type framePublisher struct{ nc *nats.Conn }

func (p framePublisher) PublishChange(_ context.Context, c alerting.Change) error {
	return p.nc.Publish("alerts."+c.Zone+"."+string(c.Event), c.Frame)
}

func setup(t *testing.T, o gateway.Options) *fixture {
	t.Helper()
	rs := redistest.Start(t)
	store, err := redisstore.New(redisstore.Options{Client: rs.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	nc := natstest.Start(t).Connect(t)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	catalog := staticCatalog{alerting.MustCatalog(1, alerting.Config{Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}, {ID: "daraa", Name: "Daraa"}}})}
	f := &fixture{store: store, broker: b, redis: rs}
	if f.engine, err = alerting.NewEngine(alerting.EngineOptions{Store: store, Publisher: framePublisher{nc}, Catalog: catalog}); err != nil {
		t.Fatal(err)
	}
	if f.silent, err = alerting.NewEngine(alerting.EngineOptions{Store: store, Publisher: dropPublisher{}, Catalog: catalog}); err != nil {
		t.Fatal(err)
	}
	o.Feed, o.History, o.Zones, o.Logger = b, store, catalog, alertingtest.Logger(t)
	g, err := gateway.New(o)
	if err != nil {
		t.Fatal(err)
	}
	// Small kernel send buffers make a client that stops reading back up
	// into the gateway's queue after a few frames rather than megabytes.
	f.srv = httptest.NewUnstartedServer(g)
	f.srv.Listener = gateway.SmallSendBuffers{Listener: f.srv.Listener}
	f.srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		f.srv.Close()
	})
	return f
}

// reportSeq numbers the reports of all tests, which run in parallel.
var reportSeq atomic.Int64

// report makes a change in zone through e.
func (f *fixture) report(t *testing.T, e *alerting.Engine, zone string) {
	t.Helper()
	r := &alerting.Report{ID: fmt.Sprintf("r%d", reportSeq.Add(1)), Zone: zone, Category: alerting.CategoryShelling, ObservedAt: time.Now(), ReportedBy: "test"}
	if err := e.HandleReport(context.Background(), r, time.Now()); err != nil {
		t.Fatal(err)
	}
}

type frame struct {
	Type    string `json:"type"`
	Zone    string `json:"zone"`
	Seq     int64  `json:"seq"`
	Reason  string `json:"reason"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// A heartbeat's.
	At      time.Time        `json:"at"`
	EveryMS int64            `json:"every_ms"`
	Seqs    map[string]int64 `json:"seqs"`
	Status  *gateway.Status  `json:"status"`
}

type client struct {
	conn   *websocket.Conn
	frames chan frame // every frame but heartbeats
	beats  chan frame // heartbeats
	closed chan error
}

func (f *fixture) dial(t *testing.T, d *websocket.Dialer) *client {
	t.Helper()
	if d == nil {
		d = &websocket.Dialer{}
	}
	d.Subprotocols = []string{gateway.Subprotocol}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &client{conn: conn, frames: make(chan frame, 100_000), beats: make(chan frame, 1000), closed: make(chan error, 1)}
}

func (c *client) read() {
	go func() {
		for {
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				c.closed <- err
				close(c.frames)
				return
			}
			var fr frame
			_ = json.Unmarshal(data, &fr)
			if fr.Type == "heartbeat" {
				select {
				case c.beats <- fr:
				default: // a test that does not read them
				}
				continue
			}
			c.frames <- fr
		}
	}()
}

func (c *client) subscribe(t *testing.T, zones ...string) {
	t.Helper()
	if err := c.conn.WriteJSON(map[string]any{"type": "subscribe", "zones": zones}); err != nil {
		t.Fatal(err)
	}
}

func (c *client) next(t *testing.T) frame {
	t.Helper()
	select {
	case fr, ok := <-c.frames:
		if !ok {
			t.Fatalf("connection closed: %v", <-c.closed)
		}
		return fr
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	return frame{}
}

func TestAGapIsFilledFromHistoryInOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{CheckInterval: time.Hour}) // only the next frame reveals the gap
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	if fr := c.next(t); fr.Type != "snapshot" || fr.Seq != 0 {
		t.Fatalf("first frame %+v", fr)
	}
	f.report(t, f.engine, "aleppo")
	f.report(t, f.silent, "aleppo") // committed, never published
	f.report(t, f.silent, "aleppo")
	f.report(t, f.engine, "aleppo")
	for want := int64(1); want <= 4; want++ {
		if fr := c.next(t); fr.Type != "alert" || fr.Seq != want {
			t.Fatalf("want change %d, got %+v", want, fr)
		}
	}
}

func TestALostPublicationIsFoundByTheCheck(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{CheckInterval: 20 * time.Millisecond})
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	c.next(t)
	f.report(t, f.silent, "aleppo") // no later change will reveal this one
	if fr := c.next(t); fr.Type != "alert" || fr.Seq != 1 {
		t.Fatalf("want change 1 from the periodic check, got %+v", fr)
	}
}

func TestLostRedisDataGivesFreshSnapshots(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{CheckInterval: 20 * time.Millisecond})
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	c.next(t)
	f.report(t, f.engine, "aleppo")
	f.report(t, f.engine, "aleppo")
	c.next(t)
	c.next(t)
	if err := f.redis.Client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if fr := c.next(t); fr.Type != "snapshot" || fr.Seq != 0 || fr.Reason != "history_unavailable" {
		t.Fatalf("after Redis lost its data, want a snapshot at 0 saying why, got %+v", fr)
	}
	f.report(t, f.engine, "aleppo")
	if fr := c.next(t); fr.Type != "alert" || fr.Seq != 1 {
		t.Fatalf("after the snapshot, want the new change 1, got %+v", fr)
	}
}

// TestASlowClientIsCutOffWithoutDelayingOthers makes a client that reads
// nothing, through a tiny socket buffer, and checks that it is disconnected
// with the slow-client code while a reading client gets every change.
func TestASlowClientIsCutOffWithoutDelayingOthers(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := setup(t, gateway.Options{MaxQueueBytes: 64 << 10, CheckInterval: time.Hour, Registerer: reg})
	slow := f.dial(t, &websocket.Dialer{NetDial: func(network, addr string) (net.Conn, error) {
		conn, err := net.Dial(network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(4096)
		}
		return conn, err
	}})
	slow.subscribe(t, "aleppo")
	fast := f.dial(t, nil)
	fast.read()
	fast.subscribe(t, "aleppo")
	fast.next(t)
	const n = 400
	for range n {
		f.report(t, f.engine, "aleppo")
	}
	for want := int64(1); want <= n; want++ {
		if fr := fast.next(t); fr.Seq != want {
			t.Fatalf("the fast client got seq %d, want %d", fr.Seq, want)
		}
	}
	// Now read the slow client: it gets what was buffered, then the close.
	slow.read()
	var err error
	alertingtest.Eventually(t, 10*time.Second, "the slow client to be closed", func() bool {
		select {
		case err = <-slow.closed:
			return true
		case <-slow.frames:
			return false
		default:
			return false
		}
	})
	// The close frame waits behind what the client has not read, for a
	// second: on a loaded machine the test reads too late for it, and the
	// client sees the connection end. The gateway counted it as slow.
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || (ce.Code != gateway.CloseSlowClient && ce.Code != websocket.CloseAbnormalClosure) {
		t.Fatalf("slow client closed with %v, want close code %d", err, gateway.CloseSlowClient)
	}
	families, gerr := reg.Gather()
	if gerr != nil {
		t.Fatal(gerr)
	}
	slowCut := 0.0
	for _, mf := range families {
		if mf.GetName() == "truceline_ws_slow_disconnects_total" {
			slowCut = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if slowCut != 1 {
		t.Errorf("truceline_ws_slow_disconnects_total = %v, want 1", slowCut)
	}
}

func TestUpgradeChecks(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{AllowedOrigins: []string{"https://board.example.org"}})
	url := "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/"
	tests := []struct {
		name     string
		protos   []string
		origin   string
		wantCode int
	}{
		{"no subprotocol", nil, "", http.StatusBadRequest},
		{"foreign origin", []string{gateway.Subprotocol}, "https://evil.example.com", http.StatusForbidden},
		{"allowed origin", []string{gateway.Subprotocol}, "https://board.example.org", http.StatusSwitchingProtocols},
		{"same origin", []string{gateway.Subprotocol}, f.srv.URL, http.StatusSwitchingProtocols},
		{"no origin (not a browser)", []string{gateway.Subprotocol}, "", http.StatusSwitchingProtocols},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			d := websocket.Dialer{Subprotocols: tt.protos}
			conn, resp, err := d.Dial(url, h)
			if conn != nil {
				conn.Close()
			}
			if resp == nil {
				t.Fatalf("no response: %v", err)
			}
			if resp.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantCode)
			}
		})
	}
}

func TestBadMessagesGetErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{})
	c := f.dial(t, nil)
	c.read()
	for _, msg := range []string{`nonsense`, `{"type":"dance"}`, `{"type":"subscribe","zones":["atlantis"]}`} {
		if err := c.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"bad_message", "bad_message", "unknown_zone"} {
		if fr := c.next(t); fr.Type != "error" || fr.Code != want {
			t.Errorf("want error %s, got %+v", want, fr)
		}
	}
	// The connection still works.
	c.subscribe(t, "*")
	zones := map[string]bool{c.next(t).Zone: true, c.next(t).Zone: true}
	if !zones["aleppo"] || !zones["daraa"] {
		t.Errorf(`"*" gave snapshots of %v`, zones)
	}
}

// TestChecksDuringTrafficCauseNoSnapshots runs the sequence check all the
// time while changes stream: a check must never mistake frames delivered
// meanwhile for Redis going backwards.
func TestChecksDuringTrafficCauseNoSnapshots(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{CheckInterval: time.Millisecond})
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	c.next(t)
	const n = 300
	done := make(chan struct{})
	defer func() { <-done }() // the commits outlive the frames the check finds early
	go func() {
		defer close(done)
		for i := range n {
			r := &alerting.Report{ID: fmt.Sprintf("traffic-%d", i), Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: time.Now(), ReportedBy: "test"}
			if err := f.engine.HandleReport(context.Background(), r, time.Now()); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for want := int64(1); want <= n; want++ {
		if fr := c.next(t); fr.Type != "alert" || fr.Seq != want {
			t.Fatalf("want change %d, got %+v", want, fr)
		}
	}
}

func TestCompressionIsOffUnlessConfigured(t *testing.T) {
	t.Parallel()
	for _, enabled := range []bool{false, true} {
		f := setup(t, gateway.Options{Compression: enabled})
		d := websocket.Dialer{Subprotocols: []string{gateway.Subprotocol}, EnableCompression: true}
		conn, resp, err := d.Dial("ws"+strings.TrimPrefix(f.srv.URL, "http")+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if got != enabled {
			t.Errorf("compression configured %v, negotiated %v", enabled, got)
		}
	}
}

// TestAZoneBeingHealedIsFollowedOnceHealed: a board subscribing to a zone
// that is being restored from the streams is told so, and follows the zone
// by itself once it is healed.
func TestAZoneBeingHealedIsFollowedOnceHealed(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	store, err := redisstore.New(redisstore.Options{Client: rs.Client(t), Fence: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.SetEpoch(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	runID, _, err := store.Incarnation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	store.OpenFence(runID, []string{"aleppo"})
	b, err := broker.New(ctx, broker.Options{Conn: natstest.Start(t).Connect(t)})
	if err != nil {
		t.Fatal(err)
	}
	catalog := staticCatalog{alerting.MustCatalog(1, alerting.Config{Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}}})}
	g, err := gateway.New(gateway.Options{Feed: b, History: store, Zones: catalog, Logger: alertingtest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() { _ = g.Shutdown(ctx); srv.Close() })
	f := &fixture{srv: srv}
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	if fr := c.next(t); fr.Type != "error" || fr.Code != "unavailable" || !strings.Contains(fr.Message, "being restored") {
		t.Fatalf("subscribing to a zone being healed: %+v, want an error saying it is being restored", fr)
	}
	store.ZoneHealed("aleppo")
	if fr := c.next(t); fr.Type != "snapshot" || fr.Zone != "aleppo" {
		t.Fatalf("after the heal: %+v, want the zone's snapshot", fr)
	}
}

// TestHeartbeatsSayWhereEachClientIs: every interval, each client gets a
// heartbeat with the server's time, its position in each zone it follows
// (every frame up to it came before), and the server's status, with only
// the healing zones the client may follow.
func TestHeartbeatsSayWhereEachClientIs(t *testing.T) {
	t.Parallel()
	status := gateway.Status{Problems: []string{"redis: unavailable"}, Healing: []string{"aleppo", "daraa"}, Backlog: 12, OldestSeconds: 3.5}
	f := setup(t, gateway.Options{HeartbeatInterval: 100 * time.Millisecond,
		Status: func(context.Context) gateway.Status { return status }})
	f.report(t, f.engine, "aleppo")
	c := f.dial(t, nil)
	c.read()
	c.subscribe(t, "aleppo")
	if fr := c.next(t); fr.Type != "snapshot" || fr.Seq != 1 {
		t.Fatalf("first frame %+v", fr)
	}
	f.report(t, f.engine, "aleppo")
	if fr := c.next(t); fr.Type != "alert" || fr.Seq != 2 {
		t.Fatalf("second frame %+v", fr)
	}
	var hb frame
	alertingtest.Eventually(t, 10*time.Second, "a heartbeat at seq 2 with the status", func() bool {
		select {
		case hb = <-c.beats:
			return hb.Seqs["aleppo"] == 2 && hb.Status != nil
		default:
			return false
		}
	})
	if hb.EveryMS != 100 || time.Since(hb.At) > time.Minute || len(hb.Seqs) != 1 {
		t.Errorf("heartbeat %+v", hb)
	}
	if s := hb.Status; s == nil || len(s.Problems) != 1 || s.Backlog != 12 || s.OldestSeconds != 3.5 || len(s.Healing) != 2 {
		t.Errorf("status %+v", hb.Status)
	}
}
