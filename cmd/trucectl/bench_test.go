package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/cmd/truceline/app"
)

// TestBenchMixed runs the load generator against a real server, half of
// the reporters over NATS and half over HTTP, and checks its accounts:
// every report accepted, none lost, latencies and ceilings measured, and
// the ceilings' stream and keys gone afterwards.
func TestBenchMixed(t *testing.T) {
	t.Parallel()
	server, natsURL, redisURL := startServerAndRedis(t)
	code, out, errOut := trucectl(t, "", "--server", server, "--nats", natsURL, "bench", "--via", "mixed", "--rate", "200",
		"--duration", "1s", "--clients", "2", "--redis", redisURL, "--ceiling-count", "2000", "--grace", "20s", "--json")
	if code != 0 {
		t.Fatalf("bench: exit %d\n%s\n%s", code, out, errOut)
	}
	var res benchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, out)
	}
	rc := res.Reports
	if rc.Published != 200 || rc.Accepted != rc.Published || rc.Rejected != 0 || rc.Lost != 0 || rc.Unchecked != 0 ||
		rc.Delivered+rc.StoredNoAlert != rc.Accepted || rc.Delivered == 0 {
		t.Errorf("reports: %+v; want 200 published, all accepted, delivered or stored, none lost", rc)
	}
	for _, v := range []string{"nats", "http"} {
		if c := rc.ByVia[v]; c == nil || c.Published != 100 || c.Accepted != 100 {
			t.Errorf("reports over %s: %+v; want 100 published and accepted", v, c)
		}
	}
	for name, l := range map[string]latencySummary{"all": res.Latency, "nats": res.LatencyByVia["nats"], "http": res.LatencyByVia["http"]} {
		if l.Count == 0 || l.P50 <= 0 || l.P50 > l.P90 || l.P90 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max || l.Mean <= 0 {
			t.Errorf("latency (%s): %+v; want 0 < p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max", name, l)
		}
	}
	if tp := res.Throughput; tp.AcceptedPerSecond <= 0 || tp.DeliveredPerSecond <= 0 {
		t.Errorf("throughput: %+v", tp)
	}
	if ws := res.WebSocket; ws.Clients != 2 || ws.Reconnects != 0 || ws.Snapshots < int64(2*len(res.Load.Zones)) {
		t.Errorf("websocket: %+v; want 2 clients with a snapshot of each of the %d zones", ws, len(res.Load.Zones))
	}
	if s := res.Server; s.Error != "" || s.CPUSeconds <= 0 || s.MaxRSS <= 0 || s.EndRSS <= 0 {
		t.Errorf("server: %+v", s)
	}
	if r := res.Redis; r == nil || r.Error != "" || r.UsedMemoryAfter <= 0 {
		t.Errorf("redis: %+v", r)
	}
	c := res.Ceilings
	if c == nil {
		t.Fatal("no ceilings")
	}
	for name, cl := range map[string]*ceiling{"jetstream": c.JetStream, "redis_evalsha": c.RedisEval, "redis_ping": c.RedisPing} {
		if cl == nil || cl.Error != "" || cl.PerSecond <= 0 || cl.Ops != 2000 {
			t.Errorf("ceiling %s: %+v", name, cl)
		}
	}
	if res.Ratios["delivered_per_jetstream"] <= 0 || res.Ratios["delivered_per_redis_evalsha"] <= 0 {
		t.Errorf("ratios: %v", res.Ratios)
	}
	if res.Machine.NumCPU <= 0 || res.Machine.GOOS == "" || len(res.Notes) == 0 {
		t.Errorf("machine %+v, notes %q", res.Machine, res.Notes)
	}

	// The ceilings cleaned up after themselves.
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for name := range js.StreamNames(context.Background()).Name() {
		if strings.HasPrefix(name, "BENCH_CEILING_") {
			t.Errorf("stream %s is left behind", name)
		}
	}
	opts, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	if keys, err := rdb.Keys(context.Background(), "bench:ceiling:*").Result(); err != nil || len(keys) > 0 {
		t.Errorf("Redis keys left behind: %d (%v)", len(keys), err)
	}

	// The same figures as a table.
	var table strings.Builder
	if err := printBenchTable(&table, &res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"200 published, 200 accepted, 0 rejected", "0 lost", "p99.9", "over NATS", "over HTTP",
		"ceiling: raw JetStream", "ceiling: Redis EVALSHA", "× raw JetStream", "cores busy", "µs CPU per accepted report"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, table.String())
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"bench", "--via", "pigeon"},
		{"bench", "--via", "mixed", "--reporters", "1"},
		{"bench", "--clients", "0"},
		{"bench", "--rate", "-1"},
	} {
		if code, _, errOut := trucectl(t, "", args...); code != 2 {
			t.Errorf("trucectl %v: exit %d (%s), want 2", args, code, errOut)
		}
	}
}

