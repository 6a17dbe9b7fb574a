package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
)

// ReportHandler judges and processes reports; alerting.Engine is one.
type ReportHandler interface {
	Admit(data []byte, a alerting.Arrival) (alerting.Report, error)
	HandleReport(ctx context.Context, r *alerting.Report, receivedAt time.Time) error
	// HandleReports handles reports in order as HandleReport would one by
	// one, returning an error for each.
	HandleReports(ctx context.Context, rs []*alerting.Report, receivedAt []time.Time) []error
}

// maxBatch is how many waiting reports of one zone a worker takes and
// handles together at most: under a surge, one commit and fewer round trips
// for many reports; otherwise a report is handled alone as soon as it comes.
const maxBatch = 64

// ConsumerOptions configures the engine's consumer of VIOLATIONS.
type ConsumerOptions struct {
	Handler ReportHandler // required
	// Batch is how many messages are pulled ahead; 0 means 256.
	Batch int
	// Timeout bounds the handling of one report; 0 means 10 s, the
	// consumer's ack wait.
	Timeout time.Duration
	// Workers is how many lanes (zones) are handled at once; 0 means 32.
	// Reports of one zone are handled one batch at a time, in the order
	// they were stored.
	Workers int
	// MaxAttempts is how many times a report whose processing fails is
	// tried before it is parked on rejected.parked; 0 means 10. A report
	// that fails because a dependency is unavailable is never parked: it
	// waits for the dependency.
	MaxAttempts int
	// RetryDelay is the delay before the second try, growing with each try
	// up to 30 s; 0 means 1 s.
	RetryDelay time.Duration
	// Registerer receives the consumer's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Consumer feeds reports from the durable consumer "engine" to a handler.
// Every replica runs one; JetStream spreads the messages among them. A report
// is acknowledged only after the handler returns, that is after its alert
// change is committed in Redis and published, so a crash at any point leads
// to redelivery, which the handler makes harmless.
type Consumer struct {
	b           *Broker
	h           ReportHandler
	maxAttempts int
	retryDelay  time.Duration
	cons        jetstream.Consumer
	timeout     time.Duration
	batch       int
	lanes       *lanes[jetstream.Msg]
	// draining closes when no more reports are to be pulled; stop
	// cancels the pull in flight too.
	draining chan struct{}
	pulls    context.Context
	stop     context.CancelFunc
	done     chan struct{}
	once     sync.Once
	logger   *slog.Logger

	handled  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	duration prometheus.Histogram
	lag      prometheus.Histogram
}

// Outcomes counted by truceline_engine_reports_total.
const (
	outcomeProcessed = "processed"
	outcomeRejected  = "rejected"
	outcomeParked    = "parked"
	outcomeRetried   = "retried"
)

// Reasons counted by truceline_engine_reports_rejected_total: a fixed set,
// never error text.
const (
	reasonInvalid  = "invalid"   // bad subject, body, schema or values
	reasonTooLarge = "too_large" // body over alerting.MaxReportBytes
)

// rejectReason is the reason label of a rejection.
func rejectReason(err error) string {
	if alerting.ErrorCode(err) == alerting.ETOOLARGE {
		return reasonTooLarge
	}
	return reasonInvalid
}

// pendingEvery is how often the consumer's pending count is read from
// JetStream at most, however often /metrics is scraped.
const pendingEvery = 5 * time.Second

// StartConsumer creates or updates the durable consumer and starts
// processing.
func (b *Broker) StartConsumer(ctx context.Context, o ConsumerOptions) (*Consumer, error) {
	if o.Handler == nil {
		return nil, errors.New("broker: ConsumerOptions.Handler is required")
	}
	if o.Batch <= 0 {
		o.Batch = 256
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 32
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	cons, err := b.js.CreateOrUpdateConsumer(ctx, StreamViolations, jetstream.ConsumerConfig{
		Durable:       EngineConsumer,
		Description:   "truceline alert engine; shared by every replica",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       o.Timeout,
		MaxAckPending: 4 * o.Batch,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		FilterSubject: b.prefix + "violations.>",
	})
	if err != nil {
		return nil, fmt.Errorf("broker: create consumer %s: %w", EngineConsumer, err)
	}
	c := &Consumer{b: b, h: o.Handler, cons: cons, timeout: o.Timeout, batch: o.Batch, draining: make(chan struct{}), done: make(chan struct{}), lanes: newLanes[jetstream.Msg](),
		maxAttempts: o.MaxAttempts, retryDelay: o.RetryDelay,
		logger: b.root.With("component", "engine-consumer"),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_engine_reports_total",
			Help: "Reports taken from VIOLATIONS by outcome: processed, rejected (invalid), retried (failed, redelivered later), parked (failed every try).",
		}, []string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_engine_reports_rejected_total",
			Help: "Reports taken from VIOLATIONS and rejected to REJECTED, by reason: invalid, too_large.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "truceline_engine_report_duration_seconds",
			Help:    "Time to process one report: validate, commit the alert change in Redis, publish it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "truceline_engine_lag_seconds",
			Help:    "Time from a report's storage in VIOLATIONS to the end of its processing (processed or rejected), redeliveries included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
	}
	for _, reason := range []string{reasonInvalid, reasonTooLarge} {
		c.rejected.WithLabelValues(reason) // exposed from the start, at 0
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(c.handled, c.rejected, c.duration, c.lag, &pendingCollector{cons: cons, desc: prometheus.NewDesc(
			"truceline_engine_pending_reports",
			"Reports in VIOLATIONS the engine has not acknowledged yet: not yet delivered, or delivered and in processing or waiting for redelivery. Read from JetStream at most every 5 s.",
			nil, nil)})
	}
	c.pulls, c.stop = context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lane, msgs, ok := c.lanes.next(maxBatch)
				if !ok {
					return
				}
				start := time.Now()
				c.handle(msgs)
				took := time.Since(start).Seconds()
				for range msgs {
					c.duration.Observe(took)
				}
				c.lanes.done(lane)
			}
		}()
	}
	go func() {
		c.run()
		c.lanes.close()
		wg.Wait()
		close(c.done)
	}()
	return c, nil
}

