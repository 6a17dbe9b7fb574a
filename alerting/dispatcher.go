package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"
)

// DeliveryQueue holds the deliveries escalation steps asked for. Enqueuing
// and settling happen in Store.Commit, with the alert they belong to;
// claiming leases deliveries, as Timers leases escalation timers, so one
// replica works on each at a time and another takes over if it dies.
type DeliveryQueue interface {
	// ClaimDeliveries leases up to limit due deliveries of a lane and
	// says when the earliest delivery left in it comes due (zero when
	// there is none).
	ClaimDeliveries(ctx context.Context, urgent bool, now time.Time, limit int, lease time.Duration) ([]Delivery, time.Time, error)
	// DeferDelivery makes a delivery due again at at, recording nothing.
	DeferDelivery(ctx context.Context, d Delivery, at time.Time) error
	// DropDelivery takes a delivery off the queue.
	DropDelivery(ctx context.Context, d Delivery) error
}

// destinationer is a Sender that says where a method leads, so that a
// failing destination opens one circuit breaker for every method that
// leads there.
type destinationer interface {
	Destination(Method) string
}

// DispatcherOptions configures a Dispatcher. Store, Queue, Publisher and
// Catalog are required; the rest have working zero values.
type DispatcherOptions struct {
	Store     Store
	Queue     DeliveryQueue
	Publisher Publisher
	Catalog   CatalogSource
	// Senders deliver by method kind; a method whose kind has no sender
	// gives up at once, saying so on the alert.
	Senders map[MethodKind]Sender
	// Links signs acknowledge links; nil sends no link.
	Links *AckLinks
	// PublicURL is where people reach this server ("https://truceline.example.org"),
	// for the links in notifications; "" sends no links.
	PublicURL string
	Now       func() time.Time
	// Interval is the longest Run waits between looks for due deliveries;
	// 0 means 1 s. It looks sooner when a delivery it knows of comes due,
	// when nudged (the engine and the escalator queued some), and when a
	// worker is freed. Deliveries that only another replica knows of (one
	// that died holding them) wait at most this long.
	Interval time.Duration
	// Lease is how long a claimed delivery is held; 0 means 2 minutes. It
	// must be well over a sender's timeout.
	Lease time.Duration
	// Attempts is how many times a notification is tried before giving up;
	// 0 means 18.
	Attempts int
	// Backoff is the delay before the second attempt, doubling each time
	// up to MaxBackoff, with jitter; 0 means 5 s and 4 hours. With the
	// default attempts a failing destination is tried for about a day, as
	// Standard Webhooks recommends: a receiver down overnight still gets
	// the morning's alerts. Escalation never waits on a retry: its steps
	// run on their own timers and queue their own deliveries.
	Backoff, MaxBackoff time.Duration
	// Workers and UrgentWorkers bound the deliveries in flight in each
	// lane; 0 means 16 and 8.
	Workers, UrgentWorkers int
	// BreakerFailures consecutive failures open a destination's circuit
	// breaker for BreakerOpen; 0 means 5 and 1 minute.
	BreakerFailures int
	BreakerOpen     time.Duration
	// Rate limits each destination in the normal lane (per second, with an
	// equal burst); 0 means 20. The urgent lane is never throttled.
	Rate float64
	// Observe, when set, hears each attempt's outcome and how long the
	// sender took (the server's metrics and audit log).
	Observe func(n Notification, a *Alert, took time.Duration)
	Logger  *slog.Logger
}

// The default retry schedule: 18 attempts, the first retry after 5 s,
// doubling up to 4 h, reach 20.6 to 25.7 hours after the first attempt
// (less up to a fifth per delay at random).
const (
	DefaultAttempts   = 18
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = 4 * time.Hour
)

// Dispatcher delivers the queued notifications: it claims due deliveries,
// sends each by its contact method, and commits the outcome onto the
// alert together with the delivery's settlement, so the board shows every
// attempt and a delivery is settled exactly when its outcome is recorded.
//
// Extreme-severity alerts' deliveries take the urgent lane: claimed first,
// served by their own workers, never throttled and never held back by an
// open circuit breaker.
type Dispatcher struct {
	o      DispatcherOptions
	logger *slog.Logger

	mu       sync.Mutex
	breakers map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
	limiters map[string]*rate.Limiter

	lanes [2]chan struct{} // worker slots: normal, urgent
	wg    sync.WaitGroup   // deliveries in flight
	alarm *alarm
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	// sending is the context of every send; abort ends the sends still
	// running when Shutdown gives up waiting for them.
	sending context.Context
	abort   context.CancelFunc
}