// TestCheckStored: a report the clients never saw is stored (200), lost
// (404) or unchecked (anything else), and only lost or unchecked ones fail
// the run.
func TestCheckStored(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.TrimPrefix(r.URL.Path, "/api/v1/reports/bench-r-") {
		case "0":
			w.Write([]byte(`{"id":"bench-r-0"}`))
		case "1":
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"code":"not_found","message":"no report"}}`))
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	b := &benchRun{cfg: benchConfig{run: "r", zones: []string{"aleppo"}}, api: &apiClient{base: srv.URL, http: srv.Client()}}
	c := b.checkStored(context.Background(), newTracker("r", 3, []via{viaNATS}), []int{0, 1, 2})
	if !slices.Equal(c.stored, []int{0}) || !slices.Equal(c.lost, []int{1}) || !slices.Equal(c.unchecked, []int{2}) {
		t.Errorf("stored %v, lost %v, unchecked %v; want [0] [1] [2]", c.stored, c.lost, c.unchecked)
	}
	res := &benchResult{Run: "r"}
	res.fill(newTracker("r", 3, []via{viaNATS}), c)
	if res.Reports.Lost != 1 || res.Reports.LostIDs[0] != "bench-r-1" || res.verdict() == nil {
		t.Errorf("reports %+v, verdict %v; want 1 lost and an error", res.Reports, res.verdict())
	}
}

// TestBenchWS runs the gateway benchmark against a real server with its
// profiler on: every figure it prints is there, from changes that reached
// every client.
func TestBenchWS(t *testing.T) {
	t.Parallel()
	server, _, _ := startServerWith(t, func(c *app.Config) {
		c.DebugAddr, c.RateWebSockets, c.RateReports = "127.0.0.1:0", 0, 0
	})
	ts, _ := servers.Load(server)
	debug := ts.(testServer).app.DebugAddr() // port 0 picked one no other test can take meanwhile
	code, out, errOut := trucectl(t, "", "--server", server, "-o", "json", "bench", "ws", "--clients", "20", "--alerts", "3",
		"--rate", "10", "--duration", "1s", "--settle", "200ms", "--pprof", "http://"+debug)
	if code != 0 {
		t.Fatalf("bench ws: exit %d\n%s\n%s", code, out, errOut)
	}
	var res map[string]float64
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench ws -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"fanout_p50_ms", "fanout_p99_ms", "deliveries"} {
		if res[k] <= 0 {
			t.Errorf("%s = %v, want a positive figure\n%s", k, res[k], out)
		}
	}
	// Twenty connections' memory is within the heap's noise: the figures
	// must be there, whatever they say.
	for _, k := range []string{"rss_per_idle_connection_bytes", "live_heap_per_idle_connection_bytes", "stack_per_idle_connection_bytes"} {
		if _, ok := res[k]; !ok {
			t.Errorf("no %s\n%s", k, out)
		}
	}
	if res["clients"] != 20 || res["fanout_p50_ms"] > res["fanout_p99_ms"] {
		t.Errorf("clients %v, p50 %v, p99 %v\n%s", res["clients"], res["fanout_p50_ms"], res["fanout_p99_ms"], out)
	}
}
