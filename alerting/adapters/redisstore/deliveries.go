package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// The delivery queue: alerting.DeliveryQueue.

var (
	_ alerting.Store  = (*Store)(nil)
	_ alerting.Timers = (*Store)(nil)
)

// Delivery queue: a hash of deliveries by key and a sorted set per lane,
// scored by when each is due.
func (s *Store) deliveriesKey() string { return s.prefix + "deliveries" }

func (s *Store) laneKey(urgent bool) string {
	if urgent {
		return s.prefix + "deliveries:urgent"
	}
	return s.prefix + "deliveries:normal"
}

var _ alerting.DeliveryQueue = (*Store)(nil)

// ClaimDeliveries implements alerting.DeliveryQueue: it leases up to limit
// due deliveries of one lane, so that one replica works on each at a time.
func (s *Store) ClaimDeliveries(ctx context.Context, urgent bool, now time.Time, limit int, lease time.Duration) ([]alerting.Delivery, time.Time, error) {
	res, err := claimDeliveriesScript.Run(ctx, s.rdb, []string{s.laneKey(urgent), s.deliveriesKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, time.Time{}, unavailable("claim deliveries", err)
	}
	next, jobs := claimed(res)
	out := make([]alerting.Delivery, 0, len(jobs))
	for _, j := range jobs {
		var d alerting.Delivery
		if err := json.Unmarshal([]byte(j), &d); err != nil {
			return nil, time.Time{}, fmt.Errorf("decode delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, next, nil
}

// DeferDelivery implements alerting.DeliveryQueue: the delivery comes due
// again at at, without an attempt recorded.
func (s *Store) DeferDelivery(ctx context.Context, d alerting.Delivery, at time.Time) error {
	if err := s.rdb.ZAddXX(ctx, s.laneKey(d.Urgent), redis.Z{Score: float64(at.UnixMilli()), Member: d.Key}).Err(); err != nil {
		return unavailable("defer delivery "+d.Key, err)
	}
	return nil
}

// DropDelivery implements alerting.DeliveryQueue: it takes a delivery whose
// alert or notification is gone off the queue.
func (s *Store) DropDelivery(ctx context.Context, d alerting.Delivery) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.laneKey(d.Urgent), d.Key)
		p.HDel(ctx, s.deliveriesKey(), d.Key)
		return nil
	})
	if err != nil {
		return unavailable("drop delivery "+d.Key, err)
	}
	return nil
}

// QueuedDeliveries says how many deliveries wait in each lane, due or not.
func (s *Store) QueuedDeliveries(ctx context.Context) (normal, urgent int64, err error) {
	var n, u *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		n, u = p.ZCard(ctx, s.laneKey(false)), p.ZCard(ctx, s.laneKey(true))
		return nil
	})
	if err != nil {
		return 0, 0, unavailable("count deliveries", err)
	}
	return n.Val(), u.Val(), nil
}
