package alerting

import (
	"math"
	"sync/atomic"
	"time"
)

// alarm paces a loop that looks for due work in Redis (the escalator's
// timers, the dispatcher's deliveries): the loop sleeps until the earliest
// due time it learnt from its last look, or at most its interval, and
// anyone who sets an earlier due time wakes it. Idle, a replica looks once
// an interval; busy, it looks when something comes due rather than on a
// fixed beat, so work is neither late by a tick nor polled for when there
// is none.
type alarm struct {
	interval time.Duration
	// gap is the least time between the starts of two looks when woken
	// early, so that a stream of wake-ups (a heartbeat with every report)
	// costs at most one look per gap.
	gap time.Duration
	// planned is when the loop next looks, in Unix ns; math.MaxInt64 while
	// it looks, so that a due time set meanwhile always wakes it again.
	planned atomic.Int64
	kick    chan struct{}
	timer   *time.Timer
	looked  time.Time // when the last look started
}

func newAlarm(interval, gap time.Duration) *alarm {
	a := &alarm{interval: interval, gap: gap, kick: make(chan struct{}, 1), timer: time.NewTimer(interval), looked: time.Now()}
	a.planned.Store(math.MaxInt64)
	return a
}

// at makes the loop look no later than t.
func (a *alarm) at(t time.Time) {
	if t.UnixNano() < a.planned.Load() {
		a.now()
	}
}

// now makes the loop look at once.
func (a *alarm) now() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// wait sleeps until next (zero: nothing is due), at most the interval,
// unless woken sooner; now is next's clock. It returns false when stop is
// closed.
func (a *alarm) wait(stop <-chan struct{}, now, next time.Time) bool {
	d := a.interval
	if !next.IsZero() {
		d = max(0, min(d, next.Sub(now)))
	}
	a.planned.Store(time.Now().Add(d).UnixNano())
	a.timer.Reset(d)
	select {
	case <-stop:
		return false
	case <-a.timer.C:
	case <-a.kick:
		if rest := a.gap - time.Since(a.looked); rest > 0 {
			a.timer.Reset(rest)
			select {
			case <-stop:
				return false
			case <-a.timer.C:
			}
		}
	}
	a.planned.Store(math.MaxInt64)
	a.looked = time.Now()
	return true
}

// sooner is the earlier of two due times, zero meaning none.
func sooner(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}
