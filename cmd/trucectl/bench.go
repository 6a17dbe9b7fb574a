package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load a running truceline as real clients do and measure latency, throughput and cost",
		Description: "Simulated reporters send reports over NATS (JetStream async publish, Nats-Msg-Id set) and/or HTTP\n" +
			"(POST /api/v1/reports on a keep-alive connection each) round-robin over the zones and four\n" +
			"categories, while WebSocket clients subscribed to those zones time each report from its publish\n" +
			"to the alert frame carrying its report_id (an HDR histogram: p50, p90, p99, p99.9, max, mean).\n\n" +
			"A report is accepted on HTTP 202 or a JetStream PubAck; anything else is rejected and counted by\n" +
			"reason. It is delivered when its id reaches a client, as a frame's report_id or in an alert's\n" +
			"report_ids. After --grace, every accepted report not delivered is looked up with\n" +
			"GET /api/v1/reports/{id}: stored means it opened no alert; not found means LOST, and the command\n" +
			"exits 1.\n\n" +
			"Before the load, unless --ceilings=false, it measures the ceilings truceline sits on, on the same\n" +
			"NATS and Redis: raw JetStream publish-and-consume through a temporary stream BENCH_CEILING_<run>\n" +
			"(deleted afterwards), and with --redis raw Redis round trips (EVALSHA of an HSET of 3 KiB, and\n" +
			"PING) under bench:ceiling:<run>: keys (deleted afterwards); truceline's throughput is then also\n" +
			"given as a ratio to each. The server's CPU and memory come from its /metrics (the token needs a\n" +
			"role that sees every zone), Redis's from INFO with --redis.\n\n" +
			"Run it against a server started for the purpose, with the rate limits off, e.g.\n" +
			"truceline serve --demo --demo-rate 0 --rate-reports-per-minute 0 --rate-websockets-per-minute 0\n" +
			"(otherwise HTTP reports over 100/s are rejected with 429, and more than 10 clients wait for their\n" +
			"turn to connect). Over NATS it publishes to --nats directly, without a subject prefix.\n\n" +
			"   trucectl bench --rate 1000 --duration 10s                   # latency at 1,000 reports/s over NATS\n" +
			"   trucectl bench --rate 0 --count 30000                       # sustained throughput\n" +
			"   trucectl bench --via mixed --rate 500 --duration 5s --clients 2 \\\n" +
			"       --redis unix://$PWD/truceline-data/redis/redis.sock     # half HTTP, half NATS, with Redis's cost\n" +
			"   trucectl bench --via http --reporters 32 --rate 0 --duration 10s --zones aleppo,idlib --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "via", Value: "nats", Local: true, Usage: "nats, http, or mixed (even-numbered reporters over NATS, odd ones over HTTP)",
				Validator: func(s string) error {
					if !slices.Contains([]string{"nats", "http", "mixed"}, s) {
						return usageError{fmt.Errorf("--via must be nats, http or mixed, not %q", s)}
					}
					return nil
				}},
			&cli.IntFlag{Name: "reporters", Value: 8, Local: true, Usage: "simulated reporters, each its own sender and connection"},
			&cli.BoolFlag{Name: "unique-reporters", Local: true, Usage: "every report names a reporter of its own in reported_by (with configs/bench/open-alerts.yaml applied, each report opens an alert)"},
			&cli.Float64Flag{Name: "rate", Value: 1000, Local: true, Usage: "reports per second across all reporters; 0 = as fast as possible"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Local: true, Usage: "how long to send at --rate (with --rate 0: a time limit, when given)"},
			&cli.IntFlag{Name: "count", Value: 20000, Local: true, Usage: "how many reports to send with --rate 0 (with --rate: a limit, when given)"},
			&cli.DurationFlag{Name: "grace", Value: 30 * time.Second, Local: true, Usage: "how long to wait after sending for the last frames"},
			&cli.StringSliceFlag{Name: "zones", Local: true, Usage: "zones to report in, comma-separated (default: every zone the server lists)"},
			&cli.IntFlag{Name: "clients", Value: 1, Local: true, Usage: "WebSocket clients, each subscribed to every zone of the bench"},
			&cli.StringFlag{Name: "redis", Local: true, Usage: "truceline's Redis (redis://host:port, or unix://<data-dir>/redis/redis.sock for the embedded one), for its CPU and memory and the Redis ceilings"},
			&cli.BoolFlag{Name: "ceilings", Value: true, Local: true, Usage: "measure raw JetStream (and with --redis, Redis) first; --ceilings=false skips them (default: on)"},
			&cli.IntFlag{Name: "ceiling-count", Value: 20000, Local: true, Usage: "messages and round trips per ceiling"},
			&cli.BoolFlag{Name: "json", Local: true, Usage: "print one JSON object (as --output json does)"},
		},
		Action:   runBench,
		Commands: []*cli.Command{benchWSCommand()},
	}
}

