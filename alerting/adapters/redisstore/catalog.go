package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

func (s *Store) versionKey() string         { return s.prefix + "config:version" }
func (s *Store) kindKey(kind string) string { return s.prefix + "config:" + kind }

// CatalogVersion returns the configuration version.
func (s *Store) CatalogVersion(ctx context.Context) (int64, error) {
	v, err := s.rdb.Get(ctx, s.versionKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("read config version", err)
	}
	return v, nil
}

// LoadConfig reads every configuration object at one version.
func (s *Store) LoadConfig(ctx context.Context) (alerting.Config, int64, error) {
	var version *redis.StringCmd
	kinds := make(map[string]*redis.MapStringStringCmd, len(alerting.Kinds))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		version = p.Get(ctx, s.versionKey())
		for _, k := range alerting.Kinds {
			kinds[k] = p.HGetAll(ctx, s.kindKey(k))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return alerting.Config{}, 0, unavailable("load configuration", err)
	}
	v, _ := version.Int64()
	var objects []alerting.Object
	for _, k := range alerting.Kinds {
		m := kinds[k].Val()
		ids := make([]string, 0, len(m))
		for id := range m {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			objects = append(objects, alerting.Object{Kind: k, ID: id, JSON: json.RawMessage(m[id])})
		}
	}
	cfg, err := alerting.ConfigOf(objects)
	if err != nil {
		return cfg, 0, fmt.Errorf("decode stored configuration: %w", err)
	}
	return cfg, v, nil
}

// LoadCatalog reads the configuration and compiles it; defaultWindow is the
// window of the built-in rule used when no rule is configured.
func (s *Store) LoadCatalog(ctx context.Context, defaultWindow time.Duration) (*alerting.Catalog, error) {
	cfg, v, err := s.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	return alerting.NewCatalog(v, cfg, defaultWindow)
}

// ApplyConfig adds or replaces (by id) the objects of cfg, provided the
// whole configuration is valid afterwards, and bumps the version so every
// replica reloads. Problems name paths into cfg, so a caller can point at the
// line of the file cfg came from. With dryRun nothing is written.
//
// A contact method's secret given as alerting.RedactedSecret keeps the one
// stored, so what the API shows can be applied back.
func (s *Store) ApplyConfig(ctx context.Context, cfg alerting.Config, dryRun bool) (int64, []alerting.Problem, error) {
	var objects []alerting.Object
	return s.changeConfig(ctx, dryRun, func(current alerting.Config) (alerting.Config, map[string]int, error) {
		add := alerting.KeepSecrets(current, cfg)
		var err error
		if objects, err = add.Objects(); err != nil {
			return alerting.Config{}, nil, err
		}
		return alerting.MergeConfig(current, add)
	}, func(p redis.Pipeliner) {
		for _, o := range objects {
			p.HSet(ctx, s.kindKey(o.Kind), o.ID, []byte(o.JSON))
			if o.Kind == alerting.KindRules {
				s.clearRuleFault(ctx, p, o.ID) // a new condition starts with a clean slate
			}
		}
	})
}

// DeleteConfig removes one object, provided nothing else refers to it.
func (s *Store) DeleteConfig(ctx context.Context, kind, id string) (int64, []alerting.Problem, error) {
	if !slices.Contains(alerting.Kinds, kind) {
		return 0, nil, alerting.Errorf(alerting.ENOTFOUND, "no configuration kind %q", kind)
	}
	exists, err := s.rdb.HExists(ctx, s.kindKey(kind), id).Result()
	if err != nil {
		return 0, nil, unavailable("read configuration", err)
	}
	if !exists {
		return 0, nil, alerting.Errorf(alerting.ENOTFOUND, "no %s %q", strings.TrimSuffix(kind, "s"), id)
	}
	return s.changeConfig(ctx, false, func(current alerting.Config) (alerting.Config, map[string]int, error) {
		next, err := current.Without(kind, id)
		return next, nil, err
	}, func(p redis.Pipeliner) {
		p.HDel(ctx, s.kindKey(kind), id)
		if kind == alerting.KindRules {
			s.clearRuleFault(ctx, p, id)
		}
	})
}

