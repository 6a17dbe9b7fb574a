package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/alerting"
)

func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure a running truceline: report-to-WebSocket latency and engine throughput",
		Description: "Publishes reports on NATS (JetStream, with acknowledgements) across the server's zones while a\n" +
			"WebSocket client subscribed to every zone times each report's alert frame. With --rate 0 it\n" +
			"publishes as fast as JetStream acknowledges, which measures sustained throughput.\n" +
			"Run it against a server started for the purpose, e.g. truceline serve --demo --demo-rate 0.\n\n" +
			"   trucectl bench --rate 1000 --duration 10s\n" +
			"   trucectl bench --rate 0 --count 20000",
		Flags: []cli.Flag{
			&cli.Float64Flag{Name: "rate", Value: 1000, Usage: "reports per second; 0 = as fast as possible"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to publish at --rate"},
			&cli.IntFlag{Name: "count", Value: 20000, Usage: "how many reports to publish with --rate 0"},
			&cli.DurationFlag{Name: "grace", Value: 30 * time.Second, Usage: "how long to wait for the last frames"},
		},
		Action:   runBench,
		Commands: []*cli.Command{benchWSCommand()},
	}
}

// benchResult is what bench prints; --output json prints it as JSON.
type benchResult struct {
	Rate        float64       `json:"target_rate"`
	Published   int           `json:"published"`
	Acked       int64         `json:"acked"`
	Received    int64         `json:"received"`
	Lost        int64         `json:"lost"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Throughput  float64       `json:"reports_per_second"`
	P50         time.Duration `json:"p50_ns"`
	P90         time.Duration `json:"p90_ns"`
	P99         time.Duration `json:"p99_ns"`
	P999        time.Duration `json:"p999_ns"`
	Max         time.Duration `json:"max_ns"`
	Zones       int           `json:"zones"`
	Reconnects  int           `json:"websocket_reconnects"`
	ClientCPUs  int           `json:"client_cpus"`
	GeneratedAt time.Time     `json:"generated_at"`
}

func runBench(ctx context.Context, cmd *cli.Command) error {
	root := cmd.Root()
	var zl struct {
		Zones []alerting.Zone `json:"zones"`
	}
	if err := newClient(cmd).do(ctx, "GET", "/api/v1/zones", nil, &zl); err != nil {
		return err
	}
	if len(zl.Zones) == 0 {
		return fmt.Errorf("the server has no zones; start it with --demo --demo-rate 0")
	}
	nc, err := nats.Connect(root.String("nats"), nats.Name("trucectl-bench"))
	if err != nil {
		return fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}

	// The WebSocket client follows every zone, resuming after a disconnect
	// (a client too slow for the gateway is cut off, and that is counted).
	var sent sync.Map // report id → time.Time of publish
	var received, snapshots, frames atomic.Int64
	var mu sync.Mutex
	var latencies []time.Duration
	var lastFrame atomic.Int64
	var reconnects bytes.Buffer
	wsCtx, stopWS := context.WithCancel(ctx)
	defer stopWS()
	go func() {
		_ = follow(wsCtx, root.String("server"), root.String("token"), []string{"*"}, &syncWriter{w: &reconnects}, func(data []byte) error {
			now := time.Now()
			frames.Add(1)
			var f struct {
				Type     string `json:"type"`
				ReportID string `json:"report_id"`
			}
			if json.Unmarshal(data, &f) != nil {
				return nil
			}
			if f.Type == "snapshot" {
				snapshots.Add(1)
			}
			if t, ok := sent.LoadAndDelete(f.ReportID); ok && f.Type == "alert" {
				mu.Lock()
				latencies = append(latencies, now.Sub(t.(time.Time)))
				mu.Unlock()
				received.Add(1)
				lastFrame.Store(now.UnixNano())
			}
			return nil
		})
	}()
	for snapshots.Load() < int64(len(zl.Zones)) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(10 * time.Millisecond) // a CLI waiting for the server, not a test
	}

	rate := cmd.Float64("rate")
	total := cmd.Int("count")
	if rate > 0 {
		total = int(rate * cmd.Duration("duration").Seconds())
	}
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	categories := []alerting.Category{alerting.CategoryShelling, alerting.CategorySmallArms, alerting.CategoryExplosion, alerting.CategoryAirstrike}
	var acked atomic.Int64
	futures := make([]jetstream.PubAckFuture, 0, total)
	start := time.Now()
	for i := range total {
		if rate > 0 { // keep to the schedule; catch up in bursts if behind
			if wait := time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))); wait > 0 {
				time.Sleep(wait)
			}
		}
		zone := zl.Zones[i%len(zl.Zones)].ID
		cat := categories[(i/len(zl.Zones))%len(categories)]
		id := fmt.Sprintf("bench-%s-%d", run, i)
		data := fmt.Appendf(nil, `{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":"trucectl bench","exercise":true}`,
			id, zone, cat, time.Now().UTC().Format(time.RFC3339))
		sent.Store(id, time.Now())
		fut, err := js.PublishAsync("violations."+zone+"."+string(cat), data, jetstream.WithMsgID(id))
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		futures = append(futures, fut)
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(cmd.Duration("grace")):
	}
	for _, fut := range futures {
		select {
		case <-fut.Ok():
			acked.Add(1)
		default: // failed, or not acknowledged within the grace period
		}
	}
	deadline := time.Now().Add(cmd.Duration("grace"))
	for received.Load() < acked.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond) // a CLI waiting for the server, not a test
	}
	mu.Lock()
	lat := slices.Clone(latencies)
	mu.Unlock()
	slices.Sort(lat)
	res := benchResult{Rate: rate, Published: total, Acked: acked.Load(), Received: received.Load(), Zones: len(zl.Zones),
		ClientCPUs: runtime.NumCPU(), GeneratedAt: time.Now().UTC()}
	res.Lost = res.Acked - res.Received
	res.Reconnects = bytes.Count(reconnects.Bytes(), []byte("\n"))
	if last := lastFrame.Load(); last > 0 {
		res.Elapsed = time.Unix(0, last).Sub(start)
		res.Throughput = float64(res.Received) / res.Elapsed.Seconds()
	}
	if n := len(lat); n > 0 {
		q := func(p float64) time.Duration { return lat[min(n-1, int(p*float64(n)))] }
		res.P50, res.P90, res.P99, res.P999, res.Max = q(0.50), q(0.90), q(0.99), q(0.999), lat[n-1]
	}
	w := root.Writer
	if root.String("output") == "json" {
		return printJSON(w, res)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	target := "as fast as possible"
	if rate > 0 {
		target = fmt.Sprintf("%.0f reports/s", rate)
	}
	fmt.Fprintf(tw, "target\t%s over %d zones\n", target, res.Zones)
	fmt.Fprintf(tw, "published / acked / on the WebSocket\t%d / %d / %d (lost %d)\n", res.Published, res.Acked, res.Received, res.Lost)
	fmt.Fprintf(tw, "throughput\t%.0f reports/s over %s\n", res.Throughput, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "WebSocket reconnects\t%d\n", res.Reconnects)
	fmt.Fprintf(tw, "publish → frame latency\tp50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
		res.P50.Round(10*time.Microsecond), res.P90.Round(10*time.Microsecond), res.P99.Round(10*time.Microsecond),
		res.P999.Round(10*time.Microsecond), res.Max.Round(10*time.Microsecond))
	if err := tw.Flush(); err != nil {
		return err
	}
	if res.Lost > 0 {
		return fmt.Errorf("%d acknowledged reports never reached the WebSocket", res.Lost)
	}
	return nil
}

// syncWriter serialises writes from the WebSocket goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
