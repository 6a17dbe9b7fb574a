package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// Options configures a Store. Client is required.
type Options struct {
	Client redis.UniversalClient
	// Prefix starts every key; "" means "tl:". Several truceline
	// deployments can share one Redis with different prefixes.
	Prefix string
	// HistoryLimit is how many recent changes each zone keeps for clients
	// that resume; 0 means 2000.
	HistoryLimit int
	// MaxResume is the most missed changes a resume may replay before the
	// client gets a snapshot instead; 0 means 1000.
	MaxResume int
	// Fence, when set, keeps the store from writing alert state or serving
	// zone history until a Healer has checked this Redis against the
	// streams, and again whenever Redis restarts or is wiped (fence.go).
	// Off, the store trusts Redis as it finds it (tests, tools).
	Fence bool
}

// Store is the Redis implementation of alerting.Store, and the history and
// snapshots the WebSocket gateway serves.
type Store struct {
	rdb          redis.UniversalClient
	prefix       string
	historyLimit int
	maxResume    int
	groups       groupCache
	fence        fence
	timerSet     atomic.Pointer[func(time.Time)] // OnTimer
}

// New returns a Store.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redisstore: Options.Client is required")
	}
	s := &Store{rdb: o.Client, prefix: o.Prefix, historyLimit: o.HistoryLimit, maxResume: o.MaxResume}
	s.fence.on = o.Fence
	if s.prefix == "" {
		s.prefix = "tl:"
	}
	if s.historyLimit <= 0 {
		s.historyLimit = 2000
	}
	if s.maxResume <= 0 {
		s.maxResume = 1000
	}
	return s, nil
}

// Keys. Zone ids are [a-z0-9-], report and alert ids [A-Za-z0-9._:-], so
// none can forge another key's shape.
func (s *Store) alertKey(id string) string        { return s.prefix + "alert:" + id }
func (s *Store) alertReportsKey(id string) string { return s.prefix + "alert:" + id + ":reports" }
func (s *Store) reportKey(id string) string       { return s.prefix + "report:" + id }
func (s *Store) pendingKey(key string) string     { return s.prefix + "pending:" + key }
func (s *Store) groupKey(key string) string       { return s.prefix + "group:" + key }
func (s *Store) zoneKey(zone, k string) string    { return s.prefix + "zone:" + zone + ":" + k }

// unavailable reports a failed Redis call as the application error
// "unavailable" (HTTP 503, a NATS redelivery), keeping the cause for logs.
func unavailable(op string, err error) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "the state store (Redis) is unavailable; try again", Cause: fmt.Errorf("%s: %w", op, err)}
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("redis ping", err)
	}
	return nil
}
