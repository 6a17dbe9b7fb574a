package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
)

// What is not a report takes a capped part of the JetStream store: ALERTS
// and the compacted record (Options.AlertsMaxBytes each), REJECTED and
// AUDIT (Options.RejectedMaxBytes, Options.AuditMaxBytes) and the state
// bucket (StateMaxMB). The rest of the store is the reports'.
const (
	// DefaultRejectedMaxMB and DefaultAuditMaxMB are REJECTED's and
	// AUDIT's caps when Options leave them 0.
	DefaultRejectedMaxMB = 256
	DefaultAuditMaxMB    = 256
	// StateMaxMB caps the state bucket.
	StateMaxMB = 64
)

// Stream and consumer names.
const (
	StreamViolations = "VIOLATIONS"
	StreamAlerts     = "ALERTS"
	StreamRejected   = "REJECTED"
	EngineConsumer   = "engine"
)

// Headers on messages of rejected.violations.
const (
	HeaderError    = "Truceline-Error"    // what was wrong, for people
	HeaderProblems = "Truceline-Problems" // JSON array of {field, problem}
	HeaderSubject  = "Truceline-Subject"  // the subject the input arrived on
)

// HeaderRecord, on a message of ALERTS, carries the change's record: what
// it did besides the alert (alerting.Record), so that the stream is enough
// to redo it. Its form is internal to truceline.
const HeaderRecord = "Truceline-Record"

// Headers truceline sets on a report's message in VIOLATIONS when it stores
// the report itself (HTTP, CAP, the intake of the embedded server's users).
// A report published straight into the stream has none of them, and its
// submitter is an anonymous NATS publisher.
const (
	// HeaderSubmittedBy is the submitter (alerting.Submitter as JSON).
	HeaderSubmittedBy = "Truceline-Submitted-By"
	// HeaderReportID is the id truceline gave a report that came without one.
	HeaderReportID = "Truceline-Report-Id"
	// HeaderSenderMsgID is the Nats-Msg-Id the sender set, which the intake
	// replaces with one scoped to the sender (alerting.ReportKey).
	HeaderSenderMsgID = "Truceline-Msg-Id"
	// HeaderAmends is the id its sender gave an earlier report of its own
	// that this one updates (a CAP Update), or withdraws when
	// HeaderWithdraws is "true" (a CAP Cancel): see alerting.Arrival.
	HeaderAmends    = "Truceline-Amends"
	HeaderWithdraws = "Truceline-Withdraws"
)

// reportHeaders are the headers above: what a report's message says beside
// its body, which parking and replaying keep.
var reportHeaders = []string{HeaderSubmittedBy, HeaderReportID, HeaderSenderMsgID, HeaderAmends, HeaderWithdraws}

// Options configures a Broker.
type Options struct {
	// Conn is a connected NATS connection. Required. The Broker does not
	// close it.
	Conn *nats.Conn
	// Prefix stands before every subject ("" or "centre1." for
	// "centre1.violations.aleppo.shelling").
	Prefix string
	// Replicas is the JetStream replica count of the streams and the state
	// bucket; 0 means 1.
	Replicas int
	// AlertsMaxBytes caps ALERTS (the oldest changes go first), and the
	// compacted record of every alert (CompactedBucket); 0 means 512 MiB.
	AlertsMaxBytes int64
	// RejectedMaxBytes caps REJECTED, and AuditMaxBytes AUDIT (the oldest
	// entries go first); 0 means DefaultRejectedMaxMB and
	// DefaultAuditMaxMB.
	RejectedMaxBytes, AuditMaxBytes int64
	Logger                          *slog.Logger
	// Registerer receives truceline_alert_changes_total; nil registers
	// none.
	Registerer prometheus.Registerer
}

// Broker publishes and consumes truceline's NATS subjects.
type Broker struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	logger *slog.Logger // scoped to the broker
	root   *slog.Logger // for the broker's parts to scope themselves
	// changes counts alert changes stored in ALERTS by event.
	changes *prometheus.CounterVec

	replicas       int
	alertsMaxBytes int64
	auditMaxBytes  int64
	full           atomic.Int64 // when the store last refused a report as full (Unix ns); 0 once one is stored
	stateMu        sync.Mutex
	state          jetstream.KeyValue // StateBucket, once set up
	compacted      jetstream.KeyValue // CompactedBucket, once set up
	out            *outbox            // the changes on their way to ALERTS
}

