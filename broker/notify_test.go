package broker_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

func message(key, subject string) *alerting.Message {
	return &alerting.Message{Key: key, Alert: &alerting.Alert{ID: "al-1", Zone: "aleppo", Title: "Shelling in Aleppo", Severity: alerting.SeveritySevere},
		Contact: alerting.Contact{ID: "liaison"}, Method: alerting.Method{ID: "ops", Type: alerting.MethodNATS, Subject: subject},
		Step: 2, Attempt: 1, SentAt: time.Now()}
}

func TestNotifierPublishesToPlainSubscribers(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	listener := srv.Connect(t)
	sub, err := listener.SubscribeSync("liaison.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.Notifier().Send(context.Background(), message("al-1:1:0:liaison/ops", "liaison.party-a.alerts")); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var p alerting.Payload
	if err := json.Unmarshal(m.Data, &p); err != nil || p.Key != "al-1:1:0:liaison/ops" || p.Alert.ID != "al-1" || p.Step != 2 {
		t.Errorf("payload %s (%v)", m.Data, err)
	}
	if m.Header.Get(jetstream.MsgIDHeader) != p.Key || m.Reply != "" {
		t.Errorf("headers %v, reply %q: want the key as Nats-Msg-Id and no request", m.Header, m.Reply)
	}
}

// TestNotifierStoresInACapturingStreamOnce: a liaison system that captures
// its subject in a stream gets each key once, however often it is sent.
func TestNotifierStoresInACapturingStreamOnce(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	stream, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "LIAISON", Subjects: []string{"liaison.>"}})
	if err != nil {
		t.Fatal(err)
	}
	n := b.Notifier()
	for range 3 {
		if err := n.Send(context.Background(), message("al-1:1:0:liaison/ops", "liaison.party-a.alerts")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Send(context.Background(), message("al-1:2:0:liaison/ops", "liaison.party-a.alerts")); err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("the stream holds %d messages, want one per key (2)", info.State.Msgs)
	}
}

func TestNotifierFailsWhileNATSIsDown(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := b.Notifier().Send(ctx, message("k", "liaison.x")); err == nil || alerting.IsPermanent(err) {
		t.Errorf("send with NATS down: %v, want a transient error", err)
	}
}
