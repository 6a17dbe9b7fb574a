// Package gateway is truceline's WebSocket gateway (protocol truceline.v1,
// documented in docs/WEBSOCKET.md): clients subscribe to zones and get a
// snapshot of each zone's active alerts or the changes they missed, then
// every change live, each with the zone's sequence number, and never a gap
// without being told.
//
// The gateway subscribes to a zone's changes on NATS only while some local
// client wants the zone. Each change arrives already encoded as its frame and
// is shared, not copied, among the subscribers' queues. Sequence numbers are
// checked per zone: a missing change is fetched from the zone's history in
// Redis before anything later is delivered, and a periodic check catches a
// change whose publication was lost.
package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
)

// Subprotocol is the WebSocket subprotocol the gateway speaks.
const Subprotocol = "truceline.v1"

// Feed delivers the change frames of a zone as they are published.
type Feed interface {
	SubscribeChanges(zone string, fn func(frame []byte)) (unsubscribe func(), err error)
}

// History is the durable record of each zone's changes.
type History interface {
	Seq(ctx context.Context, zone string) (int64, error)
	Snapshot(ctx context.Context, zone string) (int64, []*alerting.Alert, error)
	ChangesSince(ctx context.Context, zone string, after int64) (frames [][]byte, seq int64, ok bool, err error)
}

// Options configures a Gateway. Feed, History and Zones are required; the
// other fields have working zero values.
type Options struct {
	Feed    Feed
	History History
	Zones   alerting.CatalogSource
	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages
	// may connect besides the gateway's own host. Requests without an
	// Origin header (non-browser clients) are allowed.
	AllowedOrigins []string
	// MaxQueueBytes bounds what may wait to be written to one client
	// before it is disconnected as slow; 0 means 1 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds each write: one blocked for WriteTimeout fails,
	// and one for half of it may (see lazyDeadline); 0 means 10 s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings; a client silent for
	// two intervals is dropped. 0 means 25 s.
	PingInterval time.Duration
	// CheckInterval is how often each zone's sequence is compared with
	// Redis to catch a change whose publication was lost; 0 means 2 s.
	CheckInterval time.Duration
	// HeartbeatInterval is how often each client gets a heartbeat frame:
	// the server's time, its position in each zone it follows, and the
	// server's health (Status). A client that hears nothing for two
	// intervals knows it is stale. 0 means 5 s.
	HeartbeatInterval time.Duration
	// Status, when set, says how the server is, for the heartbeats. It is
	// called once per heartbeat interval, not per client, on a goroutine
	// of its own: each heartbeat carries the latest answer.
	Status func(ctx context.Context) Status
	// Compression enables permessage-deflate when the client offers it.
	Compression bool
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

// Gateway serves WebSocket clients.
type Gateway struct {
	opts     Options
	upgrader websocket.Upgrader
	logger   *slog.Logger
	metrics  metrics

	mu      sync.Mutex
	feeds   map[string]*zoneFeed
	clients map[*client]struct{}
	closed  bool

	// lastStatus is what the last heartbeat said of the server.
	lastStatus atomic.Pointer[Status]

	stopCheck chan struct{}
	wg        sync.WaitGroup // readers, writers and the checker
	shutdown  sync.Once
}

// maxMessageBytes bounds a client's message; a subscribe naming a thousand
// zones with resume points fits.
const maxMessageBytes = 64 << 10

// New returns a Gateway and starts its sequence checker.
func New(o Options) (*Gateway, error) {
	if o.Feed == nil || o.History == nil || o.Zones == nil {
		return nil, errors.New("gateway: Feed, History and Zones are required")
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = 1 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 2 * time.Second
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{
		opts:      o,
		logger:    o.Logger.With("component", "gateway"),
		metrics:   newMetrics(o.Registerer),
		feeds:     make(map[string]*zoneFeed),
		clients:   make(map[*client]struct{}),
		stopCheck: make(chan struct{}),
	}
	g.upgrader = websocket.Upgrader{
		WriteBufferSize:   4096,         // the read buffer is the gateway's own (see upgrade)
		WriteBufferPool:   &sync.Pool{}, // idle connections hold no write buffer
		Subprotocols:      []string{Subprotocol},
		CheckOrigin:       g.checkOrigin,
		EnableCompression: o.Compression,
		HandshakeTimeout:  10 * time.Second,
	}
	g.wg.Add(3)
	go g.every(o.CheckInterval, g.checkAll)
	go g.every(o.PingInterval, g.pingAll)
	go g.every(o.HeartbeatInterval, g.heartbeatAll)
	if o.Status != nil {
		g.wg.Add(1)
		go g.statusLoop()
	}
	return g, nil
}

func (g *Gateway) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, allowed := range g.opts.AllowedOrigins {
		if strings.EqualFold(strings.TrimRight(allowed, "/"), origin) {
			return true
		}
	}
	return false
}

// ServeHTTP upgrades the request and serves the connection until it closes.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	all := func(string) bool { return true }
	g.ServeViewer(w, r, all, func(context.Context) (func(string) bool, error) { return all, nil })
}

