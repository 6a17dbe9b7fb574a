//go:build unix

package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// BenchmarkEngineDrain measures the engine's sustained throughput with the
// demo's rules, policies and contacts, apart from any load generator: the
// reports are stored in VIOLATIONS while truceline is stopped, then
// truceline starts and the benchmark times it until its consumer has
// acknowledged every one (each committed in Redis and published). It runs
// once whatever -benchtime says; TRUCELINE_DRAIN_REPORTS sets how many
// reports (default 30,000).
//
//	go test -run '^$' -bench EngineDrain -benchtime 1x ./cmd/truceline/app/
//
// It reports reports/s, and the CPU that truceline (this process, with the
// NATS server embedded in it) and Redis spent per report.
func BenchmarkEngineDrain(b *testing.B) {
	n := 30000
	if v, err := strconv.Atoi(os.Getenv("TRUCELINE_DRAIN_REPORTS")); err == nil && v > 0 {
		n = v
	}
	ns, rs, cfg := benchServers(b)

	// A first start creates the streams and loads the demo configuration.
	startApp(b, cfg).Kill()
	nc := ns.Connect(b)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	zones := []string{"aleppo", "idlib", "homs-north", "damascus-ghouta", "daraa", "latakia"}
	categories := []string{"shelling", "small_arms", "explosion", "airstrike"}
	observed := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range n {
		zone, cat := zones[i%len(zones)], categories[(i/len(zones))%len(categories)]
		id := fmt.Sprintf("drain-%s-%d", run, i)
		body := fmt.Appendf(nil, `{"id":%q,"zone":%q,"category":%q,"observed_at":%q,"reported_by":"drain benchmark","exercise":true}`,
			id, zone, cat, observed)
		if _, err := js.PublishAsync("violations."+zone+"."+cat, body, jetstream.WithMsgID(id)); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("JetStream did not acknowledge the reports")
	}
	if got := js.PublishAsyncPending(); got != 0 {
		b.Fatalf("%d reports not stored", got)
	}

	rdb := rs.Client(b)
	redisCPU := func() float64 {
		info, err := rdb.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var total float64
		for line := range strings.SplitSeq(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, "used_cpu_user:"); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
			if v, ok := strings.CutPrefix(line, "used_cpu_sys:"); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
		return total
	}
	redis0, cpu0 := redisCPU(), processCPU(b)
	b.ResetTimer()
	startAt := time.Now()
	startApp(b, cfg)
	waitDrained(b, js, n, 10*time.Minute)
	elapsed := time.Since(startAt)
	b.StopTimer()
	cpu, redis := processCPU(b)-cpu0, redisCPU()-redis0
	b.ReportMetric(float64(n)/elapsed.Seconds(), "reports/s")
	b.ReportMetric(cpu.Seconds()/float64(n)*1e6, "truceline-CPU-µs/report")
	b.ReportMetric(redis/float64(n)*1e6, "redis-CPU-µs/report")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d reports drained in %s on %d CPUs", n, elapsed.Round(time.Millisecond), runtime.NumCPU())
}

// benchServers starts a NATS and a Redis for a benchmark, and the
// configuration of a demo truceline on them (no demo feed, warnings only).
func benchServers(b *testing.B) (*natstest.Server, *redistest.Server, app.Config) {
	b.Helper()
	ns, rs := natstest.Start(b), redistest.Start(b)
	cfg := app.DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.NATSURL, cfg.RedisURL = b.TempDir(), "127.0.0.1:0", ns.URL(), rs.URL()
	cfg.Demo, cfg.DemoRate = true, 0
	cfg.LogLevel = "warn"
	return ns, rs, cfg
}

// waitDrained waits until the engine's consumer has acknowledged n reports
// and holds none, for at most limit.
func waitDrained(b *testing.B, js jetstream.JetStream, n int, limit time.Duration) {
	b.Helper()
	ctx := context.Background()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for start := time.Now(); ; <-tick.C {
		cons, err := js.Consumer(ctx, broker.StreamViolations, broker.EngineConsumer)
		if err != nil {
			b.Fatal(err)
		}
		info, err := cons.Info(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 && info.AckFloor.Consumer >= uint64(n) {
			return
		}
		if time.Since(start) > limit {
			b.Fatalf("not drained after %s: %d pending, %d unacknowledged", limit, info.NumPending, info.NumAckPending)
		}
	}
}

// startApp starts truceline for a benchmark and stops it at the end.
func startApp(b *testing.B, cfg app.Config) *app.App {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Shutdown(ctx)
	})
	return a
}

// processCPU is the CPU time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