// pullWait is how long one pull waits for reports before the next is
// sent; pullBackoff how long to wait after a failed one.
const (
	pullWait    = time.Second
	pullBackoff = 250 * time.Millisecond
)

// run pulls messages and queues each in the lane of its zone (laneOf):
// zones are handled in parallel, overlapping their Redis and NATS round
// trips, while one zone's reports stay in order.
//
// Each pull is a request of its own, answered within pullWait. The
// iterator of nats.go (Consumer.Messages), which keeps requests open and
// counts what it is owed, was seen under full load to stop asking: the
// server had reports pending and no request waiting, for the 30 s the
// iterator waits before it asks again.
func (c *Consumer) run() {
	failing := false
	for {
		select {
		case <-c.draining:
			return
		default:
		}
		err := c.pull()
		if c.pulls.Err() != nil {
			return
		}
		switch {
		case err != nil && !failing:
			c.logger.Warn("pull from VIOLATIONS failed; retrying", "err", err)
			failing = true
		case err == nil && failing:
			c.logger.Info("pulling from VIOLATIONS again")
			failing = false
		}
		if err != nil {
			select {
			case <-c.draining:
				return
			case <-time.After(pullBackoff):
			}
		}
	}
}

// pull asks for up to a batch of reports, waits for them at most
// pullWait, and queues what came.
func (c *Consumer) pull() error {
	ctx, cancel := context.WithTimeout(c.pulls, pullWait)
	defer cancel()
	batch, err := c.cons.Fetch(c.batch, jetstream.FetchContext(ctx))
	if err != nil {
		return err
	}
	for msg := range batch.Messages() {
		c.lanes.push(laneOf(msg.Subject()), msg)
	}
	if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil // all came, or nothing more within pullWait
}

// admitted is a message whose report was admitted, waiting to be handled.
type admitted struct {
	msg    jetstream.Msg
	meta   *jetstream.MsgMetadata
	report *alerting.Report
}