// NewDispatcher returns a dispatcher; Run starts it.
func NewDispatcher(o DispatcherOptions) (*Dispatcher, error) {
	if o.Store == nil || o.Queue == nil || o.Publisher == nil || o.Catalog == nil {
		return nil, errors.New("alerting: dispatcher needs a Store, a Queue, a Publisher and a Catalog")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Interval = cmp0(o.Interval, time.Second)
	o.Lease = cmp0(o.Lease, 2*time.Minute)
	o.Backoff = cmp0(o.Backoff, DefaultBackoff)
	o.MaxBackoff = cmp0(o.MaxBackoff, DefaultMaxBackoff)
	o.BreakerOpen = cmp0(o.BreakerOpen, time.Minute)
	o.Attempts = cmp0(o.Attempts, DefaultAttempts)
	o.Workers = cmp0(o.Workers, 16)
	o.UrgentWorkers = cmp0(o.UrgentWorkers, 8)
	o.BreakerFailures = cmp0(o.BreakerFailures, 5)
	o.Rate = cmp0(o.Rate, 20)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	sending, abort := context.WithCancel(context.Background())
	return &Dispatcher{o: o, logger: o.Logger.With("component", "dispatcher"),
		breakers: map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{}, limiters: map[string]*rate.Limiter{},
		lanes: [2]chan struct{}{make(chan struct{}, o.Workers), make(chan struct{}, o.UrgentWorkers)},
		alarm: newAlarm(o.Interval, 0), stop: make(chan struct{}), done: make(chan struct{}),
		sending: sending, abort: abort}, nil
}

// Nudge makes Run look for due deliveries now rather than at its next
// interval: the engine and the escalator call it when they queued some.
func (d *Dispatcher) Nudge() { d.alarm.now() }

func cmp0[T int | float64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Run delivers until Shutdown: it looks for due deliveries when the
// earliest one it knows of comes due, at most every interval, and when
// nudged.
func (d *Dispatcher) Run() {
	defer close(d.done)
	defer d.wg.Wait()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, next, err := d.tick(ctx)
		if err != nil {
			d.logger.Warn("claiming deliveries failed; retrying", "err", err)
			next = time.Time{}
		}
		cancel()
		if !d.alarm.wait(d.stop, d.o.Now(), next) {
			return
		}
	}
}

// Tick claims the due deliveries there are free workers for, urgent lane
// first, and starts them; it returns how many it started. Tests call it and
// then Wait.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	started, _, err := d.tick(ctx)
	return started, err
}

// tick is Tick, also saying when the earliest delivery left in a lane it
// looked at comes due (a full lane is not looked at: its freed workers
// nudge).
func (d *Dispatcher) tick(ctx context.Context) (int, time.Time, error) {
	started := 0
	var soonest time.Time
	for _, urgent := range []bool{true, false} {
		lane := d.lanes[laneIndex(urgent)]
		free := cap(lane) - len(lane)
		if free == 0 {
			continue
		}
		ds, next, err := d.o.Queue.ClaimDeliveries(ctx, urgent, d.o.Now(), free, d.o.Lease)
		if err != nil {
			return started, time.Time{}, err
		}
		soonest = sooner(soonest, next)
		for _, dl := range ds {
			lane <- struct{}{}
			d.wg.Add(1)
			started++
			go func() {
				// A freed worker looks for more at once: the lane's
				// throughput is then bound by the work, not the interval.
				defer func() { <-lane; d.wg.Done(); d.Nudge() }()
				ctx, cancel := context.WithTimeout(d.sending, d.o.Lease/2)
				defer cancel()
				if err := d.deliver(ctx, dl); err != nil {
					d.logger.Warn("delivery failed; its lease will bring it back", "key", dl.Key, "err", err)
				}
			}()
		}
	}
	return started, soonest, nil
}

