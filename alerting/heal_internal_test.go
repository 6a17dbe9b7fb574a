package alerting

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestAKickDuringACheckIsNotLost: when the store restarts again while the
// healer checks it, the fence the check opened trips and Kick is called
// before the check ends. The healer must check again. It used to take the
// check as done: the fence stayed closed and every tick probed it in vain,
// so truceline stayed unready ("being checked against the streams") until
// it was restarted. Found by TestDocumentedExamplesAreRealAnswers
// (cmd/truceline/app), which restarts Redis twice in a few seconds.
func TestAKickDuringACheckIsNotLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	catalog, err := NewCatalog(1, Config{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	store := &kickedStore{}
	// Reconcile runs at the end of a check, once the fence is open: hold
	// the first check there.
	holding, release := make(chan struct{}, 1), make(chan struct{})
	h, err := NewHealer(HealerOptions{Store: store, Journal: emptyJournal{}, Engine: &Engine{}, Catalog: fixedCatalog{catalog},
		Reconcile: func(context.Context) error {
			select {
			case holding <- struct{}{}:
			default:
			}
			<-release
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	checked := make(chan error, 1)
	go func() { checked <- h.Verify(ctx) }()
	<-holding
	// A script finds another incarnation: the store closes its fence and
	// kicks the healer.
	store.open.Store(false)
	h.Kick()
	close(release)
	if err := <-checked; err != nil {
		t.Fatal(err)
	}
	before := store.incarnations.Load()
	_ = h.tick(ctx)
	if store.incarnations.Load() != before+1 {
		t.Fatal("after a Kick during a check, the next tick did not check the store again")
	}
	before = store.incarnations.Load()
	_ = h.tick(ctx)
	if store.incarnations.Load() != before {
		t.Fatal("a check with no Kick during it did not make the store verified")
	}
}

// kickedStore is a store whose fence, once tripped, stays closed until a
// check opens it again.
type kickedStore struct {
	HealStore    // what the test does not reach
	incarnations atomic.Int64
	open         atomic.Bool
}

func (s *kickedStore) Incarnation(context.Context) (string, bool, error) {
	s.incarnations.Add(1)
	return "run", true, nil
}
func (s *kickedStore) OpenFence(string, []string)                          { s.open.Store(true) }
func (s *kickedStore) Checkpoint(context.Context) (uint64, error)          { return 0, nil }
func (s *kickedStore) SetCheckpoint(context.Context, string, uint64) error { return nil }
func (s *kickedStore) Probe(context.Context) error {
	if !s.open.Load() {
		return errors.New("the fence is closed")
	}
	return nil
}
func (s *kickedStore) StoredSeq(context.Context, string) (int64, error) { return 0, nil }

type emptyJournal struct{}

func (emptyJournal) LastSeq(context.Context, string) (int64, error) { return 0, nil }
func (emptyJournal) Changes(context.Context, string, time.Time, func(Change) error) error {
	return nil
}
func (emptyJournal) Reports(context.Context, string, uint64, func(Submission) error) error {
	return nil
}
func (emptyJournal) AckFloor(context.Context) (uint64, error) { return 0, nil }

type fixedCatalog struct{ c *Catalog }

func (c fixedCatalog) Catalog() *Catalog { return c.c }