// New sets up the streams (creating or updating them) and returns a Broker.
func New(ctx context.Context, o Options) (*Broker, error) {
	if o.Conn == nil {
		return nil, errors.New("broker: Options.Conn is required")
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.AlertsMaxBytes == 0 {
		o.AlertsMaxBytes = 512 << 20
	}
	if o.RejectedMaxBytes == 0 {
		o.RejectedMaxBytes = DefaultRejectedMaxMB << 20
	}
	if o.AuditMaxBytes == 0 {
		o.AuditMaxBytes = DefaultAuditMaxMB << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if !serverAtLeast(o.Conn, 2, 11) {
		// The outbox checks a change's turn over a zone's subjects
		// (Nats-Expected-Last-Subject-Sequence-Subject), new in 2.11.
		return nil, fmt.Errorf("broker: NATS %s is too old: truceline needs NATS 2.11 or later", o.Conn.ConnectedServerVersion())
	}
	js, err := jetstream.New(o.Conn)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	b := &Broker{nc: o.Conn, js: js, prefix: o.Prefix, logger: o.Logger.With("component", "broker"), root: o.Logger, replicas: o.Replicas, alertsMaxBytes: o.AlertsMaxBytes, auditMaxBytes: o.AuditMaxBytes,
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_alert_changes_total",
			Help: "Alert changes stored in ALERTS by event (a change published again is counted once).",
		}, []string{"event"})}
	streams := []jetstream.StreamConfig{{
		Name:        StreamViolations,
		Description: "truceline violation reports, as accepted; the durable record of every report",
		Subjects:    []string{b.prefix + "violations.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Duplicates:  10 * time.Minute,
	}, {
		Name:        StreamAlerts,
		Description: "truceline alert changes, for consumers that replay from a sequence",
		Subjects:    []string{b.prefix + "alerts.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    o.AlertsMaxBytes,
		Duplicates:  2 * time.Minute,
	}, {
		Name:        StreamRejected,
		Description: "input truceline could not accept, with the reason and the original bytes",
		Subjects:    []string{b.prefix + "rejected.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		MaxAge:      7 * 24 * time.Hour,
		MaxBytes:    o.RejectedMaxBytes,
	}, b.auditStream()}
	for _, cfg := range streams {
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return nil, fmt.Errorf("broker: set up stream %s: %w", cfg.Name, err)
		}
	}
	b.out = newOutbox(b)
	if _, err := b.stateBucket(ctx); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if _, err := b.compactedBucket(ctx); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	for _, e := range []alerting.Event{alerting.EventOpened, alerting.EventUpdated, alerting.EventEscalated,
		alerting.EventAcknowledged, alerting.EventResolved, alerting.EventReopened} {
		b.changes.WithLabelValues(string(e)) // exposed from the start, at 0
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(b.changes)
	}
	return b, nil
}

// arrival is what a report's message in VIOLATIONS says beside its body.
func (b *Broker) arrival(subject string, h nats.Header, seq uint64) (a alerting.Arrival, ok bool) {
	if a.Zone, a.Category, ok = b.subjectTokens(subject); !ok {
		return a, false
	}
	var known bool
	if a.By, known = alerting.ParseSubmitter(h.Get(HeaderSubmittedBy)); !known {
		a.By = alerting.Submitter{Via: alerting.ViaNATS}
	}
	if id := h.Get(HeaderAmends); alerting.ValidReportID(id) {
		a.Amends, a.Withdraws = id, h.Get(HeaderWithdraws) == "true"
	}
	if id := h.Get(HeaderReportID); alerting.ValidReportID(id) {
		a.AssignedID = id
		return a, true
	}
	a.AssignedID = fmt.Sprintf("js-%d", seq)
	for _, id := range []string{h.Get(HeaderSenderMsgID), h.Get(jetstream.MsgIDHeader)} {
		if alerting.ValidReportID(id) {
			a.SenderID = id
			break
		}
	}
	return a, true
}

// ReportSubject is the subject a report is published on.
func (b *Broker) ReportSubject(zone string, c alerting.Category) string {
	return b.prefix + "violations." + zone + "." + string(c)
}

// PublishReport stores an admitted report, as Admit stamped it, in
// VIOLATIONS and returns once JetStream has acknowledged it; duplicate is
// true when its submitter stored it already within the deduplication
// window. The message holds the report as it was sent, and says who sent
// it in headers (see HeaderSubmittedBy).
func (b *Broker) PublishReport(ctx context.Context, r *alerting.Report) (duplicate bool, err error) {
	if r.SubmittedBy == nil {
		return false, fmt.Errorf("report %s: publish a report that Admit stamped", r.ID)
	}
	sent := r.AsSent()
	m := nats.NewMsg(b.ReportSubject(r.Zone, r.Category))
	m.Header.Set(HeaderSubmittedBy, r.SubmittedBy.HeaderValue())
	if r.SubmittedID == "" {
		m.Header.Set(HeaderReportID, r.ID)
	}
	if r.Amends != "" {
		// The id as its sender gave it: the consumer keys it to the
		// submitter again, as Admit did.
		id, _, _ := strings.Cut(r.Amends, "~")
		m.Header.Set(HeaderAmends, id)
		if r.Withdraws {
			m.Header.Set(HeaderWithdraws, "true")
		}
	}
	if m.Data, err = json.Marshal(&sent); err != nil {
		return false, fmt.Errorf("encode report %s: %w", r.ID, err)
	}
	if !b.nc.IsConnected() {
		// Known to be away: say so at once, rather than after the
		// publication's timeout.
		return false, &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "the report store (NATS) is not connected; the report is not stored, send it again (it will not be counted twice)"}
	}
	ack, err := b.js.PublishMsg(ctx, m, jetstream.WithMsgID(r.ID))
	if storeFull(err) {
		if last := b.full.Swap(time.Now().UnixNano()); time.Since(time.Unix(0, last)) > time.Minute {
			b.logger.Error("the JetStream store is full: reports are refused until an operator makes room (docs/OPERATIONS.md)", "err", err)
		}
		return false, &alerting.Error{Code: alerting.EUNAVAILABLE, Cause: err,
			Message: "the report store (NATS JetStream) is full; the report is not stored: send it again later (it will not be counted twice)"}
	}
	if err != nil {
		return false, &alerting.Error{Code: alerting.EUNAVAILABLE, Cause: err, Message: "the report store (NATS JetStream) did not confirm the report; it may not be stored, send it again (it will not be counted twice)"}
	}
	b.full.Store(0)
	return ack.Duplicate, nil
}

// storeFull reports whether err is JetStream refusing a message for want
// of storage.
func storeFull(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jsErrInsufficientResources || apiErr.ErrorCode == jsErrStorageResourcesExceeded) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "insufficient") && strings.Contains(err.Error(), "resources")
}