// Viewer says again whether a connection's client may stay connected, and
// which zones it may now follow. An error closes the connection with
// CloseCredentials and the error's message; a nil sees and a nil error
// mean it cannot say now (the store is away), and nothing changes.
type Viewer = func(ctx context.Context) (sees func(zone string) bool, err error)

// ServeViewer upgrades a connection whose client may see only the zones
// sees allows: "*" means those, and any other zone is, to it, unknown.
// viewer is asked again at every ping and on Recheck: a client whose
// credentials no longer hold is disconnected, and one that may see fewer
// zones stops following the others, told why.
func (g *Gateway) ServeViewer(w http.ResponseWriter, r *http.Request, sees func(zone string) bool, viewer Viewer) {
	if !slices.Contains(websocket.Subprotocols(r), Subprotocol) {
		http.Error(w, `WebSocket subprotocol "truceline.v1" is required`, http.StatusBadRequest)
		return
	}
	conn, br, wire, err := g.upgrade(w, r)
	if err != nil {
		return // the upgrader has answered
	}
	c := newClient(g, conn)
	c.sees, c.viewer = sees, viewer
	if !g.opts.Compression {
		c.wire = wire
	}
	if raw, err := wire.SyscallConn(); err == nil {
		c.raw = raw
	}
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	g.clients[c] = struct{}{}
	g.wg.Add(1)
	g.mu.Unlock()
	g.metrics.clients.Inc()
	// A first heartbeat at once: the client knows the interval (and so
	// when silence means trouble) before the first tick.
	g.heartbeat(c, time.Now().UTC(), g.lastStatus.Load())
	g.startReader(c, br)
}

// every calls fn every interval until Shutdown.
func (g *Gateway) every(interval time.Duration, fn func()) {
	defer g.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-g.stopCheck:
			return
		case <-t.C:
			fn()
		}
	}
}

// pingAll pings every client from one goroutine, so that idle connections
// need no timer or goroutine of their own.
func (g *Gateway) pingAll() {
	clients := g.connected()
	for _, c := range clients {
		c.sendPing()
	}
	g.recheck(clients)
}

// Recheck asks every client's viewer again now: credentials or zones
// changed on this replica. Other replicas see it at their next ping.
func (g *Gateway) Recheck() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	g.wg.Add(1) // Shutdown waits for it
	go func() {
		defer g.wg.Done()
		g.recheck(g.connected())
	}()
}

// connected returns the clients connected now.
func (g *Gateway) connected() []*client {
	g.mu.Lock()
	defer g.mu.Unlock()
	clients := make([]*client, 0, len(g.clients))
	for c := range g.clients {
		clients = append(clients, c)
	}
	return clients
}

// recheck asks the clients' viewers again, a few at a time.
func (g *Gateway) recheck(clients []*client) {
	const parallel = 16
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for _, c := range clients {
		if c.viewer == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			g.recheckClient(c)
		})
	}
	wg.Wait()
}

