package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/broker/natstest"
)

// TestFullStoreTurnsReadinessDown fills the JetStream store: reports are
// refused with a 503 that says the store is full, /readyz says the same,
// and both recover once there is room again.
func TestFullStoreTurnsReadinessDown(t *testing.T) {
	t.Parallel()
	// A store of 700 MiB, of which ALERTS (16 MiB here), REJECTED, AUDIT
	// and the state bucket reserve 592.
	d := &deps{nats: natstest.StartWithMaxStore(t, 700<<20), redis: redistest.Start(t)}
	cfg := d.config(t)
	cfg.AlertsMaxMB = 16
	a := start(t, cfg)
	js := jetStream(t, d)
	ctx := context.Background()
	// Other data fills the rest, as a disk filling up would.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FILLER", Subjects: []string{"filler"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 256<<10)
	for i := 0; ; i++ {
		if _, err := js.Publish(ctx, "filler", chunk); err != nil {
			t.Logf("the store refused filler after %d MiB: %v", i/4, err)
			break
		}
		if i > 4000 {
			t.Fatal("the store never filled up")
		}
	}

	status, body := post(t, a, "/api/v1/reports", reportJSON("when-full", "aleppo", "shelling"))
	if status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["error"]), "full") {
		t.Fatalf("a report with the store full: %d %v, want 503 saying the store is full", status, body)
	}
	status, body = get(t, a, "/readyz")
	if status != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(body["checks"]), "full") {
		t.Fatalf("/readyz with the store full: %d %v, want 503 saying the store is full", status, body)
	}

	if err := js.DeleteStream(ctx, "FILLER"); err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, a, "/api/v1/reports", reportJSON("when-room", "aleppo", "shelling")); status != http.StatusAccepted {
		t.Fatalf("a report once there is room: %d %v", status, body)
	}
	if !ready(t, a) {
		t.Fatal("/readyz still not ready once there is room")
	}
}
