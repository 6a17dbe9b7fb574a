package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Retrier publishes committed changes in the background, in the order it
// is given them, trying each again until the stream of changes takes it.
// Escalation steps and delivery outcomes are published through it, so they
// never wait for NATS, and a change committed while NATS is away still
// reaches ALERTS once NATS is back. As a Publisher it only queues.
type Retrier struct {
	pub    Publisher
	queue  chan Change
	logger *slog.Logger
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ Publisher = (*Retrier)(nil)

// retrierQueue bounds the changes waiting; past it a change is left out of
// the stream (boards still get it from Redis), and the log says so.
const retrierQueue = 1 << 16

// NewRetrier returns a retrier publishing with pub; Run starts it.
func NewRetrier(pub Publisher, logger *slog.Logger) *Retrier {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Retrier{pub: pub, queue: make(chan Change, retrierQueue), logger: logger.With("component", "retrier"),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// PublishChange implements Publisher: it queues c and returns.
func (r *Retrier) PublishChange(_ context.Context, c Change) error {
	select {
	case r.queue <- c:
		return nil
	default:
		r.logger.Error("too many changes wait for NATS: one is left out of ALERTS (boards still get it)", "zone", c.Zone, "seq", c.Seq)
		return fmt.Errorf("publish %s/%d: %d changes wait already", c.Zone, c.Seq, retrierQueue)
	}
}

// Run publishes the queued changes until Shutdown.
func (r *Retrier) Run() {
	defer close(r.done)
	for {
		select {
		case <-r.stop:
			r.drain()
			return
		case c := <-r.queue:
			r.publish(c)
		}
	}
}

// drain tries once each change still queued when the retrier stops.
func (r *Retrier) drain() {
	left := 0
	for {
		select {
		case c := <-r.queue:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			if err := r.pub.PublishChange(ctx, c); err != nil {
				left++
			}
			cancel()
		default:
			if left > 0 {
				r.logger.Warn("stopped with changes not published: they are in Redis but not in ALERTS", "changes", left)
			}
			return
		}
	}
}

// publish tries c until it is published or the retrier stops, waiting
// longer after each failure, up to 5 s.
func (r *Retrier) publish(c Change) {
	wait := 100 * time.Millisecond
	for failures := 0; ; failures++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := r.pub.PublishChange(ctx, c)
		cancel()
		if err == nil {
			if failures > 0 {
				r.logger.Info("change published after NATS came back", "zone", c.Zone, "seq", c.Seq, "failures", failures)
			}
			return
		}
		if failures == 0 {
			r.logger.Warn("change committed but not published yet; trying again until NATS takes it", "zone", c.Zone, "seq", c.Seq, "err", err)
		}
		select {
		case <-r.stop:
			r.logger.Warn("stopping with a change not published: it is in Redis but not in ALERTS", "zone", c.Zone, "seq", c.Seq)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Shutdown stops the retrier after one more try of each change queued;
// those that fail stay out of ALERTS (they are in Redis, and boards get
// them). Idempotent.
func (r *Retrier) Shutdown(ctx context.Context) error {
	r.once.Do(func() { close(r.stop) })
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("retrier: %w", ctx.Err())
	}
}
