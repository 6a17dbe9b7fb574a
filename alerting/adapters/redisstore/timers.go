package redisstore

import (
	"context"
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
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, error) {
	ids, err := claimScript.Run(ctx, s.rdb, []string{s.timersKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, unavailable("claim timers", err)
	}
	return ids, nil
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
