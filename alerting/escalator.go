package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Timers keeps when each alert's next escalation step is due. The store
// sets an alert's timer with every commit of the alert; claiming a due timer
// leases it, by moving it lease into the future, so that one replica works
// on it at a time and another takes it over if that replica dies.
type Timers interface {
	// ClaimDue leases up to limit due timers and says when the earliest
	// timer left comes due (zero when there is none).
	ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, time.Time, error)
	SetTimer(ctx context.Context, alertID string, at *time.Time) error
}

// EscalatorOptions configures an Escalator. Store, Timers, Publisher and
// Catalog are required. A Publisher that only queues (broker.Later) keeps
// escalation from waiting for NATS.
type EscalatorOptions struct {
	Store     Store
	Timers    Timers
	Publisher Publisher
	Catalog   CatalogSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Interval is the longest Run waits between looks for due timers; 0
	// means 1 s. It looks sooner when a timer it knows of comes due, and
	// when WakeAt asks for an earlier look. Timers that only another
	// replica knows of (one that died holding them) wait at most this long.
	Interval time.Duration
	// Lease is how long a claimed timer is held; 0 means 30 s.
	Lease time.Duration
	// Sources, when set, keeps the monitored sources: each tick also
	// looks at those whose timers are due (see Monitor.Watch).
	Sources Sources
	// NewID makes the ids of the alerts it opens; nil means NewAlertID.
	NewID func() string
	// Queued, when set, is called after a step queued deliveries
	// (Dispatcher.Nudge), so they go out without waiting for a poll.
	Queued func()
	// Overdue, when set, is called once for every request for
	// information the escalator found overdue, after the commit (the
	// audit log records it).
	Overdue func(a *Alert, r InfoRequest)
	Logger  *slog.Logger
}

// Escalator fires due escalation steps. Every replica runs one; a step fires
// once because firing commits the alert at its version and moves its timer
// in the same step.
type Escalator struct {
	o              EscalatorOptions
	newID          func() string
	lastRegimes    time.Time // when regimes' ends were last looked at
	regimesVersion int64     // the configuration they were looked at in
	lastSweep      time.Time // when every monitor was last made sure to be watched
	sweepVersion   int64     // the configuration it was done in
	logger         *slog.Logger
	alarm          *alarm
	stop           chan struct{}
	done           chan struct{}
	once           sync.Once
}

// NewEscalator returns an escalator; Run starts it.
func NewEscalator(o EscalatorOptions) (*Escalator, error) {
	if o.Store == nil || o.Timers == nil || o.Publisher == nil || o.Catalog == nil {
		return nil, errors.New("alerting: escalator needs a Store, Timers, a Publisher and a Catalog")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.NewID == nil {
		o.NewID = NewAlertID
	}
	return &Escalator{o: o, newID: o.NewID, logger: o.Logger.With("component", "escalator"), alarm: newAlarm(o.Interval, wakeGap),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Run fires due steps as they come due until Shutdown: it sleeps until the
// earliest timer it knows of, at most the interval, or until WakeAt.
func (e *Escalator) Run() {
	defer close(e.done)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), e.o.Lease)
		_, next, err := e.tick(ctx)
		if err != nil {
			e.logger.Warn("escalation tick failed; retrying", "err", err)
			next = time.Time{}
		}
		cancel()
		if !e.alarm.wait(e.stop, e.o.Now(), next) {
			return
		}
	}
}

// wakeGap is the least time between two of the escalator's looks when
// woken early: heartbeats, with every report of a monitored source, each
// make a source's timer due at once.
const wakeGap = 5 * time.Millisecond

// WakeAt makes Run look for due timers no later than at. The store calls it
// with every timer it sets (redisstore.Store.OnTimer), so a step due sooner
// than Run's next look is not late.
func (e *Escalator) WakeAt(at time.Time) { e.alarm.at(at) }

// regimeCheckInterval is how often regimes' ends are looked at.
const regimeCheckInterval = 30 * time.Second

// announceRegimeEnds raises, once per regime, zone and end, an
// informational alert when a regime's end is near.
func (e *Escalator) announceRegimeEnds(ctx context.Context, now time.Time) error {
	catalog := e.o.Catalog.Catalog()
	cfg := catalog.Config()
	for i := range cfg.Regimes {
		r := &cfg.Regimes[i]
		end, ending := r.Ending(now)
		if !ending {
			continue
		}
		for _, zone := range catalog.Zones() {
			if !r.Covers(zone.ID) {
				continue
			}
			key := RegimeEndKey(r, zone.ID, end)
			existing, err := e.o.Store.GroupAlert(ctx, key)
			if err != nil {
				return err
			}
			if existing != nil {
				continue
			}
			a := RegimeEndingAlert(e.newID(), r, zone, end, now)
			changes, err := e.o.Store.Commit(ctx, Commit{Alerts: []AlertChange{{Alert: a, Event: EventOpened,
				GroupKey: key, GroupTTL: end.Sub(now) + 7*24*time.Hour}}})
			if errors.Is(err, ErrStale) {
				continue // another replica announced it first
			}
			if err != nil {
				return err
			}
			if err := e.o.Publisher.PublishChange(ctx, changes[0]); err != nil {
				e.logger.Warn("regime end announced but not published", "regime", r.ID, "zone", zone.ID, "err", err)
			}
		}
	}
	return nil
}

