package broker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// intakeSubjects is where the embedded server's liaison users' reports
// arrive in truceline's account: a user's violations.<zone>.<category>
// is intake.<zone>.<category> there (see serverAuth).
const intakeSubjects = "intake.>"

// intakeQueue is the queue group of every replica's Intake.
const intakeQueue = "truceline-intake"

// Intake stores the reports of the embedded server's liaison users in
// VIOLATIONS, and answers each with the stream's acknowledgement, as if the
// user had published into the stream itself. On the way it records who
// sent the report (HeaderSubmittedBy, from the account the server names in
// Nats-Request-Info, which no client can forge across an import), and
// scopes the sender's Nats-Msg-Id to that user and the zone, so that one
// user's ids never make another's reports duplicates. The sender's other
// headers are dropped.
type Intake struct {
	b      *Broker
	sub    *nats.Subscription
	logger *slog.Logger

	taken drain // reports taken, not yet answered
}

// answerWithin bounds the wait for the stream's acknowledgement of one
// report: a connection that closes meanwhile may never give one.
const answerWithin = 30 * time.Second

// StartIntake subscribes the intake.
func (b *Broker) StartIntake(logger *slog.Logger) (*Intake, error) {
	in := &Intake{b: b, logger: logger.With("component", "intake")}
	sub, err := b.nc.QueueSubscribe(b.prefix+intakeSubjects, intakeQueue, in.take)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the intake: %w", err)
	}
	// The reports wait in the server, not here, when truceline is slow.
	if err := sub.SetPendingLimits(4096, 64<<20); err != nil {
		return nil, fmt.Errorf("subscribe to the intake: %w", err)
	}
	in.sub = sub
	return in, nil
}

// Shutdown stops taking reports and waits for those taken to be answered.
func (in *Intake) Shutdown(ctx context.Context) error {
	_ = in.sub.Unsubscribe()
	return in.taken.stop(ctx)
}

// take stores one report and answers its sender once JetStream has.
func (in *Intake) take(m *nats.Msg) {
	var info server.ClientInfo
	_ = json.Unmarshal([]byte(m.Header.Get(server.ClientInfoHdr)), &info)
	user, ok := strings.CutPrefix(info.Account, liaisonAccount(""))
	rest, _ := strings.CutPrefix(m.Subject, in.b.prefix+"intake.")
	zone, category, _ := strings.Cut(rest, ".")
	if !ok || user == "" {
		// Only a liaison user's import reaches here with its account.
		in.logger.Warn("a report reached the intake from outside a liaison account; ignored", "subject", m.Subject, "account", info.Account)
		in.answer(m, nil, fmt.Errorf("not sent by a liaison user"))
		return
	}
	by := alerting.Submitter{Via: alerting.ViaNATS, User: user}
	out := nats.NewMsg(in.b.ReportSubject(zone, alerting.Category(category)))
	out.Data = m.Data
	out.Header.Set(HeaderSubmittedBy, by.HeaderValue())
	var opts []jetstream.PublishOpt
	if id := m.Header.Get(jetstream.MsgIDHeader); id != "" {
		out.Header.Set(HeaderSenderMsgID, id)
		opts = append(opts, jetstream.WithMsgID(scopedMsgID(by, zone, id)))
	}
	if !in.taken.begin() {
		return // no answer: the sender's publication times out, and it sends again
	}
	f, err := in.b.js.PublishMsgAsync(out, opts...)
	if err != nil {
		in.taken.done()
		in.answer(m, nil, err)
		return
	}
	go func() {
		defer in.taken.done()
		timeout := time.NewTimer(answerWithin)
		defer timeout.Stop()
		select {
		case ack := <-f.Ok():
			in.answer(m, ack, nil)
		case err := <-f.Err():
			in.answer(m, nil, err)
		case <-timeout.C:
			in.answer(m, nil, errors.New("JetStream did not acknowledge it in time; it may be stored: send it again (it will not be counted twice)"))
		}
	}()
}

// scopedMsgID is the Nats-Msg-Id a sender's id has in VIOLATIONS: its
// ReportKey, or for an id that cannot name a report (which the engine
// ignores) a hash of it under the sender's scope.
func scopedMsgID(by alerting.Submitter, zone, id string) string {
	if !alerting.ValidReportID(id) {
		sum := sha256.Sum256([]byte(id))
		id = "h-" + hex.EncodeToString(sum[:16])
	}
	return alerting.ReportKey(by, zone, id)
}

// answer replies to the sender as JetStream would have: its
// acknowledgement, or an error the client reads as a failed publication.
func (in *Intake) answer(m *nats.Msg, ack *jetstream.PubAck, err error) {
	if m.Reply == "" {
		return // published without waiting for an answer (core NATS)
	}
	var body any = ack
	if err != nil {
		in.logger.Warn("a liaison user's report was not stored; it was told so", "subject", m.Subject, "err", err)
		body = map[string]any{"error": map[string]any{"code": 503, "description": "truceline did not store the report: " + err.Error()}}
	}
	data, _ := json.Marshal(body)
	_ = m.Respond(data)
}