// benchConfig is one bench run, as the flags and the server describe it.
type benchConfig struct {
	server, token, natsURL, redisURL string
	via                              string
	reporters, clients               int
	uniqueReporters                  bool
	rate                             float64
	total                            int           // reports to send at most
	sendFor                          time.Duration // 0: no time limit
	grace                            time.Duration
	zones                            []string
	ceilings                         bool
	ceilingCount                     int
	asJSON                           bool
	run                              string // names this run's report ids, stream and keys
}

func runBench(ctx context.Context, cmd *cli.Command) error {
	cfg, err := benchConfigFrom(ctx, cmd)
	if err != nil {
		return err
	}
	res, err := newBenchRun(cfg, cmd.Root().ErrWriter).run(ctx)
	if err != nil {
		return err
	}
	w := cmd.Root().Writer
	if cfg.asJSON {
		err = printJSON(w, res)
	} else {
		err = printBenchTable(w, res)
	}
	if err != nil {
		return err
	}
	return res.verdict()
}

// benchConfigFrom reads the flags and asks the server for its zones.
func benchConfigFrom(ctx context.Context, cmd *cli.Command) (benchConfig, error) {
	root := cmd.Root()
	cfg := benchConfig{
		server: strings.TrimRight(root.String("server"), "/"), token: root.String("token"), natsURL: root.String("nats"),
		redisURL: cmd.String("redis"), via: cmd.String("via"), reporters: cmd.Int("reporters"), clients: cmd.Int("clients"),
		uniqueReporters: cmd.Bool("unique-reporters"),
		rate:            cmd.Float64("rate"), grace: cmd.Duration("grace"), ceilings: cmd.Bool("ceilings"),
		ceilingCount: cmd.Int("ceiling-count"), asJSON: cmd.Bool("json") || root.String("output") == "json",
		run: fmt.Sprintf("%x", time.Now().UnixNano()),
	}
	switch {
	case cfg.reporters < 1:
		return cfg, usageError{errors.New("--reporters must be at least 1")}
	case cfg.via == "mixed" && cfg.reporters < 2:
		return cfg, usageError{errors.New("--via mixed needs at least 2 --reporters (one over NATS, one over HTTP)")}
	case cfg.clients < 1:
		return cfg, usageError{errors.New("--clients must be at least 1: reports are timed at the WebSocket")}
	case cfg.rate < 0:
		return cfg, usageError{errors.New("--rate must not be negative")}
	case cfg.ceilings && cfg.ceilingCount < 1:
		return cfg, usageError{errors.New("--ceiling-count must be at least 1")}
	case cfg.grace <= 0:
		return cfg, usageError{errors.New("--grace must be positive")}
	}
	cfg.total, cfg.sendFor = benchSize(cmd)
	if cfg.total < 1 {
		return cfg, usageError{errors.New("nothing to send: raise --count, --rate or --duration")}
	}
	zones, err := benchZones(ctx, cmd)
	if err != nil {
		return cfg, err
	}
	cfg.zones = zones
	return cfg, nil
}

// benchSize is how many reports to send and for how long: with a rate,
// rate × duration (or --count, if given and fewer); as fast as possible,
// --count (stopping at --duration, if given).
func benchSize(cmd *cli.Command) (total int, sendFor time.Duration) {
	rate, count, duration := cmd.Float64("rate"), cmd.Int("count"), cmd.Duration("duration")
	if rate == 0 {
		if cmd.IsSet("duration") {
			sendFor = duration
		}
		return count, sendFor
	}
	total = int(rate * duration.Seconds())
	if cmd.IsSet("count") {
		total = min(total, count)
	}
	return total, duration
}

// benchZones is --zones, checked against the zones the server lists, or
// all of them.
func benchZones(ctx context.Context, cmd *cli.Command) ([]string, error) {
	var zl struct {
		Zones []alerting.Zone `json:"zones"`
	}
	if err := newClient(cmd).do(ctx, "GET", "/api/v1/zones", nil, &zl); err != nil {
		return nil, fmt.Errorf("list the server's zones: %w", err)
	}
	known := make([]string, 0, len(zl.Zones))
	for _, z := range zl.Zones {
		known = append(known, z.ID)
	}
	if len(known) == 0 {
		return nil, errors.New("the server has no zones this token may see; start it with --demo --demo-rate 0")
	}
	asked := cmd.StringSlice("zones")
	if len(asked) == 0 {
		return known, nil
	}
	var zones []string
	for _, z := range asked {
		z = strings.TrimSpace(z)
		if !slices.Contains(known, z) {
			return nil, usageError{fmt.Errorf("--zones: the server has no zone %q (it has %s)", z, strings.Join(known, ", "))}
		}
		if !slices.Contains(zones, z) {
			zones = append(zones, z)
		}
	}
	return zones, nil
}

