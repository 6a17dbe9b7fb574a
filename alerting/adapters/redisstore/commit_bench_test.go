package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
)

// surge is one commit script call of a surge: n reports of one zone, the
// first opening an alert and each of the others folding into it, with
// report ids and alert id starting with prefix.
func surge(prefix string, n int) []alerting.Commit {
	at := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	report := func(i int) *alerting.Report {
		return &alerting.Report{ID: fmt.Sprintf("%s-r%d~a1b2c3", prefix, i), Zone: "aleppo", Category: alerting.CategoryShelling,
			ObservedAt: at, ReportedBy: "unmo"}
	}
	group := prefix + ":aleppo:shelling"
	r := report(0)
	a := alerting.OpenAlert(alerting.Opening{ID: prefix + "-al", ZoneName: "Aleppo", Rule: "shelling", GroupKey: group}, r, at)
	class := alerting.Classification{Rules: []string{"shelling"}}
	cs := []alerting.Commit{{Report: r, ReceivedAt: at, Classification: class, Alerts: []alerting.AlertChange{
		{Alert: a, Event: alerting.EventOpened, ReportIDs: []string{r.ID}, GroupKey: group, GroupTTL: time.Hour}}}}
	for i := 1; i < n; i++ {
		r := report(i)
		b, _ := a.AddReport(r, "", at)
		cs = append(cs, alerting.Commit{Report: r, ReceivedAt: at, Classification: class, Alerts: []alerting.AlertChange{
			{Alert: b, Event: alerting.EventUpdated, ReportIDs: []string{r.ID}, GroupKey: group, PrevGroupAlert: a.ID, GroupTTL: time.Hour}}})
		a = b
	}
	return cs
}

// BenchmarkCommitArgs measures encoding the commit script's arguments for
// a call of 64 reports (commitArgs), without Redis.
//
//	go test -run '^$' -bench CommitArgs -benchmem ./alerting/adapters/redisstore/
func BenchmarkCommitArgs(b *testing.B) {
	store := unconnectedStore(b)
	cs := surge("b", 64)
	b.ReportAllocs()
	for range b.N {
		if _, err := store.CommitArgs(cs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCommitScript commits calls of 1, 4 and 64 reports on a
// redis-server, each call a new alert of the same zone, and reports
// Redis's CPU time per report besides truceline's: a report handled alone
// pays the call's fixed costs by itself.
//
//	go test -run '^$' -bench CommitScript -benchtime 200x ./alerting/adapters/redisstore/
func BenchmarkCommitScript(b *testing.B) {
	srv := redistest.Start(b)
	rdb := srv.Client(b)
	for _, n := range []int{1, 4, 64} {
		b.Run(fmt.Sprintf("reports=%d", n), func(b *testing.B) { benchmarkCommitScript(b, rdb, n) })
	}
}

func benchmarkCommitScript(b *testing.B, rdb *redis.Client, n int) {
	store, err := redisstore.New(redisstore.Options{Client: rdb})
	if err != nil {
		b.Fatal(err)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36) // fresh ids each time the function runs
	calls := make([][]alerting.Commit, b.N)
	for i := range calls {
		calls[i] = surge(fmt.Sprintf("b%s-%d", run, i), n)
	}
	ctx := context.Background()
	cpu := func() float64 {
		var used float64
		for line := range strings.Lines(rdb.Info(ctx, "cpu").Val()) {
			for _, field := range []string{"used_cpu_sys:", "used_cpu_user:"} {
				if v, ok := strings.CutPrefix(line, field); ok {
					s, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
					used += s
				}
			}
		}
		return used
	}
	before := cpu()
	b.ResetTimer()
	for _, cs := range calls {
		if _, err := store.CommitAll(ctx, cs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric((cpu()-before)*1e6/float64(b.N*n), "redis-µs/report")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/report")
}