// changeConfig validates the configuration change would make and writes it
// in a transaction that fails if the version moved meanwhile (then it
// tries again).
func (s *Store) changeConfig(ctx context.Context, dryRun bool, change func(alerting.Config) (alerting.Config, map[string]int, error),
	write func(redis.Pipeliner)) (int64, []alerting.Problem, error) {
	for range 10 {
		var version int64
		var problems []alerting.Problem
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			current, v, err := s.LoadConfig(ctx)
			if err != nil {
				return err
			}
			next, offsets, err := change(current)
			if err != nil {
				return err
			}
			if problems = relocate(next.Validate(), offsets); len(problems) > 0 || dryRun {
				version = v
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				write(p)
				p.Incr(ctx, s.versionKey())
				return nil
			})
			version = v + 1
			return err
		}, s.versionKey())
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			var ae *alerting.Error
			if errors.As(err, &ae) {
				return 0, nil, err
			}
			return 0, nil, unavailable("change configuration", err)
		}
		return version, problems, nil
	}
	return 0, nil, alerting.Errorf(alerting.ECONFLICT, "the configuration is changing too fast; try again")
}

var problemPath = regexp.MustCompile(`^\$\.([a-z]+)\[(\d+)\](.*)$`)

// relocate rewrites problem paths from the merged configuration's indexes
// to the applied file's ($.rules[5] → $.rules[1] when four rules were kept
// before it). Problems in kept objects keep their path, marked as stored.
func relocate(ps []alerting.Problem, offsets map[string]int) []alerting.Problem {
	if offsets == nil {
		return ps
	}
	for i, p := range ps {
		m := problemPath.FindStringSubmatch(p.Path)
		if m == nil {
			continue
		}
		kind, rest := m[1], m[3]
		idx, _ := strconv.Atoi(m[2])
		if off := offsets[kind]; idx >= off {
			ps[i].Path = fmt.Sprintf("$.%s[%d]%s", kind, idx-off, rest)
		} else {
			ps[i].Path = "stored " + p.Path
		}
	}
	return ps
}

// CatalogWatcher keeps the current catalog in memory and reloads it when the
// version in Redis moves, so reports are judged without a Redis lookup each.
type CatalogWatcher struct {
	store    *Store
	interval time.Duration
	window   time.Duration
	logger   *slog.Logger
	current  atomic.Pointer[alerting.Catalog]
	behind   atomic.Int64 // the lower version last found in Redis, said once

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

var _ alerting.CatalogSource = (*CatalogWatcher)(nil)

// WatchCatalog loads the catalog and starts polling its version every
// interval (0 means 500 ms) until Shutdown. defaultWindow is the window of
// the built-in rule used while no rule is configured.
func WatchCatalog(ctx context.Context, s *Store, interval, defaultWindow time.Duration, logger *slog.Logger) (*CatalogWatcher, error) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	c, err := s.LoadCatalog(ctx, defaultWindow)
	if err != nil {
		return nil, err
	}
	w := &CatalogWatcher{store: s, interval: interval, window: defaultWindow, logger: logger.With("component", "catalog"),
		stop: make(chan struct{}), done: make(chan struct{})}
	w.current.Store(c)
	go w.run()
	return w, nil
}

// Catalog implements alerting.CatalogSource.
func (w *CatalogWatcher) Catalog() *alerting.Catalog { return w.current.Load() }

// Refresh reloads the catalog now if its version moved.
func (w *CatalogWatcher) Refresh(ctx context.Context) error {
	// The version in force is read before Redis's: another Refresh may put
	// a newer catalog in force meanwhile, and a version read from Redis
	// after this one is lower only if Redis lost changes.
	current := w.current.Load().Version
	v, err := w.store.CatalogVersion(ctx)
	if err != nil {
		return err
	}
	if v == current {
		return nil
	}
	if v < current {
		// Versions only grow: Redis went back in time. Keep the
		// configuration in force until it is restored from the streams.
		if w.behind.Swap(v) != v {
			w.logger.Warn("the configuration version went back: Redis lost configuration changes; keeping the one in force until it is restored from the streams",
				"in_force", current, "redis", v)
			w.store.trip()
		}
		return nil
	}
	c, err := w.store.LoadCatalog(ctx, w.window)
	if err != nil {
		return err
	}
	// Keep the newer of this catalog and one another Refresh loaded.
	for {
		old := w.current.Load()
		if old.Version >= c.Version {
			return nil
		}
		if w.current.CompareAndSwap(old, c) {
			break
		}
	}
	w.behind.Store(0)
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
