package redisstore_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// warnings counts the records at Warn or above that a logger handles.
type warnings struct{ n atomic.Int64 }

func (w *warnings) Enabled(context.Context, slog.Level) bool { return true }
func (w *warnings) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		w.n.Add(1)
	}
	return nil
}
func (w *warnings) WithAttrs([]slog.Attr) slog.Handler { return w }
func (w *warnings) WithGroup(string) slog.Handler      { return w }

// TestRefreshesDuringAChangeSeeNoLostVersion: Refresh calls that overlap
// a configuration change, and each other, never take the change for Redis
// going back in time (which stops the store until it is checked against
// the streams), and the newest catalog is the one in force.
func TestRefreshesDuringAChangeSeeNoLostVersion(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	warned := &warnings{}
	w, err := redisstore.WatchCatalog(ctx, f.store, time.Hour, 0, slog.New(warned))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(ctx) })
	for i := range 40 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 5 {
					_ = w.Refresh(ctx)
				}
			})
		}
		v, ps, err := f.store.ApplyConfig(ctx, alerting.Config{Zones: []alerting.Zone{{ID: fmt.Sprintf("zone-%d", i), Name: "Zone"}}}, false)
		if err != nil || len(ps) > 0 {
			t.Fatal(err, ps)
		}
		if err := w.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if got := w.Catalog().Version; got != v {
			t.Fatalf("after change %d and the refreshes around it, version %d is in force, want %d", i, got, v)
		}
	}
	if n := warned.n.Load(); n > 0 {
		t.Fatalf("%d warnings while refreshes overlapped changes (the version seemed to go back)", n)
	}
}