// benchRun runs one bench: ceilings, then the load, then the accounts.
type benchRun struct {
	cfg  benchConfig
	errw io.Writer // reconnects and server error frames, as they happen
	api  *apiClient
}

func newBenchRun(cfg benchConfig, errw io.Writer) *benchRun {
	return &benchRun{cfg: cfg, errw: &syncWriter{w: errw},
		api: &apiClient{base: cfg.server, token: cfg.token, http: &http.Client{Timeout: 30 * time.Second}}}
}

func (b *benchRun) run(ctx context.Context) (*benchResult, error) {
	var rdb *redisProbe
	if b.cfg.redisURL != "" {
		var err error
		if rdb, err = newRedisProbe(b.cfg.redisURL); err != nil {
			return nil, err
		}
		defer rdb.close()
	}
	res := newBenchResult(b.cfg)
	if b.cfg.ceilings {
		if res.Ceilings = b.measureCeilings(ctx, rdb); ctx.Err() != nil {
			return nil, fmt.Errorf("interrupted: %w", ctx.Err())
		}
	}
	tr := newTracker(b.cfg.run, b.cfg.total, reporterVias(b.cfg.via, b.cfg.reporters))
	clients, cost, err := b.load(ctx, tr, rdb)
	if err != nil {
		return nil, err
	}
	res.fill(tr, b.checkStored(ctx, tr, tr.pending()))
	res.WebSocket = clients.counts()
	cost.fill(res)
	res.finish()
	return res, nil
}

// load connects the reporters and the WebSocket clients, sends the
// reports and waits for their frames, metering the server (and Redis)
// from the first report to the end of the wait.
func (b *benchRun) load(ctx context.Context, tr *tracker, rdb *redisProbe) (*wsClients, *costMeter, error) {
	senders, err := b.openSenders(ctx, tr.vias, tr)
	if err != nil {
		return nil, nil, err
	}
	clients := startWSClients(ctx, b.cfg, tr, b.errw)
	defer clients.stop()
	if err := clients.waitSubscribed(ctx, 30*time.Second); err != nil {
		closeSenders(senders)
		return nil, nil, err
	}
	cost := startCostMeter(ctx, b.cfg, rdb)
	b.send(ctx, senders, tr)
	b.drain(ctx, tr)
	cost.finish(ctx)
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("interrupted: %w", err)
	}
	return clients, cost, nil
}

// drain waits, after sending, until every accepted report has reached a
// client or --grace has passed. It stops early when no frame has come for
// a while and the server has stored every report still missing (those
// opened no alert, and no frame is coming for them).
func (b *benchRun) drain(ctx context.Context, tr *tracker) {
	deadline := time.Now().Add(b.cfg.grace)
	quiet := min(5*time.Second, b.cfg.grace)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	seen, lastChange := tr.seen.Load(), time.Now()
	for tr.pendingCount() > 0 && time.Now().Before(deadline) {
		if n := tr.seen.Load(); n != seen {
			seen, lastChange = n, time.Now()
		} else if time.Since(lastChange) > quiet {
			if c := b.checkStored(ctx, tr, tr.pending()); len(c.lost) == 0 && len(c.unchecked) == 0 {
				return
			}
			lastChange = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// storedCheck sorts reports that never reached a client by what
// GET /api/v1/reports/{id} says of them.
type storedCheck struct {
	stored    []int // 200: processed, but no alert frame carried them
	lost      []int // 404: accepted, never stored
	unchecked []int // the server could not say
}

func (b *benchRun) checkStored(ctx context.Context, tr *tracker, reports []int) storedCheck {
	const workers = 8
	results := make([]int, len(reports)) // 200, 404, or 0 for unknown
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, len(reports)) {
		wg.Go(func() {
			for k := range next {
				results[k] = b.reportStatus(ctx, tr, reports[k])
			}
		})
	}
	for k := range reports {
		next <- k
	}
	close(next)
	wg.Wait()
	var c storedCheck
	for k, status := range results {
		switch status {
		case 200:
			c.stored = append(c.stored, reports[k])
		case 404:
			c.lost = append(c.lost, reports[k])
		default:
			c.unchecked = append(c.unchecked, reports[k])
		}
	}
	return c
}

// reportStatus is 200 when the server has stored report i, 404 when it
// has not, and 0 when it could not say.
func (b *benchRun) reportStatus(ctx context.Context, tr *tracker, i int) int {
	zone, _ := benchSubject(b.cfg.zones, i)
	err := b.api.do(ctx, "GET", "/api/v1/reports/"+tr.key(i, zone), nil, nil)
	var ae *apiError
	switch {
	case err == nil:
		return 200
	case errors.As(err, &ae) && ae.Status == 404:
		return 404
	default:
		return 0
	}
}

// syncWriter serialises writes from the WebSocket goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
