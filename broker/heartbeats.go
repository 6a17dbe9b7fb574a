package broker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/truceline/truceline/alerting"
)

// HeartbeatSubjects is where monitored sources beat: heartbeats.<monitor>
// (after the prefix). Liaison users of the embedded server reach it
// through an import of their account (see serverAuth).
const HeartbeatSubjects = "heartbeats.>"

// RejectedHeartbeats is where refused heartbeats are kept, in REJECTED.
const RejectedHeartbeats = "rejected.heartbeats"

// HeaderSender, on a refused heartbeat, names the NATS user that sent it
// ("" for an anonymous publisher).
const HeaderSender = "Truceline-Sender"

// heartbeatSubject is the one a liaison user may publish heartbeats on.
const heartbeatSubject = "heartbeats.*"

// heartbeatQueue is the queue group of every replica's Heartbeats.
const heartbeatQueue = "truceline-heartbeats"

// HeartbeatHandler records the heartbeats of monitored sources
// (alerting.SourceWatch).
type HeartbeatHandler interface {
	HeartbeatFrom(ctx context.Context, s alerting.Beater, monitor string, now time.Time) error
}

// HeartbeatOptions configures Heartbeats.
type HeartbeatOptions struct {
	Handler HeartbeatHandler
	// Users are the embedded server's liaison users. With users, a
	// heartbeat is theirs, known by the account the server names in
	// Nats-Request-Info (which no client can forge across an import),
	// and may count only for a monitor all of whose zones are theirs;
	// one that came from elsewhere is refused. Without users (an open
	// or an external server) every heartbeat is an anonymous publisher's.
	Users []EmbeddedUser
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Heartbeats takes the heartbeats published on heartbeats.<monitor>: it
// records each that its sender may send, answers a request with
// {"monitor","heard_at"} (or an error), and publishes each it refuses on
// rejected.heartbeats with the reason.
type Heartbeats struct {
	b      *Broker
	o      HeartbeatOptions
	zones  map[string][]string // a liaison user's zones
	sub    *nats.Subscription
	logger *slog.Logger

	taken drain
}

// heartbeatWithin bounds the handling of one heartbeat.
const heartbeatWithin = 10 * time.Second

// StartHeartbeats subscribes to heartbeats.>.
func (b *Broker) StartHeartbeats(o HeartbeatOptions) (*Heartbeats, error) {
	if o.Handler == nil {
		return nil, fmt.Errorf("broker: heartbeats need a handler")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	hb := &Heartbeats{b: b, o: o, logger: o.Logger.With("component", "heartbeats")}
	if len(o.Users) > 0 {
		hb.zones = make(map[string][]string, len(o.Users))
		for _, u := range o.Users {
			hb.zones[u.Name] = u.Zones
		}
	}
	sub, err := b.nc.QueueSubscribe(b.prefix+HeartbeatSubjects, heartbeatQueue, hb.take)
	if err != nil {
		return nil, fmt.Errorf("subscribe to heartbeats: %w", err)
	}
	hb.sub = sub
	return hb, nil
}

// Shutdown stops taking heartbeats and waits for those taken.
func (hb *Heartbeats) Shutdown(ctx context.Context) error {
	_ = hb.sub.Unsubscribe()
	return hb.taken.stop(ctx)
}

// take handles one heartbeat. The subscription's callbacks run one at a
// time; a heartbeat is one Redis write, so they need no more.
func (hb *Heartbeats) take(m *nats.Msg) {
	if !hb.taken.begin() {
		return // no answer: the sender's request times out, and it beats again
	}
	defer hb.taken.done()
	now := hb.o.Now().UTC()
	sender, err := hb.sender(m)
	monitor, _ := strings.CutPrefix(m.Subject, hb.b.prefix+"heartbeats.")
	if err == nil && (!alerting.ValidZoneID(monitor)) {
		err = alerting.Errorf(alerting.EINVALID, "subject %q is not %sheartbeats.<monitor>", m.Subject, hb.b.prefix)
	}
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), heartbeatWithin)
		err = hb.o.Handler.HeartbeatFrom(ctx, sender, monitor, now)
		cancel()
	}
	if err == nil {
		hb.answer(m, map[string]any{"monitor": monitor, "heard_at": now})
		return
	}
	switch alerting.ErrorCode(err) {
	case alerting.EINVALID, alerting.ENOTFOUND, alerting.EFORBIDDEN:
		hb.logger.Info("a heartbeat was refused", "subject", m.Subject, "sender", sender.User, "err", alerting.ErrorMessage(err))
		ctx, cancel := context.WithTimeout(context.Background(), heartbeatWithin)
		if rerr := hb.reject(ctx, m, sender, err); rerr != nil {
			hb.logger.Warn("a refused heartbeat was not kept in REJECTED", "subject", m.Subject, "err", rerr)
		}
		cancel()
		hb.answer(m, map[string]any{"error": map[string]any{"code": alerting.ErrorCode(err), "description": alerting.ErrorMessage(err)}})
	default:
		hb.logger.Warn("a heartbeat was not recorded; its sender was told so", "subject", m.Subject, "err", err)
		hb.answer(m, map[string]any{"error": map[string]any{"code": alerting.EUNAVAILABLE,
			"description": "truceline did not record the heartbeat: " + alerting.ErrorMessage(err)}})
	}
}

// sender is who published m.
func (hb *Heartbeats) sender(m *nats.Msg) (alerting.Beater, error) {
	if hb.zones == nil {
		return alerting.Beater{}, nil // an open or external server: anonymous
	}
	var info server.ClientInfo
	_ = json.Unmarshal([]byte(m.Header.Get(server.ClientInfoHdr)), &info)
	user, ok := strings.CutPrefix(info.Account, liaisonAccount(""))
	zones, known := hb.zones[user]
	if !ok || !known {
		// Only a liaison user's import reaches here with its account.
		return alerting.Beater{}, alerting.Errorf(alerting.EFORBIDDEN, "not sent by a liaison user")
	}
	return alerting.Beater{User: user, Zones: zones}, nil
}

// reject keeps a refused heartbeat on rejected.heartbeats.
func (hb *Heartbeats) reject(ctx context.Context, m *nats.Msg, sender alerting.Beater, reason error) error {
	out := nats.NewMsg(hb.b.prefix + RejectedHeartbeats)
	out.Data = m.Data
	out.Header.Set(HeaderError, alerting.ErrorMessage(reason))
	out.Header.Set(HeaderSubject, m.Subject)
	if sender.User != "" {
		out.Header.Set(HeaderSender, sender.User)
	}
	if _, err := hb.b.js.PublishMsg(ctx, out); err != nil {
		return fmt.Errorf("publish rejection: %w", err)
	}
	return nil
}

// answer replies to a heartbeat sent as a request.
func (hb *Heartbeats) answer(m *nats.Msg, body any) {
	if m.Reply == "" {
		return // published without waiting for an answer
	}
	data, _ := json.Marshal(body)
	_ = m.Respond(data)
}
