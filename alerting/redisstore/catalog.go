package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

func (s *Store) versionKey() string { return s.prefix + "config:version" }
func (s *Store) zonesKey() string   { return s.prefix + "config:zones" }
func (s *Store) partiesKey() string { return s.prefix + "config:parties" }

// PutCatalog stores zones and parties (adding or replacing by id) and bumps
// the configuration version in one transaction, so every replica reloads.
func (s *Store) PutCatalog(ctx context.Context, zones []alerting.Zone, parties []alerting.Party) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, z := range zones {
			data, err := json.Marshal(z)
			if err != nil {
				return fmt.Errorf("encode zone %s: %w", z.ID, err)
			}
			p.HSet(ctx, s.zonesKey(), z.ID, data)
		}
		for _, pt := range parties {
			data, err := json.Marshal(pt)
			if err != nil {
				return fmt.Errorf("encode party %s: %w", pt.ID, err)
			}
			p.HSet(ctx, s.partiesKey(), pt.ID, data)
		}
		p.Incr(ctx, s.versionKey())
		return nil
	})
	if err != nil {
		return unavailable("store catalog", err)
	}
	return nil
}

// CatalogVersion returns the configuration version.
func (s *Store) CatalogVersion(ctx context.Context) (int64, error) {
	v, err := s.rdb.Get(ctx, s.versionKey()).Int64()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("read config version", err)
	}
	return v, nil
}

// LoadCatalog reads the whole configuration at one version.
func (s *Store) LoadCatalog(ctx context.Context) (*alerting.Catalog, error) {
	var version *redis.StringCmd
	var zones, parties *redis.MapStringStringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		version = p.Get(ctx, s.versionKey())
		zones = p.HGetAll(ctx, s.zonesKey())
		parties = p.HGetAll(ctx, s.partiesKey())
		return nil
	})
	if err != nil && err != redis.Nil {
		return nil, unavailable("load catalog", err)
	}
	v, _ := version.Int64()
	zs, err := decodeAll[alerting.Zone](zones.Val())
	if err != nil {
		return nil, err
	}
	ps, err := decodeAll[alerting.Party](parties.Val())
	if err != nil {
		return nil, err
	}
	return alerting.NewCatalog(v, zs, ps), nil
}

func decodeAll[T any](m map[string]string) ([]T, error) {
	out := make([]T, 0, len(m))
	for id, text := range m {
		var v T
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", id, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// CatalogWatcher keeps the current catalog in memory and reloads it when the
// version in Redis moves, so reports are judged without a Redis lookup each.
type CatalogWatcher struct {
	store    *Store
	interval time.Duration
	logger   *slog.Logger
	current  atomic.Pointer[alerting.Catalog]

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

var _ alerting.CatalogSource = (*CatalogWatcher)(nil)

// WatchCatalog loads the catalog and starts polling its version every
// interval (0 means 500 ms) until Shutdown.
func WatchCatalog(ctx context.Context, s *Store, interval time.Duration, logger *slog.Logger) (*CatalogWatcher, error) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	c, err := s.LoadCatalog(ctx)
	if err != nil {
		return nil, err
	}
	w := &CatalogWatcher{store: s, interval: interval, logger: logger.With("component", "catalog"),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.current.Store(c)
	go w.run()
	return w, nil
}

// Catalog implements alerting.CatalogSource.
func (w *CatalogWatcher) Catalog() *alerting.Catalog { return w.current.Load() }

// Refresh reloads the catalog now if its version moved.
func (w *CatalogWatcher) Refresh(ctx context.Context) error {
	v, err := w.store.CatalogVersion(ctx)
	if err != nil {
		return err
	}
	if v == w.current.Load().Version {
		return nil
	}
	c, err := w.store.LoadCatalog(ctx)
	if err != nil {
		return err
	}
	w.current.Store(c)
	w.logger.Info("configuration reloaded", "version", c.Version, "zones", len(c.Zones()), "parties", len(c.Parties()))
	return nil
}

func (w *CatalogWatcher) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), w.interval*4)
			if err := w.Refresh(ctx); err != nil {
				w.logger.Warn("configuration reload failed; keeping the last one", "err", err)
			}
			cancel()
		}
	}
}

// Shutdown stops polling. It is safe to call more than once.
func (w *CatalogWatcher) Shutdown(ctx context.Context) error {
	w.stopOnce.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
