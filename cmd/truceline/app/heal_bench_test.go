//go:build unix

package app_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// BenchmarkHeal measures how long truceline takes to bring Redis back to the
// streams after Redis lost N processed reports (TRUCELINE_HEAL_REPORTS,
// default 10,000): Redis is restored to a copy taken before they came, and
// a new truceline is timed from its start, which checks Redis against the
// streams and heals it before it serves. With TRUCELINE_HEAL_ALERTS=1 every
// report opens an alert of its own (one reporter per report, grouped by
// reporter) and Redis is wiped instead: the rebuild of N alerts from
// nothing; with TRUCELINE_HEAL_PURGE=1 too, ALERTS is purged first, so the
// rebuild loads the compacted record of every alert. It runs once whatever
// -benchtime says.
//
//	go test -run '^$' -bench Heal -benchtime 1x ./cmd/truceline/app/
//	TRUCELINE_HEAL_REPORTS=100000 TRUCELINE_HEAL_ALERTS=1 go test -run '^$' -bench Heal -benchtime 1x -timeout 30m ./cmd/truceline/app/
//	TRUCELINE_HEAL_REPORTS=100000 TRUCELINE_HEAL_ALERTS=1 TRUCELINE_HEAL_PURGE=1 go test -run '^$' -bench Heal -benchtime 1x -timeout 30m ./cmd/truceline/app/
func BenchmarkHeal(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("TRUCELINE_HEAL_REPORTS")); err == nil && v > 0 {
		n = v
	}
	perAlert := os.Getenv("TRUCELINE_HEAL_ALERTS") == "1"
	ns, rs, cfg := benchServers(b)

	a := startApp(b, cfg)
	if perAlert {
		if err := a.ApplyConfig(context.Background(), alerting.Config{Rules: []alerting.Rule{{ID: "per-reporter",
			GroupBy: []string{"zone", "category", "reported_by"}, Window: alerting.Duration(time.Hour)}}}); err != nil {
			b.Fatal(err)
		}
	}
	snap := rs.Snapshot(b)
	js, err := jetstream.New(ns.Connect(b), jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatal(err)
	}
	zones := []string{"aleppo", "idlib", "homs-north", "damascus-ghouta", "daraa", "latakia"}
	observed := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	for i := range n {
		zone := zones[i%len(zones)]
		id := fmt.Sprintf("heal-%d", i)
		body := fmt.Appendf(nil, `{"id":%q,"zone":%q,"category":"shelling","observed_at":%q,"reported_by":"monitor %d","exercise":true}`,
			id, zone, observed, i)
		if _, err := js.PublishAsync("violations."+zone+".shelling", body, jetstream.WithMsgID(id)); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	waitDrained(b, js, n, 20*time.Minute)
	ctx := context.Background()
	if os.Getenv("TRUCELINE_HEAL_PURGE") == "1" {
		// ALERTS loses everything the compacted record holds, as its age
		// and size limits would: the rebuild loads the record instead.
		for start := time.Now(); ; time.Sleep(100 * time.Millisecond) { // polling the record with the deadline below
			covered := true
			for _, zone := range zones {
				seq, err := a.Store.StoredSeq(ctx, zone)
				if err != nil {
					b.Fatal(err)
				}
				at, _, err := a.Broker.CompactedSeq(ctx, zone)
				if err != nil {
					b.Fatal(err)
				}
				covered = covered && at == seq
			}
			if covered {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatal("the compacted record did not cover every zone within 5 minutes")
			}
		}
		stream, err := js.Stream(ctx, broker.StreamAlerts)
		if err != nil {
			b.Fatal(err)
		}
		if err := stream.Purge(ctx); err != nil {
			b.Fatal(err)
		}
	}
	a.Kill()
	if perAlert {
		if err := rs.Client(b).FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	} else {
		rs.Restore(b, snap)
	}

	b.ResetTimer()
	began := time.Now()
	// Start checks Redis against the streams before it returns: a rebuild
	// of many alerts takes longer than startApp allows.
	sctx, cancel := context.WithTimeout(ctx, 20*time.Minute)
	defer cancel()
	healed, err := app.Start(sctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = healed.Shutdown(context.Background()) })
	took := time.Since(began)
	b.StopTimer()
	families, err := healed.Registry().Gather()
	if err != nil {
		b.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	v, _ := sample(byName, "truceline_healed_changes_total")
	b.ReportMetric(took.Seconds(), "s-to-serve")
	b.ReportMetric(v, "changes-redone")
	b.ReportMetric(0, "ns/op")
	b.Logf("%d reports lost, %v changes redone; truceline served again %s after it started", n, v, took.Round(time.Millisecond))
}