// handle handles messages of one lane (zone), in order: each is admitted or
// rejected, the admitted reports are handled together, and each message is
// then acknowledged, redelivered later, or parked according to its own
// outcome.
func (c *Consumer) handle(msgs []jetstream.Msg) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	batch := make([]admitted, 0, len(msgs))
	for _, msg := range msgs {
		if a, ok := c.admit(ctx, msg); ok {
			batch = append(batch, a)
		}
	}
	if len(batch) == 0 {
		return
	}
	reports := make([]*alerting.Report, len(batch))
	received := make([]time.Time, len(batch))
	for i, a := range batch {
		reports[i], received[i] = a.report, a.meta.Timestamp
	}
	errs := c.handleReports(ctx, reports, received)
	for i, a := range batch {
		c.settle(ctx, a, errs[i])
	}
}

// admit judges a message's report; a message that cannot be admitted is
// rejected (or terminated) here.
func (c *Consumer) admit(ctx context.Context, msg jetstream.Msg) (admitted, bool) {
	meta, err := msg.Metadata()
	if err != nil {
		c.logger.Error("message without JetStream metadata", "subject", msg.Subject(), "err", err)
		_ = msg.Term()
		return admitted{}, false
	}
	arrival, ok := c.b.arrival(msg.Subject(), msg.Headers(), meta.Sequence.Stream)
	if !ok {
		c.reject(ctx, msg, meta, alerting.Errorf(alerting.EINVALID, "subject %q is not violations.<zone>.<category>", msg.Subject()))
		return admitted{}, false
	}
	r, err := c.h.Admit(msg.Data(), arrival)
	if err != nil {
		c.reject(ctx, msg, meta, err)
		return admitted{}, false
	}
	return admitted{msg: msg, meta: meta, report: &r}, true
}

// settle acknowledges a handled report's message, or rejects, parks or
// redelivers it later according to err.
func (c *Consumer) settle(ctx context.Context, a admitted, err error) {
	msg, meta, r := a.msg, a.meta, a.report
	if err != nil {
		code := alerting.ErrorCode(err)
		if code == alerting.EINVALID {
			c.reject(ctx, msg, meta, err)
			return
		}
		if code != alerting.EUNAVAILABLE && int(meta.NumDelivered) >= c.maxAttempts {
			c.park(ctx, msg, meta, r.ID, err)
			return
		}
		delay := min(time.Duration(meta.NumDelivered)*c.retryDelay, 30*time.Second)
		c.logger.Warn("report not processed; it will be redelivered", "report", r.ID, "delivery", meta.NumDelivered, "retry_in", delay, "err", err)
		c.handled.WithLabelValues(outcomeRetried).Inc()
		_ = msg.NakWithDelay(delay)
		return
	}
	c.handled.WithLabelValues(outcomeProcessed).Inc()
	c.observeLag(meta)
	if err := msg.Ack(); err != nil {
		// The change is committed; a redelivery will find the report
		// processed and change nothing.
		c.logger.Warn("ack failed; the report will be redelivered and recognised", "report", r.ID, "err", err)
	}
}

// handleReports runs the handler on reports together; if that panics, it
// handles each alone, so that only the report that crashes the engine is
// retried, then parked, like any other failure.
func (c *Consumer) handleReports(ctx context.Context, rs []*alerting.Report, receivedAt []time.Time) (errs []error) {
	if len(rs) > 1 {
		func() {
			defer func() {
				if p := recover(); p != nil {
					c.logger.Warn("processing reports together panicked; handling each alone", "reports", len(rs), "panic", p)
					errs = nil
				}
			}()
			errs = c.h.HandleReports(ctx, rs, receivedAt)
		}()
		if errs != nil {
			return errs
		}
	}
	errs = make([]error, len(rs))
	for i, r := range rs {
		errs[i] = c.handleReport(ctx, r, receivedAt[i])
	}
	return errs
}

// handleReport runs the handler, turning a panic into an error: a report
// that crashes the engine is retried, then parked, like any other failure.
func (c *Consumer) handleReport(ctx context.Context, r *alerting.Report, receivedAt time.Time) (err error) {
	defer func() {
		if p := recover(); p != nil {
			c.logger.Error("processing a report panicked", "report", r.ID, "panic", p, "stack", string(debug.Stack()))
			err = &alerting.Error{Code: alerting.EINTERNAL, Message: fmt.Sprintf("processing panicked: %v", p)}
		}
	}()
	return c.h.HandleReport(ctx, r, receivedAt)
}

