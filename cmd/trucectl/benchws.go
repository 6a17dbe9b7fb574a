package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/gorilla/websocket"
	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func benchWSCommand() *cli.Command {
	return &cli.Command{
		Name:  "ws",
		Usage: "measure the WebSocket gateway: memory per idle connection, fan-out latency, deliveries per second",
		Description: "Opens --clients WebSocket connections subscribed to one zone, reads the server's memory from its\n" +
			"/metrics before and after, then posts --alerts reports in that zone one at a time and times\n" +
			"how long each change takes to reach every client, then posts reports at --rate for --duration\n" +
			"and counts deliveries per second and per CPU second of the server.\n\n" +
			"   trucectl bench ws --clients 10000",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "clients", Value: 1000, Usage: "WebSocket connections to open"},
			&cli.StringFlag{Name: "zone", Value: "aleppo", Usage: "the zone every client follows"},
			&cli.IntFlag{Name: "alerts", Value: 20, Usage: "changes timed one at a time for fan-out latency"},
			&cli.Float64Flag{Name: "rate", Value: 50, Usage: "reports per second for the throughput phase"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "length of the throughput phase"},
			&cli.DurationFlag{Name: "settle", Value: 2 * time.Second, Usage: "how long to let the server go idle before each of " +
				"three memory readings once the clients are connected, and to let the last frames arrive after the throughput phase"},
			&cli.StringFlag{Name: "pprof", Usage: "the server's --debug-addr as a URL (http://127.0.0.1:6060): the server collects " +
				"its garbage before each memory reading, and the figures add its live heap per connection"},
		},
		Action: runBenchWS,
	}
}

// serverMetrics reads a few of truceline's own metrics.
func serverMetrics(ctx context.Context, server, token string) (map[string]float64, error) {
	out := map[string]float64{}
	err := scrapeMetrics(ctx, server, token, func(line string) {
		for _, name := range []string{"process_resident_memory_bytes", "go_memstats_heap_inuse_bytes", "go_goroutines",
			"process_cpu_seconds_total", "truceline_ws_clients", "truceline_ws_frames_sent_total", "go_memstats_stack_inuse_bytes",
			"go_memstats_heap_alloc_bytes"} {
			if rest, ok := strings.CutPrefix(line, name+" "); ok {
				out[name], _ = strconv.ParseFloat(rest, 64)
			}
		}
	})
	return out, err
}

