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
func (emptyJournal) Reports(context.Context, string, uint64, uint64, func(Submission) error) error {
	return nil
}
func (emptyJournal) AckFloor(context.Context) (uint64, error)  { return 0, nil }
func (emptyJournal) Delivered(context.Context) (uint64, error) { return 0, nil }

type fixedCatalog struct{ c *Catalog }

func (c fixedCatalog) Catalog() *Catalog { return c.c }

// TestRedoneDeliveriesNudgeTheDispatcher: when a heal redoes a change
// whose alert still has a notification to send, the dispatcher is nudged
// (Queued), so the notification goes out now rather than at the
// dispatcher's next look; a heal whose changes queue nothing, or that
// another replica did first, does not nudge it.
func TestRedoneDeliveriesNudgeTheDispatcher(t *testing.T) {
	t.Parallel()
	alert := func(id string, notifications ...Notification) *Alert {
		return &Alert{ID: id, Zone: "aleppo", Version: 1, Notifications: notifications}
	}
	pending := Notification{Key: "n-1", Target: "duty", State: NotificationPending}
	sent := Notification{Key: "n-2", Target: "duty", State: NotificationSent}
	for _, tc := range []struct {
		name    string
		changes []Change
		already bool // another replica redid every change first
		nudged  bool
	}{
		{"a notification still to send", []Change{{Seq: 1, Zone: "aleppo", Alert: alert("a-1")}, {Seq: 2, Zone: "aleppo", Alert: alert("a-2", sent, pending)}}, false, true},
		{"every notification sent", []Change{{Seq: 1, Zone: "aleppo", Alert: alert("a-1", sent)}}, false, false},
		{"redone by another replica first", []Change{{Seq: 1, Zone: "aleppo", Alert: alert("a-1", pending)}}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &redoStore{already: tc.already}
			nudges := 0
			h, err := NewHealer(HealerOptions{Store: store, Journal: changesJournal{tc.changes}, Engine: &Engine{},
				Catalog: fixedCatalog{}, Queued: func() { nudges++ }})
			if err != nil {
				t.Fatal(err)
			}
			n, err := h.redoFrom(context.Background(), "run", "aleppo", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			want := len(tc.changes)
			if tc.already {
				want = 0
			}
			if n != want {
				t.Errorf("%d changes counted as redone, want %d", n, want)
			}
			if got := nudges > 0; got != tc.nudged {
				t.Errorf("the dispatcher nudged %d times, want nudged: %v", nudges, tc.nudged)
			}
		})
	}
}

// redoStore is a store that has no change of the zone and takes every
// change redone, or finds each already redone by another replica.
type redoStore struct {
	HealStore // what the test does not reach
	already   bool
}

func (s *redoStore) StoredSeq(context.Context, string) (int64, error) { return 0, nil }
func (s *redoStore) Redo(_ context.Context, _ string, cs []Commit) ([][]Change, error) {
	done := make([][]Change, len(cs))
	for i, c := range cs {
		seq := c.Alerts[0].Seq
		if s.already {
			seq = 0
		}
		done[i] = []Change{{Seq: seq, Zone: c.Alerts[0].Alert.Zone, Alert: c.Alerts[0].Alert}}
	}
	return done, nil
}

// changesJournal is a stream that holds the changes given.
type changesJournal struct{ changes []Change }

func (j changesJournal) LastSeq(context.Context, string) (int64, error) {
	return int64(len(j.changes)), nil
}
func (j changesJournal) Changes(_ context.Context, _ string, _ time.Time, fn func(Change) error) error {
	for _, c := range j.changes {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}
func (changesJournal) Reports(context.Context, string, uint64, uint64, func(Submission) error) error {
	return nil
}
func (changesJournal) AckFloor(context.Context) (uint64, error)  { return 0, nil }
func (changesJournal) Delivered(context.Context) (uint64, error) { return 0, nil }

// TestAStartWaitsOutAStoreThatDoesNotAnswerInTime: the first check of a
// starting process is made again while the store or the streams are
// unavailable, and fails at once on any other error or when patience runs
// out.
func TestAStartWaitsOutAStoreThatDoesNotAnswerInTime(t *testing.T) {
	t.Parallel()
	catalog, err := NewCatalog(1, Config{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		fails    int64
		code     string
		patience time.Duration
		ok       bool
		checks   int64
	}{
		{"unavailable twice", 2, EUNAVAILABLE, time.Minute, true, 3},
		{"unavailable past patience", 2, EUNAVAILABLE, 0, false, 1},
		{"another failure", 2, EINTERNAL, time.Minute, false, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store := &slowStore{fails: c.fails, code: c.code}
			store.open.Store(true)
			h, err := NewHealer(HealerOptions{Store: store, Journal: emptyJournal{}, Engine: &Engine{}, Catalog: fixedCatalog{catalog}})
			if err != nil {
				t.Fatal(err)
			}
			err = h.VerifyAtStart(context.Background(), c.patience)
			if (err == nil) != c.ok {
				t.Fatalf("VerifyAtStart = %v, want success %v", err, c.ok)
			}
			if n := store.incarnations.Load(); n != c.checks {
				t.Fatalf("%d checks, want %d", n, c.checks)
			}
		})
	}
}

// slowStore fails its first checks with code.
type slowStore struct {
	kickedStore
	fails int64
	code  string
}

func (s *slowStore) Incarnation(ctx context.Context) (string, bool, error) {
	if s.kickedStore.incarnations.Add(1) <= s.fails {
		return "", false, &Error{Code: s.code, Message: "the store did not answer in time"}
	}
	return "run", true, nil
}