// Wait blocks until the deliveries started so far are done.
func (d *Dispatcher) Wait() { d.wg.Wait() }

func laneIndex(urgent bool) int {
	if urgent {
		return 1
	}
	return 0
}

// deliver makes one attempt at one delivery and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, dl Delivery) error {
	a, err := d.o.Store.Alert(ctx, dl.Alert)
	if ErrorCode(err) == ENOTFOUND {
		return d.o.Queue.DropDelivery(ctx, dl)
	}
	if err != nil {
		return err
	}
	n := a.Notification(dl.Key)
	if n == nil || n.Final() {
		return d.o.Queue.DropDelivery(ctx, dl)
	}
	if n.InfoRequest != "" {
		// An overdue request's step: it stands until the request is
		// answered or withdrawn, whatever the alert's state.
		if r := a.InfoRequest(n.InfoRequest); r == nil || r.State != InfoRequestOverdue {
			state := "gone"
			if r != nil {
				state = string(r.State)
			}
			return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationCancelled,
				Err: fmt.Errorf("request %s %s before delivery", n.InfoRequest, state)})
		}
	} else if a.State != StateOpen {
		// Acknowledged or resolved while the notification waited: it
		// would only wake someone for nothing.
		return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationCancelled,
			Err: fmt.Errorf("alert %s before delivery", a.State)})
	}
	catalog := d.o.Catalog.Catalog()
	contact, ok := catalog.Contact(n.Contact)
	if ok && n.InfoRequest == "" && contact.Party != "" && a.AckedBy(contact.Party) {
		// Its party acknowledged while the notification waited.
		return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationCancelled,
			Err: fmt.Errorf("party %s acknowledged before delivery", contact.Party)})
	}
	if ok && !contact.Covers(a.Zone) {
		// The contact's zones changed while the notification waited.
		return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationCancelled,
			Err: fmt.Errorf("contact %s does not cover zone %s", contact.ID, a.Zone)})
	}
	method, found := contact.Method(n.Method)
	if !ok || !found {
		return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationGaveUp,
			Err: fmt.Errorf("contact method %s/%s is no longer configured", n.Contact, n.Method)})
	}
	sender := d.o.Senders[method.Type]
	if sender == nil {
		return d.record(ctx, dl, Attempt{Key: dl.Key, State: NotificationGaveUp,
			Err: fmt.Errorf("this server has no %s delivery configured", method.Type)})
	}
	dest := string(method.Type) + " " + contact.ID + "/" + method.ID
	if ds, ok := sender.(destinationer); ok {
		dest = ds.Destination(method)
	}
	breaker, limiter := d.guards(dest)
	now := d.o.Now()
	if !dl.Urgent {
		if r := limiter.ReserveN(now, 1); r.DelayFrom(now) > 0 {
			at := now.Add(r.DelayFrom(now))
			r.CancelAt(now)
			return d.o.Queue.DeferDelivery(ctx, dl, at)
		}
	}
	done, berr := breaker.Allow()
	if berr != nil && !dl.Urgent { // open, or half-open and probing already
		return d.o.Queue.DeferDelivery(ctx, dl, now.Add(d.o.BreakerOpen/2))
	}
	m := &Message{Key: n.Key, Alert: a, Contact: contact, Method: method, Step: n.Step + 1, Repeat: n.Repeat,
		Fallback: n.Fallback, Target: n.Target, Attempt: n.Attempts + 1, SentAt: now, InfoRequest: a.InfoRequest(n.InfoRequest)}
	if d.o.PublicURL != "" {
		m.AlertURL = d.o.PublicURL + "/?alert=" + url.QueryEscape(a.ID)
		if d.o.Links != nil {
			token, exp, err := d.o.Links.Sign(m, now)
			if err != nil {
				return err
			}
			m.AckURL, m.AckExpires = d.o.PublicURL+"/ack/"+url.PathEscape(a.ID)+"/"+token, exp
		}
	}
	began := time.Now()
	err = sender.Send(ctx, m)
	took := time.Since(began)
	if berr == nil {
		done(err)
	}
	at := Attempt{Key: dl.Key, State: NotificationSent, Counted: true}
	switch {
	case err == nil:
	case IsPermanent(err):
		at.State, at.Err = NotificationGaveUp, err
	case m.Attempt >= d.o.Attempts:
		at.State, at.Err = NotificationGaveUp, fmt.Errorf("%w (gave up after %d attempts)", err, m.Attempt)
	default:
		retry := d.o.Now().Add(d.backoff(m.Attempt))
		at.State, at.Err, at.RetryAt = NotificationFailed, err, &retry
	}
	if err != nil {
		d.logger.Info("delivery attempt failed", "key", dl.Key, "destination", dest, "attempt", m.Attempt, "state", at.State, "err", err)
	}
	if d.o.Observe != nil {
		seen := *n
		seen.State, seen.Attempts = at.State, m.Attempt
		if at.Err != nil {
			seen.Error = at.Err.Error()
		}
		d.o.Observe(seen, a, took)
	}
	return d.record(ctx, dl, at)
}

