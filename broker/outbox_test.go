package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// change is the change seq of zone as a store would have committed it.
func change(t testing.TB, zone string, seq int64) alerting.Change {
	t.Helper()
	a := &alerting.Alert{ID: fmt.Sprintf("al-%s-%d", zone, seq%5), Zone: zone, Version: seq}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := alerting.ChangeBody(alerting.EventUpdated, "", data)
	return alerting.Change{Zone: zone, Seq: seq, Event: alerting.EventUpdated, Alert: a,
		Frame: alerting.ChangeFrame(zone, seq, body), Record: []byte(fmt.Sprintf(`{"group":"g%d"}`, seq))}
}

// newBroker is a broker on srv, shut down when the test ends.
func newBroker(t testing.TB, srv *natstest.Server) *broker.Broker {
	t.Helper()
	b, err := broker.New(context.Background(), broker.Options{Conn: srv.Connect(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = b.Shutdown(ctx)
	})
	return b
}

// storedSeqs reads the zone's changes from ALERTS in stream order, and
// checks each kept its record.
func storedSeqs(t testing.TB, b *broker.Broker, zone string) []int64 {
	t.Helper()
	var seqs []int64
	err := b.Changes(context.Background(), zone, time.Time{}, func(c alerting.Change) error {
		if want := fmt.Sprintf(`{"group":"g%d"}`, c.Seq); string(c.Record) != want {
			t.Errorf("change %d has the record %s, want %s", c.Seq, c.Record, want)
		}
		seqs = append(seqs, c.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// holds fails the test unless ALERTS holds the zone's changes want, in
// that order.
func holds(t testing.TB, b *broker.Broker, zone string, want []int64) {
	t.Helper()
	if got := storedSeqs(t, b, zone); !slices.Equal(got, want) {
		t.Fatalf("ALERTS holds the changes %v of %s, want %v", got, zone, want)
	}
}

func upTo(n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// Changes handed over out of order, some twice, by many goroutines of two
// replicas at once, are stored in ALERTS in the order of their sequence
// numbers, each once.
func TestChangesAreStoredInOrderOnceWhoeverPublishesThem(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	replicas := []*broker.Broker{newBroker(t, srv), newBroker(t, srv)}
	const n = 400
	for _, zone := range []string{"aleppo", "idlib"} {
		var wg sync.WaitGroup
		for _, seq := range rand.Perm(n) {
			c := change(t, zone, int64(seq+1))
			for _, b := range replicas[:1+seq%2] { // every other change is published by both
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.PublishChange(context.Background(), c); err != nil {
						t.Errorf("publish %d: %v", c.Seq, err)
					}
				}()
			}
		}
		wg.Wait()
	}
	for _, zone := range []string{"aleppo", "idlib"} {
		if got := storedSeqs(t, replicas[0], zone); !slices.Equal(got, upTo(n)) {
			t.Errorf("%s: ALERTS holds the changes %v, want 1 to %d in order", zone, got, n)
		}
	}
	// Published again later (a redelivered report): stored already.
	if err := replicas[1].PublishChanges(context.Background(), []alerting.Change{change(t, "aleppo", 7), change(t, "aleppo", n)}); errors.Join(err...) != nil {
		t.Fatal(err)
	}
	if got := storedSeqs(t, replicas[0], "aleppo"); len(got) != n {
		t.Errorf("publishing stored changes again stored %d changes, want %d", len(got), n)
	}
}

// A replica that does not know another stored a change since cannot store
// it again: JetStream refuses a change that does not follow the zone's last.
func TestAStaleReplicaCannotStoreAChangeTwice(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	a, b := newBroker(t, srv), newBroker(t, srv)
	publish := func(by *broker.Broker, seq int64) {
		t.Helper()
		if err := by.PublishChange(context.Background(), change(t, "tartus", seq)); err != nil {
			t.Fatal(err)
		}
	}
	publish(b, 1) // b knows 1 is the zone's last
	publish(a, 2)
	publish(b, 2) // b does not know a stored it
	publish(b, 3)
	if got := storedSeqs(t, a, "tartus"); !slices.Equal(got, upTo(3)) {
		t.Fatalf("ALERTS holds %v, want 1 to 3", got)
	}
}

// source is a store's history of changes.
type source struct {
	mu      sync.Mutex
	changes map[int64]alerting.Change
	seq     int64
}

func (s *source) CommittedChanges(_ context.Context, zone string, after, upto int64) ([]alerting.Change, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []alerting.Change
	for seq := after + 1; seq <= upto; seq++ {
		if c, ok := s.changes[seq]; ok && c.Zone == zone {
			out = append(out, c)
		}
	}
	return out, s.seq, nil
}

func history(t testing.TB, zone string, seqs ...int64) *source {
	s := &source{changes: map[int64]alerting.Change{}}
	for _, seq := range seqs {
		s.changes[seq] = change(t, zone, seq)
		s.seq = max(s.seq, seq)
	}
	return s
}

// A change whose committer died before publishing it is read back from the
// store: by whoever waits behind it, or when asked to complete the zone.
func TestChangesNobodyPublishedAreReadBackFromTheStore(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	b.SetChangeSource(history(t, "homs-north", 1, 2, 3, 4, 5))
	// 1 and 2 were committed by a replica that died; 3 waits behind them.
	if err := b.PublishChange(context.Background(), change(t, "homs-north", 3)); err != nil {
		t.Fatal(err)
	}
	holds(t, b, "homs-north", upTo(3))
	// 4 and 5 were the zone's last changes, and nobody publishes them.
	b.Complete("homs-north", 5)
	alertingtest.Eventually(t, 20*time.Second, "the zone's last changes in ALERTS", func() bool { return len(storedSeqs(t, b, "homs-north")) == 5 })
	holds(t, b, "homs-north", upTo(5))
}

// A change the store's history no longer holds leaves a hole, and the
// changes after it are stored anyway: ALERTS never stalls.
func TestAChangeLostFromTheHistoryDoesNotStallTheZone(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	b.SetChangeSource(history(t, "daraa", 3, 4)) // 1 and 2 trimmed away
	if err := b.PublishChange(context.Background(), change(t, "daraa", 4)); err != nil {
		t.Fatal(err)
	}
	holds(t, b, "daraa", []int64{3, 4})
}

// When the store went back in time, what waits to be published is dropped
// and its publishers told: the store may have given its sequence numbers
// to other changes.
func TestForgetFailsWhatWaits(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	done := make(chan error, 1)
	go func() { done <- b.PublishChange(context.Background(), change(t, "raqqa", 2)) }() // 1 never comes
	alertingtest.Eventually(t, 20*time.Second, "the change to wait", func() bool { return b.Forget(errors.New("rolled back")) == 1 })
	err := <-done
	if code := alerting.ErrorCode(err); code != alerting.EUNAVAILABLE {
		t.Fatalf("a forgotten change: %v (code %q), want %q", err, code, alerting.EUNAVAILABLE)
	}
	// The new change 1 and 2 are stored.
	if err := errors.Join(b.PublishChanges(context.Background(), []alerting.Change{change(t, "raqqa", 1), change(t, "raqqa", 2)})...); err != nil {
		t.Fatal(err)
	}
	holds(t, b, "raqqa", upTo(2))
}

// A change published while NATS is away is answered unavailable, and
// stored once NATS is back, in order, without being published again.
func TestChangesWaitForNATS(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	if err := b.PublishChange(context.Background(), change(t, "hama", 1)); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	errs := b.PublishChanges(ctx, []alerting.Change{change(t, "hama", 2), change(t, "hama", 3)})
	if code := alerting.ErrorCode(errs[0]); code != alerting.EUNAVAILABLE {
		t.Fatalf("publishing with NATS down: %v (code %q), want %q", errs[0], code, alerting.EUNAVAILABLE)
	}
	if err := b.Later().PublishChange(context.Background(), change(t, "hama", 4)); err != nil {
		t.Fatalf("queueing with NATS down: %v", err)
	}
	srv.Restart(t)
	alertingtest.Eventually(t, 20*time.Second, "the changes in ALERTS", func() bool { return len(storedSeqs(t, b, "hama")) == 4 })
	holds(t, b, "hama", upTo(4))
}

// A change stored out of turn (its predecessor was lost on the way, as
// when the connection drops between two messages sent together) is
// deleted, and stored again right after its predecessor.
func TestAChangeStoredOutOfTurnIsStoredAgainInItsTurn(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	if err := b.PublishChange(context.Background(), change(t, "tartus", 1)); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	three := change(t, "tartus", 3)
	stray := &nats.Msg{Subject: "alerts.tartus.updated", Data: three.Frame, Header: nats.Header{}}
	stray.Header.Set(broker.HeaderRecord, string(three.Record))
	stray.Header.Set(jetstream.MsgIDHeader, "tartus:3")
	if _, err := js.PublishMsg(context.Background(), stray); err != nil {
		t.Fatal(err)
	}
	errs := b.PublishChanges(context.Background(), []alerting.Change{change(t, "tartus", 2), three, change(t, "tartus", 4)})
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	holds(t, b, "tartus", upTo(4))
}

// BenchmarkOutbox stores changes of six zones in ALERTS, each zone's from
// its own goroutine, handed over in groups as the engine hands over a
// zone's batch; it reports changes stored per second.
func BenchmarkOutbox(b *testing.B) {
	for _, group := range []int{1, 8} {
		b.Run(fmt.Sprintf("group=%d", group), func(b *testing.B) {
			srv := natstest.Start(b)
			br := newBroker(b, srv)
			zones := []string{"aleppo", "idlib", "latakia", "homs-north", "daraa", "damascus-ghouta"}
			changes := map[string][]alerting.Change{}
			for _, zone := range zones {
				for seq := range int64(b.N) {
					changes[zone] = append(changes[zone], change(b, zone, seq+1))
				}
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, zone := range zones {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for cs := range slices.Chunk(changes[zone], group) {
						if err := errors.Join(br.PublishChanges(context.Background(), cs)...); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N*len(zones))/b.Elapsed().Seconds(), "changes/s")
		})
	}
}

// Changes handed over one at a time, each right after the one before was
// stored, as a quiet zone's are: each finds a worker, though the last
// worker may be just stopping for want of work.
func TestEachChangeFindsAWorker(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	var wg sync.WaitGroup
	for _, zone := range []string{"aleppo", "idlib", "latakia", "homs-north", "daraa", "hama"} {
		wg.Go(func() {
			for seq := int64(1); seq <= 1500; seq++ {
				if err := b.PublishChange(context.Background(), change(t, zone, seq)); err != nil {
					t.Errorf("change %d of %s: %v", seq, zone, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
