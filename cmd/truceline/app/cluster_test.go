package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// TestStreamsReplicatedOnACluster runs truceline on a three-node NATS
// cluster with --stream-replicas 3, the production shape: every stream and
// the state bucket has three replicas, and losing a node loses no report.
func TestStreamsReplicatedOnACluster(t *testing.T) {
	t.Parallel()
	cluster := natstest.StartCluster(t, 3)
	d := &deps{nats: cluster.Servers[0], redis: redistest.Start(t)}
	cfg := d.config(t)
	cfg.NATSURL, cfg.StreamReplicas = cluster.URL(), 3
	a := start(t, cfg)

	nc, err := nats.Connect(cluster.URL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{broker.StreamViolations, broker.StreamAlerts, broker.StreamRejected, broker.StreamAudit, "KV_" + broker.StateBucket} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("stream %s has %d replicas, want 3", name, got)
		}
	}

	before := sendReports(t, a, js, "cluster", 30)
	waitCounted(t, a, before)
	// A node goes down: the other two hold every stream.
	cluster.Servers[2].Shutdown()
	var probe string
	alertingtest.Eventually(t, 30*time.Second, "reports to be accepted again with a node down", func() bool {
		status, body := post(t, a, "/api/v1/reports", reportJSON("cluster-probe", "aleppo", "shelling"))
		probe, _ = body["id"].(string)
		return status == 202
	})
	after := append([]string{probe}, sendReports(t, a, js, "one-down", 30)...)
	waitCounted(t, a, append(before, after...))
	countedOnce(t, a)
}