func (g *Gateway) recheckClient(c *client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sees, err := c.viewer(ctx)
	if err != nil {
		g.metrics.credentialDisconnects.Inc()
		c.close(CloseCredentials, truncateReason(alerting.ErrorMessage(err)))
		return
	}
	if sees == nil {
		return
	}
	c.mu.Lock()
	c.sees = sees
	c.mu.Unlock()
	var lost []string
	for _, zone := range c.subscribed.all() {
		if !sees(zone) {
			lost = append(lost, zone)
		}
	}
	for _, zone := range lost {
		for _, z := range c.subscribed.drop(zone) {
			g.unsubscribe(c, z)
		}
		c.enqueue(errorFrame("forbidden", fmt.Sprintf("you may no longer follow %s; it was unsubscribed", zone)))
	}
}

// truncateReason keeps a close reason within the 123 bytes a close frame
// allows.
func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	return s[:120] + "..."
}

// inbound is a client message.
type inbound struct {
	Type   string           `json:"type"`
	Zones  []string         `json:"zones"`
	Resume map[string]int64 `json:"resume"`
}

// zoneSet is the zones a client follows, and those it waits to follow
// (their history could not be read yet), shared by its reader and the
// retries of its subscriptions. A client follows the few zones one screen
// shows, or every zone: a slice costs an idle connection less than a map.
type zoneSet struct {
	mu      sync.Mutex
	zones   []zoneState
	stopped bool
}

type zoneState struct {
	zone     string
	followed bool // subscribed, or still waiting
}

// find returns the index of zone, or -1. The caller holds s.mu.
func (s *zoneSet) find(zone string) int {
	return slices.IndexFunc(s.zones, func(z zoneState) bool { return z.zone == zone })
}

// want marks zone as waiting, unless it is followed or waited for already.
func (s *zoneSet) want(zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(zone) >= 0 || s.stopped {
		return false
	}
	s.zones = append(s.zones, zoneState{zone: zone})
	return true
}

// waiting reports whether zone is still wanted and not yet followed.
func (s *zoneSet) waiting(zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(zone)
	return i >= 0 && !s.zones[i].followed && !s.stopped
}

// set marks zone followed; false when it is no longer wanted.
func (s *zoneSet) set(zone string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.find(zone)
	if i < 0 || s.stopped {
		return false
	}
	s.zones[i].followed = true
	return true
}

// all returns the zones followed or waited for.
func (s *zoneSet) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	zones := make([]string, len(s.zones))
	for i, z := range s.zones {
		zones[i] = z.zone
	}
	return zones
}

// drop forgets zones ("*" for all) and returns those that were followed.
func (s *zoneSet) drop(zone string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var followed []string
	s.zones = slices.DeleteFunc(s.zones, func(z zoneState) bool {
		if z.zone != zone && zone != "*" {
			return false
		}
		if z.followed {
			followed = append(followed, z.zone)
		}
		return true
	})
	return followed
}

// close stops retries and returns the zones followed.
func (s *zoneSet) close() []string {
	followed := s.drop("*")
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	return followed
}

// handle carries out one client message.
func (g *Gateway) handle(c *client, data []byte) {
	subscribed := &c.subscribed
	var m inbound
	if err := json.Unmarshal(data, &m); err != nil {
		c.enqueue(errorFrame("bad_message", "messages must be JSON objects: "+err.Error()))
		return
	}
	switch m.Type {
	case "subscribe":
		for _, zone := range g.expand(c, m.Zones) {
			if !subscribed.want(zone) {
				continue
			}
			var resume *int64
			if seq, ok := m.Resume[zone]; ok {
				resume = &seq
			}
			g.follow(c, zone, resume)
		}
	case "unsubscribe":
		for _, zone := range m.Zones {
			for _, z := range subscribed.drop(zone) {
				g.unsubscribe(c, z)
			}
		}
	default:
		c.enqueue(errorFrame("bad_message", fmt.Sprintf("unknown message type %q", m.Type)))
	}
}