// escalationWorkers is how many alerts one tick escalates at once.
const escalationWorkers = 16

// Tick fires every step due now and returns how many alerts it escalated.
// Tests drive it with a fake clock.
func (e *Escalator) Tick(ctx context.Context) (int, error) {
	fired, _, err := e.tick(ctx)
	return fired, err
}

// tick is Tick, also saying when the earliest timer left comes due (zero:
// none, or not known).
func (e *Escalator) tick(ctx context.Context) (int, time.Time, error) {
	// Regimes' ends are looked at every regimeCheckInterval, and at once
	// when the configuration changed: a regime added or moved close to its
	// end is announced without waiting.
	version := e.o.Catalog.Catalog().Version
	if now := e.o.Now(); now.Sub(e.lastRegimes) >= regimeCheckInterval || version != e.regimesVersion {
		if err := e.announceRegimeEnds(ctx, now); err != nil {
			e.logger.Warn("checking regimes' ends failed; retrying", "err", err)
		} else {
			e.lastRegimes, e.regimesVersion = now, version
		}
	}
	var sourcesNext time.Time
	if e.o.Sources != nil {
		var err error
		if sourcesNext, err = e.watchSources(ctx); err != nil {
			e.logger.Warn("watching sources failed; retrying", "err", err)
		}
	}
	fired := 0
	for {
		ids, next, err := e.o.Timers.ClaimDue(ctx, e.o.Now(), 256, e.o.Lease)
		if err != nil {
			return fired, time.Time{}, err
		}
		// Alerts escalate independently: overlap their round trips.
		var wg sync.WaitGroup
		var mu sync.Mutex
		work := make(chan string)
		for range min(len(ids), escalationWorkers) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range work {
					ok, err := e.fire(ctx, id)
					if err != nil {
						e.logger.Warn("escalation failed; the timer's lease will bring it back", "alert", id, "err", err)
						continue
					}
					if ok {
						mu.Lock()
						fired++
						mu.Unlock()
					}
				}
			}()
		}
		for _, id := range ids {
			work <- id
		}
		close(work)
		wg.Wait()
		if len(ids) < 256 {
			return fired, sooner(next, sourcesNext), nil
		}
	}
}

// fire escalates one alert if a step is due, and otherwise puts its timer
// back where the alert says.
func (e *Escalator) fire(ctx context.Context, id string) (bool, error) {
	for range maxAttempts {
		a, err := e.o.Store.Alert(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			return false, e.o.Timers.SetTimer(ctx, id, nil)
		}
		if err != nil {
			return false, err
		}
		catalog := e.o.Catalog.Catalog()
		policy, ok := catalog.Policy(a.Policy)
		next, event, due := a.Fire(policy, ok, catalog, e.o.Now())
		if !due {
			at := a.TimerAt()
			if !ok {
				// No policy (any more): only the requests for information
				// need the escalator.
				at = a.infoNextAt()
			}
			return false, e.o.Timers.SetTimer(ctx, id, at)
		}
		queued := Outbox(a, next)
		changes, err := e.o.Store.Commit(ctx, Commit{Alerts: []AlertChange{{Alert: next, Event: event, Enqueue: queued}}})
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return false, err
		}
		if len(queued) > 0 && e.o.Queued != nil {
			e.o.Queued()
		}
		if e.o.Overdue != nil {
			// Only the replica whose commit took the request from open to
			// overdue gets here with it: the commit is made at the alert's
			// version.
			for _, r := range NewlyOverdue(a, next) {
				e.o.Overdue(next, r)
			}
		}
		if err := e.o.Publisher.PublishChange(ctx, changes[0]); err != nil {
			e.logger.Warn("escalation committed but not published", "alert", id, "err", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("alert %s is changing too fast", id)
}

// Shutdown stops the escalator after its current tick. Idempotent.
func (e *Escalator) Shutdown(ctx context.Context) error {
	e.once.Do(func() { close(e.stop) })
	select {
	case <-e.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("escalator: %w", ctx.Err())
	}
}