// park moves a report that failed every try to rejected.parked, with the
// reason, where an operator sees it (trucectl parked list) and can replay
// it once the cause is mended; the stream goes on meanwhile.
func (c *Consumer) park(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, id string, reason error) {
	if err := c.b.Park(ctx, msg.Subject(), msg.Headers(), msg.Data(), reason, int(meta.NumDelivered)); err != nil {
		c.logger.Warn("could not park a failing report; will retry", "report", id, "err", err)
		_ = msg.NakWithDelay(c.retryDelay)
		return
	}
	c.logger.Error("report parked after failing every try; replay it with trucectl parked replay", "report", id,
		"attempts", meta.NumDelivered, "reason", alerting.ErrorMessage(reason))
	c.handled.WithLabelValues(outcomeParked).Inc()
	_ = msg.Term()
}

func (c *Consumer) reject(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, reason error) {
	if err := c.b.Reject(ctx, msg.Subject(), msg.Data(), reason); err != nil {
		c.logger.Warn("could not publish a rejection; will retry", "subject", msg.Subject(), "err", err)
		_ = msg.NakWithDelay(time.Second)
		return
	}
	c.logger.Info("report rejected", "subject", msg.Subject(), "reason", alerting.ErrorMessage(reason), "problems", len(alerting.ErrorFields(reason)))
	c.handled.WithLabelValues(outcomeRejected).Inc()
	c.rejected.WithLabelValues(rejectReason(reason)).Inc()
	c.observeLag(meta)
	_ = msg.Term()
}

// observeLag records how long ago the report was stored, now that its
// processing is done. Clocks of other hosts may run ahead: never negative.
func (c *Consumer) observeLag(meta *jetstream.MsgMetadata) {
	c.lag.Observe(max(time.Since(meta.Timestamp), 0).Seconds())
}

// pendingCollector reports the consumer's pending count from JetStream,
// asking at most every pendingEvery and for at most a second; when JetStream
// does not answer, the metric is left out of the scrape.
type pendingCollector struct {
	cons jetstream.Consumer
	desc *prometheus.Desc

	mu    sync.Mutex
	at    time.Time
	value float64
	ok    bool
}

func (p *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

func (p *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.at) >= pendingEvery {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := p.cons.Info(ctx)
		cancel()
		p.at, p.ok = time.Now(), err == nil
		if err == nil {
			p.value = float64(info.NumPending) + float64(info.NumAckPending)
		}
	}
	if p.ok {
		ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue, p.value)
	}
}

// Shutdown stops pulling, finishes the reports already pulled and returns
// when the last one is acknowledged or ctx ends. Idempotent.
func (c *Consumer) Shutdown(ctx context.Context) error {
	c.once.Do(func() { close(c.draining) }) // the pull in flight is handled
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		c.stop()
		<-c.done
		return fmt.Errorf("engine consumer: %w", ctx.Err())
	}
}

// laneOf is the lane of a report's subject: its zone. Reports of a zone are
// handled in order, one batch at a time, since rules that group by zone
// alone put every category's reports in the same alert.
func laneOf(subject string) string {
	if i := strings.LastIndexByte(subject, '.'); i > 0 {
		return subject[:i]
	}
	return subject
}

// Backlog says how many stored reports the engine has not processed yet
// (waiting, or delivered and not acknowledged) and when the oldest of them
// was stored; zero when there are none.
func (c *Consumer) Backlog(ctx context.Context) (int64, time.Time, error) {
	info, err := c.cons.Info(ctx)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("engine consumer: %w", err)
	}
	n := int64(info.NumPending) + int64(info.NumAckPending)
	if n == 0 {
		return 0, time.Time{}, nil
	}
	stream, err := c.b.js.Stream(ctx, StreamViolations)
	if err != nil {
		return n, time.Time{}, fmt.Errorf("engine consumer: %w", err)
	}
	// The first report past the acknowledgement floor; a gap (a message
	// deleted) leaves the age unknown rather than a search.
	m, err := stream.GetMsg(ctx, info.AckFloor.Stream+1)
	if err != nil {
		return n, time.Time{}, nil
	}
	return n, m.Time, nil
}