// follow subscribes c to zone. When the zone's history cannot be read now
// (Redis away, or the zone being restored from the streams), the client is
// told why, and the subscription is tried again every few seconds until it
// succeeds, the client lets the zone go, or it leaves: a board never stops
// following a zone without being told, and never for good.
func (g *Gateway) follow(c *client, zone string, resume *int64) {
	subscribed := &c.subscribed
	err := g.subscribe(c, zone, resume)
	if err == nil {
		if !subscribed.set(zone) {
			g.unsubscribe(c, zone) // dropped meanwhile
		}
		return
	}
	g.logger.Warn("subscribe failed; retrying", "zone", zone, "err", err)
	message := fmt.Sprintf("cannot follow %s now; trying again", zone)
	if alerting.ErrorCode(err) == alerting.EUNAVAILABLE {
		message = alerting.ErrorMessage(err) + "; following " + zone + " as soon as it is back"
	}
	c.enqueue(errorFrame("unavailable", message))
	wait := time.Second
	var retry func()
	retry = func() {
		if !subscribed.waiting(zone) {
			return
		}
		if err := g.subscribe(c, zone, resume); err != nil {
			wait = min(2*wait, 5*time.Second)
			time.AfterFunc(wait, retry)
			return
		}
		if !subscribed.set(zone) {
			g.unsubscribe(c, zone)
		}
	}
	time.AfterFunc(wait, retry)
}

// expand resolves "*" to every zone and drops unknown zones with an error.
func (g *Gateway) expand(c *client, zones []string) []string {
	catalog := g.opts.Zones.Catalog()
	var out []string
	for _, zone := range zones {
		if zone == "*" {
			for _, z := range catalog.Zones() {
				if c.may(z.ID) {
					out = append(out, z.ID)
				}
			}
			continue
		}
		if _, ok := catalog.Zone(zone); !ok || !c.may(zone) {
			c.enqueue(errorFrame("unknown_zone", fmt.Sprintf("no zone %q", zone)))
			continue
		}
		out = append(out, zone)
	}
	return out
}

// Shutdown closes every connection with "going away", stops the zone
// subscriptions and waits for the connections' goroutines. Idempotent.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.shutdown.Do(func() {
		g.mu.Lock()
		g.closed = true
		for c := range g.clients {
			c.close(websocket.CloseGoingAway, "server shutting down; reconnect and resume")
		}
		g.mu.Unlock()
		close(g.stopCheck)
	})
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("gateway: %w", ctx.Err())
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for zone, f := range g.feeds {
		f.stop()
		delete(g.feeds, zone)
	}
	return nil
}

// Clients returns the number of connected clients.
func (g *Gateway) Clients() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.clients)
}

func errorFrame(code, message string) []byte {
	data, _ := json.Marshal(struct {
		Type    string `json:"type"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", code, message})
	return data
}

type metrics struct {
	clients         prometheus.Gauge
	framesSent      prometheus.Counter
	slowDisconnects prometheus.Counter
	// credentialDisconnects counts clients closed with CloseCredentials.
	credentialDisconnects prometheus.Counter
	droppedFrames         prometheus.Counter
	gapFills              prometheus.Counter
	snapshots             *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		clients: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "truceline_ws_clients", Help: "Connected WebSocket clients."}),
		framesSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_ws_frames_sent_total", Help: "Frames written to WebSocket clients."}),
		slowDisconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_ws_slow_disconnects_total", Help: "Clients disconnected because their send queue was full."}),
		credentialDisconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_ws_credential_disconnects_total", Help: "Clients disconnected because their credentials no longer held (close code 4401)."}),
		droppedFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_ws_dropped_frames_total", Help: "Frames discarded unsent when a slow client's full send queue was cut off (the client resumes after reconnecting)."}),
		gapFills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_ws_gap_fills_total", Help: "Changes fetched from Redis because their NATS publication was missing or late."}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_ws_subscriptions_total", Help: "Zone subscriptions by how they started: snapshot, resumed, resume_failed."}, []string{"start"}),
	}
	if reg != nil {
		reg.MustRegister(m.clients, m.framesSent, m.slowDisconnects, m.credentialDisconnects, m.droppedFrames, m.gapFills, m.snapshots)
	}
	return m
}