// JetStream's error codes for a store that cannot take a message:
// "insufficient resources" and "insufficient storage resources available".
const (
	jsErrInsufficientResources    jetstream.ErrorCode = 10023
	jsErrStorageResourcesExceeded jetstream.ErrorCode = 10047
)

// PublishChange implements alerting.Publisher: it stores the change in
// ALERTS on alerts.<zone>.<event>, right after the zone's change before
// it (see outbox.go), and returns once it is stored, or once it has waited
// up to 5 s; the change stays queued after that, and is stored once NATS
// takes it. A change stored already is not stored again.
func (b *Broker) PublishChange(ctx context.Context, c alerting.Change) error {
	return b.PublishChanges(ctx, []alerting.Change{c})[0]
}

// PublishChanges implements alerting.ChangesPublisher: PublishChange for
// many changes at once, a zone's consecutive changes sent together. It
// returns an error per change.
func (b *Broker) PublishChanges(ctx context.Context, cs []alerting.Change) []error {
	entries, full := b.out.enqueue(cs)
	return b.out.wait(ctx, cs, entries, full)
}

// Later returns a publisher that queues each change for ALERTS and
// returns at once: escalation steps and delivery outcomes go through it,
// so they never wait for NATS.
func (b *Broker) Later() alerting.Publisher { return later{b.out} }

type later struct{ out *outbox }

func (l later) PublishChange(_ context.Context, c alerting.Change) error {
	if _, full := l.out.enqueue([]alerting.Change{c}); full != nil {
		return changeUnconfirmed(c, full)
	}
	return nil
}

// SetChangeSource gives the broker the state store's history of changes,
// from which it reads back the changes committed and never published (a
// replica died in between).
func (b *Broker) SetChangeSource(src ChangeSource) {
	b.out.mu.Lock()
	b.out.source = src
	b.out.mu.Unlock()
}

// Complete makes sure, in the background, that ALERTS holds the zone's
// changes up to seq, reading from the change source those nobody
// published. The healer calls it for zones whose sequence number stood
// still; it costs nothing when ALERTS is known to hold them.
func (b *Broker) Complete(zone string, seq int64) { b.out.complete(zone, seq) }

// Forget drops the changes waiting for ALERTS, failing their publishers
// with why, and returns how many. The state store went back in time: they
// may be lost with it, and their sequence numbers given to other changes.
func (b *Broker) Forget(why error) int { return b.out.reset(why) }

// Shutdown stores the changes still queued for ALERTS, until ctx ends.
func (b *Broker) Shutdown(ctx context.Context) error { return b.out.shutdown(ctx) }

