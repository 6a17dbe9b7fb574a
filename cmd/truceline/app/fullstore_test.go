package app_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// TestFullStoreTurnsReadinessDown fills the JetStream store: reports are
// refused with a 503 that says the store is full, /readyz says the same,
// and both recover once there is room again.
func TestFullStoreTurnsReadinessDown(t *testing.T) {
	t.Parallel()
	// A store of 160 MiB, of which ALERTS and the compacted record, REJECTED
	// and AUDIT (16 MiB each here) and the state bucket (64) reserve 128.
	d := &deps{nats: natstest.StartWithMaxStore(t, 160<<20), redis: redistest.Start(t)}
	cfg := d.config(t)
	cfg.AlertsMaxMB, cfg.RejectedMaxMB, cfg.AuditMaxMB = 16, 16, 16
	a := start(t, cfg)
	js := jetStream(t, d)
	ctx := context.Background()
	for name, want := range map[string]int64{broker.StreamAlerts: 16 << 20, broker.StreamRejected: 16 << 20, broker.StreamAudit: 16 << 20} {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.MaxBytes; got != want {
			t.Errorf("%s is capped at %d bytes, want %d as configured", name, got, want)
		}
	}
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

// TestStreamLimitsAreValidated: the caps of the derived streams have a
// floor, and with the embedded NATS they must leave half the store to the
// reports; every problem is named.
func TestStreamLimitsAreValidated(t *testing.T) {
	t.Parallel()
	small := app.DefaultConfig()
	small.RejectedMaxMB, small.AuditMaxMB = 8, 0
	if err := small.Validate(); err == nil ||
		!strings.Contains(err.Error(), "--rejected-max-mb: must be at least 16") || !strings.Contains(err.Error(), "--audit-max-mb: must be at least 16") {
		t.Errorf("caps below the floor: %v", err)
	}
	big := app.DefaultConfig() // 4096 MiB of store, ALERTS 512 twice, the state bucket 64
	big.AuditMaxMB = 1024
	if err := big.Validate(); err == nil || !strings.Contains(err.Error(), "with 1344 MiB for rejected input, the audit log and the state bucket") {
		t.Errorf("an audit cap that leaves the reports less than half the store: %v", err)
	}
	big.AuditMaxMB = 704 // 2 × 512 + 256 + 704 + 64 = 2048, half the store
	if err := big.Validate(); err != nil {
		t.Errorf("an audit cap that leaves the reports half the store: %v", err)
	}
}