// collectGarbage makes the server collect its garbage, through its
// profiler at pprof ("" does nothing): right after, its heap in use is
// live memory, not what the next collection would free.
func collectGarbage(ctx context.Context, pprof string) error {
	if pprof == "" {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(pprof, "/")+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("--pprof: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("--pprof: %s answered %s", req.URL, resp.Status)
	}
	return nil
}

// scrapeMetrics calls fn with each line of the server's /metrics.
func scrapeMetrics(ctx context.Context, server, token string, fn func(line string)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/metrics", nil)
	if err != nil {
		return err
	}
	req.Header = authHeader(token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("read %s/metrics: %w", server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read %s/metrics: %s (the token needs a role that sees every zone)", server, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}

func runBenchWS(ctx context.Context, cmd *cli.Command) error {
	token := cmd.Root().String("token")
	root := cmd.Root()
	server := root.String("server")
	n, zone := cmd.Int("clients"), cmd.String("zone")
	wsURL := "ws" + strings.TrimPrefix(strings.TrimRight(server, "/"), "http") + "/ws"
	// Settle the server's heap before the baseline: a fresh process is
	// noisy.
	pprof := cmd.String("pprof")
	if err := collectGarbage(ctx, pprof); err != nil {
		return err
	}
	before, err := serverMetrics(ctx, server, token)
	if err != nil {
		return err
	}

	type conn struct {
		ws   *websocket.Conn
		last atomic.Int64 // arrival (unix ns) of the latest alert frame
		seq  atomic.Int64 // its seq
	}
	conns := make([]*conn, 0, n)
	// The clients run on the server's machine: each reads a frame with one
	// system call into a buffer it keeps, so that the figures say more of
	// the server than of the load generator.
	dialer := websocket.Dialer{Subprotocols: []string{"truceline.v1"}, ReadBufferSize: 4096, WriteBufferSize: 512, HandshakeTimeout: 30 * time.Second}
	var frames atomic.Int64
	var wg sync.WaitGroup
	defer func() {
		for _, c := range conns {
			c.ws.Close()
		}
		wg.Wait()
	}()
	snapshots := make(chan struct{}, n)
	start := time.Now()
	for i := range n {
		ws, _, err := dialer.DialContext(ctx, wsURL, authHeader(token))
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		c := &conn{ws: ws}
		conns = append(conns, c)
		if err := ws.WriteJSON(map[string]any{"type": "subscribe", "zones": []string{zone}}); err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for {
				_, r, err := ws.NextReader()
				if err == nil {
					buf.Reset()
					_, err = buf.ReadFrom(r)
				}
				if err != nil {
					return
				}
				data := buf.Bytes()
				now := time.Now().UnixNano()
				// An alert frame's seq is read from its head alone: the
				// alert object behind it can be long.
				if seq := alerting.FrameSeq(data); seq > 0 {
					frames.Add(1)
					c.seq.Store(seq)
					c.last.Store(now)
				} else if f, err := parseFrame(data); err == nil && string(f.Type) == "snapshot" {
					snapshots <- struct{}{}
				}
			}
		}()
	}
	for range n {
		select {
		case <-snapshots:
		case <-time.After(60 * time.Second):
			return fmt.Errorf("not every client got its snapshot")
		}
	}
	connectTime := time.Since(start)
	var idle map[string]float64
	settle := cmd.Duration("settle")
	for range 3 { // let the server settle, then read it
		time.Sleep(settle) // a load generator waiting for a server to go idle, not a test
		if err := collectGarbage(ctx, pprof); err != nil {
			return err
		}
		if idle, err = serverMetrics(ctx, server, token); err != nil {
			return err
		}
	}

	// Fan-out: one change at a time, until every client has it. A rule may
	// open an alert only from its second report (a threshold): the first
	// reports, until one reaches every client, are a warm-up and not timed.
	client := newClient(cmd)
	var fanout []time.Duration
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	warmUp := 5
	for i := 0; len(fanout) < int(cmd.Int("alerts")); i++ {
		body := fmt.Appendf(nil, `{"id":"ws-%s-%d","zone":%q,"category":"shelling","observed_at":%q,"reported_by":"trucectl bench ws","exercise":true}`,
			run, i, zone, time.Now().UTC().Format(time.RFC3339))
		sent := time.Now()
		var out struct{ ID string }
		if err := client.do(ctx, "POST", "/api/v1/reports", body, &out); err != nil {
			return err
		}
		wait := 30 * time.Second
		if warmUp > 0 {
			wait = 2 * time.Second
		}
		deadline := time.Now().Add(wait)
		for {
			done := 0
			latest := int64(0)
			for _, c := range conns {
				if c.last.Load() > sent.UnixNano() {
					done++
					latest = max(latest, c.last.Load())
				}
			}
			if done == len(conns) {
				if warmUp > 0 {
					warmUp = 0 // the first change that reached everyone: timing starts with the next
				} else {
					fanout = append(fanout, time.Unix(0, latest).Sub(sent))
				}
				break
			}
			if time.Now().After(deadline) {
				if warmUp > 1 && done == 0 {
					warmUp-- // no alert changed (yet): another warm-up report
					break
				}
				return fmt.Errorf("change %d reached %d of %d clients in %s", i, done, len(conns), wait)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Throughput: reports at a rate, every client receiving every change.
	cpu0, _ := serverMetrics(ctx, server, token)
	frames0 := frames.Load()
	rate, dur := cmd.Float64("rate"), cmd.Duration("duration")
	t0 := time.Now()
	for i := 0; time.Since(t0) < dur; i++ {
		if wait := time.Until(t0.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
			time.Sleep(wait)
		}
		body := fmt.Appendf(nil, `{"id":"wst-%s-%d","zone":%q,"category":"small_arms","observed_at":%q,"reported_by":"trucectl bench ws","exercise":true}`,
			run, i, zone, time.Now().UTC().Format(time.RFC3339))
		if err := client.do(ctx, "POST", "/api/v1/reports", body, nil); err != nil {
			return err
		}
	}
	time.Sleep(settle) // let the last frames arrive
	elapsed := time.Since(t0)
	cpu1, _ := serverMetrics(ctx, server, token)
	delivered := frames.Load() - frames0

	slices.Sort(fanout)
	q := func(p float64) time.Duration {
		if len(fanout) == 0 {
			return 0
		}
		return fanout[min(len(fanout)-1, int(p*float64(len(fanout))))]
	}
	perConn := (idle["process_resident_memory_bytes"] - before["process_resident_memory_bytes"]) / float64(n)
	heapPerConn := (idle["go_memstats_heap_inuse_bytes"] - before["go_memstats_heap_inuse_bytes"]) / float64(n)
	stackPerConn := (idle["go_memstats_stack_inuse_bytes"] - before["go_memstats_stack_inuse_bytes"]) / float64(n)
	livePerConn := (idle["go_memstats_heap_alloc_bytes"] - before["go_memstats_heap_alloc_bytes"]) / float64(n)
	cpuSeconds := cpu1["process_cpu_seconds_total"] - cpu0["process_cpu_seconds_total"]
	w := root.Writer
	if root.String("output") == "json" {
		out := map[string]any{
			"clients": n, "connect_seconds": connectTime.Seconds(),
			"rss_per_idle_connection_bytes": perConn, "heap_per_idle_connection_bytes": heapPerConn,
			"stack_per_idle_connection_bytes": stackPerConn,
			"server_goroutines_idle":          idle["go_goroutines"],
			"fanout_p50_ms":                   q(0.5).Seconds() * 1000, "fanout_p99_ms": q(0.99).Seconds() * 1000, "fanout_max_ms": q(1).Seconds() * 1000,
			"deliveries": delivered, "deliveries_per_second": float64(delivered) / elapsed.Seconds(),
			"deliveries_per_server_cpu_second": float64(delivered) / cpuSeconds, "client_cpus": runtime.NumCPU(),
		}
		if pprof != "" {
			out["live_heap_per_idle_connection_bytes"] = livePerConn
		}
		return printJSON(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "clients\t%d connected and subscribed to %s in %s\n", n, zone, connectTime.Round(time.Millisecond))
	live := ""
	if pprof != "" {
		live = fmt.Sprintf(" (%.1f KiB live)", livePerConn/1024)
	}
	fmt.Fprintf(tw, "memory per idle connection\t%.1f KiB resident: %.1f KiB Go heap%s, %.1f KiB stacks (server goroutines: %.0f)\n",
		perConn/1024, heapPerConn/1024, live, stackPerConn/1024, idle["go_goroutines"])
	fmt.Fprintf(tw, "one change to every client\tp50 %s  p99 %s  max %s (%d changes)\n",
		q(0.5).Round(100*time.Microsecond), q(0.99).Round(100*time.Microsecond), q(1).Round(100*time.Microsecond), len(fanout))
	fmt.Fprintf(tw, "deliveries\t%d in %s: %.0f/s, %.0f per server CPU second\n", delivered, elapsed.Round(time.Millisecond),
		float64(delivered)/elapsed.Seconds(), float64(delivered)/cpuSeconds)
	return tw.Flush()
}