// backoff is the delay after the attempt-th failure: Backoff doubled per
// attempt up to MaxBackoff, less up to a fifth at random so that
// deliveries that failed together spread out.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	b := d.o.Backoff << min(attempt-1, 30)
	if b <= 0 || b > d.o.MaxBackoff {
		b = d.o.MaxBackoff
	}
	return b - time.Duration(rand.Int64N(int64(b)/5+1))
}

// record commits an attempt's outcome onto the alert and settles the
// delivery in the same commit, then publishes the change.
func (d *Dispatcher) record(ctx context.Context, dl Delivery, at Attempt) error {
	for range maxAttempts {
		a, err := d.o.Store.Alert(ctx, dl.Alert)
		if ErrorCode(err) == ENOTFOUND {
			return d.o.Queue.DropDelivery(ctx, dl)
		}
		if err != nil {
			return err
		}
		next, ok := a.RecordAttempt(at, d.o.Now())
		if !ok {
			return d.o.Queue.DropDelivery(ctx, dl)
		}
		changes, err := d.o.Store.Commit(ctx, Commit{Alerts: []AlertChange{{Alert: next, Event: EventUpdated,
			Settle: &Settle{Delivery: dl, RetryAt: at.RetryAt}}}})
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return err
		}
		if err := d.o.Publisher.PublishChange(ctx, changes[0]); err != nil {
			d.logger.Warn("delivery outcome committed but not published", "alert", dl.Alert, "err", err)
		}
		return nil
	}
	return fmt.Errorf("alert %s is changing too fast", dl.Alert)
}

// guards returns the destination's circuit breaker and rate limiter.
func (d *Dispatcher) guards(dest string) (*gobreaker.TwoStepCircuitBreaker[struct{}], *rate.Limiter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.breakers[dest]
	if !ok {
		failures := uint32(d.o.BreakerFailures)
		b = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
			Name: dest, Timeout: d.o.BreakerOpen,
			ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
			// A refusal (4xx) means the destination is up.
			IsSuccessful: func(err error) bool { return err == nil || IsPermanent(err) },
			OnStateChange: func(name string, from, to gobreaker.State) {
				d.logger.Warn("circuit breaker changed", "destination", name, "from", from.String(), "to", to.String())
			},
		})
		d.breakers[dest] = b
	}
	l, ok := d.limiters[dest]
	if !ok {
		l = rate.NewLimiter(rate.Limit(d.o.Rate), max(1, int(d.o.Rate)))
		d.limiters[dest] = l
	}
	return b, l
}

// BreakerState says whether a destination's circuit breaker is closed,
// half-open or open.
func (d *Dispatcher) BreakerState(dest string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b, ok := d.breakers[dest]; ok {
		return b.State().String()
	}
	return gobreaker.StateClosed.String()
}

// Shutdown stops claiming and waits for the deliveries in flight. When ctx
// ends first, it aborts the sends still running, as a crash would: each
// delivery's lease brings it back to whichever dispatcher claims it next.
// Idempotent.
func (d *Dispatcher) Shutdown(ctx context.Context) error {
	d.once.Do(func() { close(d.stop) })
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		d.abort()
		return fmt.Errorf("dispatcher: %w", ctx.Err())
	}
}
