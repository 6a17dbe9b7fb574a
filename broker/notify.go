package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// Notifier delivers notifications to NATS methods: the payload JSON on the
// method's subject, with the notification's key as Nats-Msg-Id. When a
// JetStream stream captures the subject, the message counts as sent once
// the stream has stored it (and the stream drops a repeat of the key);
// otherwise once the NATS server has taken it, which says nothing of the
// subscribers, so liaison systems that must not miss one capture their
// subject in a stream.
type Notifier struct {
	b *Broker
}

// Notifier returns the NATS method's sender.
func (b *Broker) Notifier() *Notifier { return &Notifier{b: b} }

var _ alerting.Sender = (*Notifier)(nil)

// Send implements alerting.Sender.
func (n *Notifier) Send(ctx context.Context, m *alerting.Message) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	data, err := json.Marshal(m.Payload())
	if err != nil {
		return alerting.Permanent(fmt.Errorf("encode notification: %w", err))
	}
	msg := nats.NewMsg(m.Method.Subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, m.Key)
	msg.Header.Set("Truceline-Alert", m.Alert.ID)
	// Plain subscribers may listen on the subject too, so a JetStream
	// publish (a request) is only for a subject a stream captures.
	_, err = n.b.js.StreamNameBySubject(ctx, m.Method.Subject)
	switch {
	case err == nil:
		_, err = n.b.js.PublishMsg(ctx, msg)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if err = n.b.nc.PublishMsg(msg); err == nil {
			err = n.b.nc.FlushWithContext(ctx)
		}
	}
	if err != nil {
		return fmt.Errorf("publish on %s: %w", m.Method.Subject, err)
	}
	return nil
}

// Destination implements the dispatcher's circuit-breaker key: every NATS
// method goes through the one connection.
func (n *Notifier) Destination(alerting.Method) string { return "nats" }
