package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// Escalation timers: alerting.Timers.

// timerAt is when the escalator must next look at an alert (its next
// escalation step, or a request for information's deadline), or nil.
func timerAt(a *alerting.Alert) *time.Time { return a.TimerAt() }

func (s *Store) timersKey() string { return s.prefix + "timers" }

// ClaimDue implements alerting.Timers.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, time.Time, error) {
	out, err := claimScript.Run(ctx, s.rdb, []string{s.timersKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, time.Time{}, unavailable("claim timers", err)
	}
	next, ids := claimed(out)
	return ids, next, nil
}

// claimed splits what a claim script returned into when the earliest
// timer left comes due (zero when none is) and what it claimed.
func claimed(out []string) (time.Time, []string) {
	if len(out) == 0 {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseFloat(out[0], 64)
	if err != nil {
		return time.Time{}, out[1:]
	}
	return time.UnixMilli(int64(ms)), out[1:]
}

// OnTimer sets the function called with the due time of every escalation
// or source timer the store sets (Escalator.WakeAt), once the timer is
// set, so that the escalator looks when it comes due rather than at its
// next idle look.
func (s *Store) OnTimer(fn func(at time.Time)) { s.timerSet.Store(&fn) }

// timerSetAt tells OnTimer's function of a timer set to come due at at.
func (s *Store) timerSetAt(at time.Time) {
	if fn := s.timerSet.Load(); fn != nil {
		(*fn)(at)
	}
}

// SetTimer implements alerting.Timers: nil removes the alert's timer.
func (s *Store) SetTimer(ctx context.Context, alertID string, at *time.Time) error {
	var err error
	if at == nil {
		err = s.rdb.ZRem(ctx, s.timersKey(), alertID).Err()
	} else {
		err = s.rdb.ZAdd(ctx, s.timersKey(), redis.Z{Score: float64(at.UnixMilli()), Member: alertID}).Err()
	}
	if err != nil {
		return unavailable("set timer", err)
	}
	if at != nil {
		s.timerSetAt(*at)
	}
	return nil
}

// Timers returns how many escalation timers are pending.
func (s *Store) Timers(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, s.timersKey()).Result()
	if err != nil {
		return 0, unavailable("count timers", err)
	}
	return n, nil
}