// changeMsg is the message of a change on alerts.<zone>.<event>: its frame,
// and its record in a header.
func (b *Broker) changeMsg(c alerting.Change) *nats.Msg {
	m := &nats.Msg{Subject: b.prefix + "alerts." + c.Zone + "." + string(c.Event), Data: c.Frame, Header: nats.Header{}}
	if len(c.Record) > 0 {
		m.Header.Set(HeaderRecord, string(c.Record))
	}
	return m
}

// changeUnconfirmed is a change JetStream did not confirm: unavailable, so
// the consumer waits for NATS instead of parking a report whose change is
// committed and only needs publishing.
func changeUnconfirmed(c alerting.Change, err error) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "the alert stream (NATS JetStream) did not confirm the change; try again",
		Cause: fmt.Errorf("store change %d of %s: %w", c.Seq, c.Zone, err)}
}

var (
	_ alerting.Publisher        = (*Broker)(nil)
	_ alerting.ChangesPublisher = (*Broker)(nil)
)

// SubscribeChanges calls fn with every change frame of a zone as it is
// published, until the returned function is called.
func (b *Broker) SubscribeChanges(zone string, fn func(frame []byte)) (unsubscribe func(), err error) {
	sub, err := b.nc.Subscribe(b.prefix+"alerts."+zone+".*", func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("subscribe to changes of %s: %w", zone, err)
	}
	// A gateway must never be cut off for being slow: it detects gaps and
	// fills them from Redis, but let it hold a generous backlog first.
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	return func() { _ = sub.Unsubscribe() }, nil
}

// Reject publishes input that could not be accepted on rejected.violations,
// with the reason in headers and the original bytes as the body.
func (b *Broker) Reject(ctx context.Context, subject string, data []byte, reason error) error {
	m := nats.NewMsg(b.prefix + "rejected.violations")
	m.Data = data
	m.Header.Set(HeaderError, alerting.ErrorMessage(reason))
	m.Header.Set(HeaderSubject, subject)
	if fields := alerting.ErrorFields(reason); len(fields) > 0 {
		problems, _ := json.Marshal(fields)
		m.Header.Set(HeaderProblems, string(problems))
	}
	if _, err := b.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish rejection: %w", err)
	}
	return nil
}

// ParkedSubject is where reports that failed every try wait for an operator,
// in the REJECTED stream.
const ParkedSubject = "rejected.parked"

// HeaderAttempts says how many times a parked report was tried.
const HeaderAttempts = "Truceline-Attempts"

// Park publishes a report that failed every try on rejected.parked, with
// the reason and the subject it arrived on, to be replayed, and what its
// message said of its sender and id (h), so that the replay is the same
// report of the same sender.
func (b *Broker) Park(ctx context.Context, subject string, h nats.Header, data []byte, reason error, attempts int) error {
	m := nats.NewMsg(b.prefix + ParkedSubject)
	m.Data = data
	for _, k := range reportHeaders {
		if v := h.Get(k); v != "" {
			m.Header.Set(k, v)
		}
	}
	if id := h.Get(jetstream.MsgIDHeader); h.Get(HeaderSenderMsgID) == "" && h.Get(HeaderSubmittedBy) == "" && id != "" {
		m.Header.Set(HeaderSenderMsgID, id) // an anonymous publisher's id
	}
	// The whole error, for the operator who reads REJECTED (liaisons
	// cannot): what failed must be found without the logs.
	m.Header.Set(HeaderError, strings.ReplaceAll(reason.Error(), "\n", " "))
	m.Header.Set(HeaderSubject, subject)
	m.Header.Set(HeaderAttempts, strconv.Itoa(attempts))
	if _, err := b.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("park report: %w", err)
	}
	return nil
}

// Ready checks that NATS is connected, JetStream answers, and its store
// took the last report offered (it refuses them when full).
func (b *Broker) Ready(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("nats: %s", b.nc.Status())
	}
	if b.full.Load() != 0 {
		return errors.New("the JetStream store is full: reports are refused until an operator makes room")
	}
	if _, err := b.js.Stream(ctx, StreamViolations); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// subjectTokens splits violations.<zone>.<category> (after the prefix).
func (b *Broker) subjectTokens(subject string) (zone, category string, ok bool) {
	rest, found := strings.CutPrefix(subject, b.prefix+"violations.")
	if !found {
		return "", "", false
	}
	zone, category, found = strings.Cut(rest, ".")
	if !found || zone == "" || category == "" || strings.Contains(category, ".") {
		return "", "", false
	}
	return zone, category, true
}
