package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// ALERTS is the record of every alert change: each zone's changes are
// stored there in the order of their sequence numbers, each exactly once,
// whichever goroutine or replica committed them and whatever NATS went
// through meanwhile.
//
// The outbox below is how. A worker per zone stores the zone's changes
// one run of consecutive changes at a time, right after the zone's last
// change in ALERTS:
//
//   - When the worker did not store that last change itself a moment ago,
//     the run's first change names it: Nats-Expected-Last-Subject-Sequence
//     over alerts.<zone>.*, so JetStream refuses it if anyone stored
//     anything of the zone since. The rest of the run follows on the same
//     connection without waiting, in order. Checking every change would
//     cost a lookup of the zone's last message in the server each time.
//   - Every message has the id <zone>:<seq>, so a change that another
//     replica stored meanwhile (it read it back, below) is not stored twice.
//   - A run that comes back with a failure or a duplicate in it is checked
//     against the stream: a change stored after one that failed is deleted
//     and stored again in its turn, under a new id.
//
// A change that waits for a predecessor nobody hands over (its committer
// died, or another replica is slow to publish it) is read back from the
// state store's history (ChangeSource) and stored by whoever waits.

// ChangeSource is where the outbox reads back changes the state store
// committed and nobody published.
type ChangeSource interface {
	// CommittedChanges returns the zone's changes with sequence numbers in
	// (after, upto], oldest first, with their records, and the zone's
	// sequence number in the store.
	CommittedChanges(ctx context.Context, zone string, after, upto int64) ([]alerting.Change, int64, error)
}

const (
	// outboxMax bounds the changes waiting in a process; past it a change
	// is left to be read back from the store.
	outboxMax = 1 << 16
	// outboxRun is how many consecutive changes of a zone go at once.
	outboxRun = 256
	// outboxGap is how long a change waits for a predecessor before it is
	// read back from the store.
	outboxGap = time.Second
	// outboxPoll is how often a worker waiting for a predecessor looks
	// whether another replica stored it.
	outboxPoll = 100 * time.Millisecond
	// outboxWait bounds how long a publisher waits for its changes to be
	// stored; they stay queued after it.
	outboxWait = 5 * time.Second
	// outboxOwn is how long a worker that stored the zone's last change
	// stores the next ones without naming it; well inside the 2-minute
	// duplicate window of ALERTS, which catches a change another replica
	// stored meanwhile.
	outboxOwn = 10 * time.Second
)

// outbox stores each zone's changes in ALERTS in order (see above).
type outbox struct {
	b      *Broker
	logger *slog.Logger
	// flight is held for reading while changes are taken from the queue
	// and stored, and for writing by reset, which so knows none is in
	// flight once it holds it.
	flight sync.RWMutex

	mu      sync.Mutex
	source  ChangeSource
	zones   map[string]*zoneOut
	waiting int // changes queued over all zones
	stopped bool
	stop    chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

// zoneOut is one zone's queue, and what is known of its changes in ALERTS.
type zoneOut struct {
	pending map[int64]*outEntry
	target  int64         // the zone must be complete up to here (complete)
	wake    chan struct{} // a change was queued
	running bool          // a worker stores the zone's changes
	known   bool          // last and lastAt are what ALERTS holds
	last    int64         // the sequence number of the zone's last change in ALERTS
	lastAt  uint64        // its stream sequence; 0 when the zone has none
	ownAt   time.Time     // when this worker stored that last change; zero when it did not
	err     error         // why the last attempt failed, for the waiting
}

type outEntry struct {
	c alerting.Change
	// attempt counts the messages of the change deleted from ALERTS
	// (stored out of turn): their ids stay taken for the duplicate
	// window, so the change is stored again under <zone>:<seq>:<attempt>.
	attempt int
	done    chan struct{} // closed once the change is in ALERTS, or dropped
	err     error         // why it was dropped
}

func newOutbox(b *Broker) *outbox {
	return &outbox{b: b, logger: b.logger, zones: map[string]*zoneOut{}, stop: make(chan struct{})}
}

// enqueue queues the changes and returns what to wait for: nil for a
// change known to be stored already. full is set for a change left out
// because too many wait.
func (o *outbox) enqueue(cs []alerting.Change) (entries []*outEntry, full error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	entries = make([]*outEntry, len(cs))
	for i, c := range cs {
		z := o.zoneLocked(c.Zone)
		if z.known && c.Seq <= z.last {
			continue
		}
		if e, ok := z.pending[c.Seq]; ok {
			entries[i] = e
			continue
		}
		if o.waiting >= outboxMax || o.stopped {
			full = fmt.Errorf("%d changes wait for NATS already", o.waiting)
			continue
		}
		e := &outEntry{c: c, done: make(chan struct{})}
		z.pending[c.Seq], entries[i] = e, e
		o.waiting++
		o.startLocked(c.Zone, z)
	}
	return entries, full
}

func (o *outbox) zoneLocked(zone string) *zoneOut {
	z := o.zones[zone]
	if z == nil {
		z = &zoneOut{pending: map[int64]*outEntry{}, wake: make(chan struct{}, 1)}
		o.zones[zone] = z
	}
	return z
}

// startLocked makes sure a worker stores the zone's changes, and wakes it.
func (o *outbox) startLocked(zone string, z *zoneOut) {
	select {
	case z.wake <- struct{}{}:
	default:
	}
	if z.running || o.stopped {
		return
	}
	z.running = true
	o.wg.Add(1)
	go o.run(zone, z)
}

// wait waits for the entries to be stored, until ctx ends or outboxWait
// passes; it returns an error per change.
func (o *outbox) wait(ctx context.Context, cs []alerting.Change, entries []*outEntry, full error) []error {
	errs := make([]error, len(cs))
	ctx, cancel := context.WithTimeout(ctx, outboxWait)
	defer cancel()
	for i, e := range entries {
		if e == nil {
			if full != nil && !o.stored(cs[i]) {
				errs[i] = changeUnconfirmed(cs[i], full)
			}
			continue
		}
		select {
		case <-e.done:
			if e.err != nil {
				errs[i] = changeUnconfirmed(cs[i], e.err)
			}
		case <-ctx.Done():
			o.mu.Lock()
			cause := o.zones[cs[i].Zone].err
			o.mu.Unlock()
			if cause == nil {
				cause = ctx.Err()
			}
			errs[i] = changeUnconfirmed(cs[i], cause)
		}
	}
	return errs
}

// stored reports whether c is known to be in ALERTS.
func (o *outbox) stored(c alerting.Change) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	z := o.zones[c.Zone]
	return z != nil && z.known && c.Seq <= z.last
}

// complete asks for the zone's changes up to seq to be in ALERTS, read back
// from the store when nobody queues them.
func (o *outbox) complete(zone string, seq int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.source == nil {
		return
	}
	z := o.zoneLocked(zone)
	if z.known && seq <= z.last || seq <= z.target {
		return
	}
	z.target, z.known = seq, false // someone else may have stored them
	o.startLocked(zone, z)
}

// reset drops every change queued, telling its waiters why, and forgets
// what it knew of ALERTS; it returns once no change is being stored. The
// store went back in time: what it had committed and not published may be
// lost with it, and its sequence numbers given to other changes.
func (o *outbox) reset(why error) int {
	o.flight.Lock()
	defer o.flight.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	dropped := 0
	for _, z := range o.zones {
		for seq, e := range z.pending {
			e.err = why
			close(e.done)
			delete(z.pending, seq)
			dropped++
		}
		z.known, z.target = false, 0
	}
	o.waiting -= dropped
	return dropped
}

// run stores the zone's changes until none wait.
func (o *outbox) run(zone string, z *zoneOut) {
	defer o.wg.Done()
	w := outWorker{o: o, zone: zone, z: z, backoff: outBackoff}
	var cancel context.CancelFunc
	w.ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-o.stop:
			cancel()
		case <-w.ctx.Done():
		}
	}()
	for w.step() {
	}
	if !w.idle {
		o.mu.Lock()
		z.running = false
		o.mu.Unlock()
	}
}

const outBackoff = 50 * time.Millisecond

// outWorker is the state of one zone's worker between steps.
type outWorker struct {
	o        *outbox
	zone     string
	z        *zoneOut
	ctx      context.Context
	gapSince time.Time // when the zone's next change went missing
	backoff  time.Duration
	failures int
	idle     bool // stopped for want of work, leaving the zone to the next worker
}

// step does one thing towards storing the zone's changes and reports
// whether there is more to do.
func (w *outWorker) step() bool {
	o, z := w.o, w.z
	o.flight.RLock()
	defer o.flight.RUnlock()
	o.mu.Lock()
	if !z.known {
		o.mu.Unlock()
		last, lastAt, err := o.b.lastChange(w.ctx, w.zone)
		if err != nil {
			return w.failed(err)
		}
		o.mu.Lock()
		z.known, z.last, z.lastAt, z.ownAt = true, last, lastAt, time.Time{}
	}
	o.settleLocked(z)
	if len(z.pending) == 0 && z.target <= z.last {
		// Under the lock that enqueue takes: a change queued from now on
		// starts a new worker.
		z.running, w.idle = false, true
		o.mu.Unlock()
		return false
	}
	run := o.runLocked(z)
	if len(run) == 0 {
		o.mu.Unlock()
		return w.gap()
	}
	w.gapSince = time.Time{}
	from, last, lastAt := run[0].c.Seq, z.last, z.lastAt
	own := !z.ownAt.IsZero() && time.Since(z.ownAt) < outboxOwn
	o.mu.Unlock()

	stored, at, dups, anomaly, err := o.b.storeRun(w.ctx, w.zone, run, lastAt, own)
	if wrongLast(err) {
		o.mu.Lock()
		z.known = false // another replica stored changes of the zone: look again
		o.mu.Unlock()
		return true
	}
	if anomaly {
		// A change failed or was a duplicate, and a later one may have
		// been stored after it: make the stream right before going on.
		if rerr := o.repair(w.ctx, w.zone, last, lastAt, dups); rerr != nil {
			return w.failed(rerr)
		}
		if err != nil {
			return w.failed(err)
		}
		return true
	}
	o.mu.Lock()
	if stored > 0 {
		z.last, z.lastAt, z.ownAt = from+int64(stored)-1, at, time.Now()
		o.settleLocked(z)
		for _, e := range run[:stored] {
			o.b.changes.WithLabelValues(string(e.c.Event)).Inc()
		}
	}
	if err != nil {
		// The changes after the last stored may yet be, from a buffer
		// flushed when the connection comes back: look before going on.
		z.known = false
		o.mu.Unlock()
		return w.failed(err)
	}
	z.err = nil
	o.mu.Unlock()
	if w.failures > 0 {
		o.logger.Info("alert changes stored in ALERTS again", "zone", w.zone, "failures", w.failures)
	}
	w.failures, w.backoff = 0, outBackoff
	return true
}

// gap handles a zone whose next change is missing from the queue: another
// replica stores it, its committer is about to hand it over, or nobody
// will, and after outboxGap it is read back from the store.
func (w *outWorker) gap() bool {
	o, z := w.o, w.z
	o.mu.Lock()
	if w.gapSince.IsZero() {
		w.gapSince = time.Now()
	}
	upto := z.target
	for seq := range z.pending {
		upto = max(upto, seq-1)
	}
	after, source, asked := z.last, o.source, len(z.pending) == 0
	o.mu.Unlock()
	if source != nil && (asked || time.Since(w.gapSince) >= outboxGap) {
		if err := o.readBack(w.ctx, w.zone, z, source, after, upto); err != nil {
			return w.failed(err)
		}
		return true
	}
	o.flight.RUnlock() // do not hold up a reset while waiting
	woken, ok := w.pause(outboxPoll)
	o.flight.RLock()
	if !woken {
		o.mu.Lock()
		z.known = false // look whether another replica stored it
		o.mu.Unlock()
	}
	return ok
}

// failed logs a failure to reach ALERTS once per run of failures, waits a
// little longer each time, and reports whether to go on.
func (w *outWorker) failed(err error) bool {
	w.o.mu.Lock()
	w.z.err = err
	w.o.mu.Unlock()
	if w.failures == 0 {
		w.o.logger.Warn("alert changes committed but not in ALERTS yet; trying again until NATS takes them", "zone", w.zone, "err", err)
	}
	w.failures++
	w.o.flight.RUnlock()
	_, ok := w.pause(w.backoff)
	w.o.flight.RLock()
	w.backoff = min(2*w.backoff, 5*time.Second)
	return ok
}

// pause waits d, or less when a change is queued (woken); ok is false
// once the outbox stops.
func (w *outWorker) pause(d time.Duration) (woken, ok bool) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-w.ctx.Done():
		return false, false
	case <-w.z.wake:
		return true, true
	case <-t.C:
		return false, true
	}
}

// settleLocked releases the waiters of every change ALERTS holds.
func (o *outbox) settleLocked(z *zoneOut) {
	for seq, e := range z.pending {
		if seq <= z.last {
			close(e.done)
			delete(z.pending, seq)
			o.waiting--
		}
	}
}

// runLocked returns the zone's changes that follow its last in ALERTS
// without a gap, oldest first, up to outboxRun.
func (o *outbox) runLocked(z *zoneOut) []*outEntry {
	var run []*outEntry
	for seq := z.last + 1; len(run) < outboxRun; seq++ {
		e, ok := z.pending[seq]
		if !ok {
			break
		}
		run = append(run, e)
	}
	return run
}

// repair makes the zone's messages in ALERTS after the stream sequence
// lastAt (where change last is) consecutive again: a change stored after
// one that was not is deleted, and stored again in its turn under a new
// id, as is a change of dups (answered as a duplicate) that is not there.
// It leaves the zone known, and not the worker's own.
func (o *outbox) repair(ctx context.Context, zone string, last int64, lastAt uint64, dups []int64) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{o.b.changeSubjects(zone)},
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: lastAt + 1}
	var stray []uint64
	deleted := map[int64]bool{}
	next := last + 1
	err := o.b.readAll(ctx, StreamAlerts, cfg, func(m jetstream.Msg) error {
		meta, err := m.Metadata()
		if err != nil {
			return err
		}
		c, err := alerting.DecodeChange(m.Data())
		if err != nil {
			return fmt.Errorf("a change of %s in %s: %w", zone, StreamAlerts, err)
		}
		if c.Seq == next {
			next, lastAt = next+1, meta.Sequence.Stream
			return nil
		}
		stray = append(stray, meta.Sequence.Stream)
		deleted[c.Seq] = true
		return nil
	})
	if err != nil {
		return err
	}
	stream, err := o.b.js.Stream(ctx, StreamAlerts)
	if err != nil {
		return journalUnavailable("read "+StreamAlerts, err)
	}
	for _, at := range stray {
		if err := stream.DeleteMsg(ctx, at); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("delete a change of %s stored out of turn (stream seq %d): %w", zone, at, err)
		}
	}
	if len(stray) > 0 {
		o.logger.Warn("alert changes stored out of turn were deleted from ALERTS, to be stored again in their turn", "zone", zone,
			"changes", len(stray), "from_seq", next)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	z := o.zones[zone]
	z.known, z.last, z.lastAt, z.ownAt = true, next-1, lastAt, time.Time{}
	for _, seq := range dups {
		deleted[seq] = deleted[seq] || seq >= next
	}
	for seq, gone := range deleted {
		if e, ok := z.pending[seq]; ok && gone {
			e.attempt++
		}
	}
	o.settleLocked(z)
	return nil
}

// readBack queues the zone's changes in (after, upto] from the store.
func (o *outbox) readBack(ctx context.Context, zone string, z *zoneOut, source ChangeSource, after, upto int64) error {
	cs, stored, err := source.CommittedChanges(ctx, zone, after, upto)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range cs {
		if _, ok := z.pending[c.Seq]; !ok && c.Seq > z.last {
			z.pending[c.Seq] = &outEntry{c: c, done: make(chan struct{})}
			o.waiting++
		}
	}
	if len(cs) > 0 {
		o.logger.Warn("alert changes nobody published were read back from the state store", "zone", zone,
			"from_seq", cs[0].Seq, "to_seq", cs[len(cs)-1].Seq)
	}
	if _, ok := z.pending[z.last+1]; ok || z.last != after {
		return nil
	}
	next := stored + 1 // the first change after the gap
	for seq := range z.pending {
		next = min(next, seq)
	}
	if len(z.pending) > 0 && stored < upto {
		// The store lacks changes queued here: it went back in time, and
		// the healer resets the outbox once it has seen it.
		return fmt.Errorf("the state store is at change %d of %s, behind changes waiting to be published", stored, zone)
	}
	if next > z.last+1 {
		// The store's history no longer holds them: ALERTS goes on
		// without, the next change right after the zone's last message.
		o.logger.Error("alert changes are in neither ALERTS nor the state store's history: ALERTS goes on without them", "zone", zone,
			"from_seq", z.last+1, "to_seq", next-1)
		z.last, z.ownAt = next-1, time.Time{}
	}
	z.target = min(z.target, z.last)
	return nil
}

// shutdown stops taking changes and waits for the workers to store what is
// queued, until ctx ends; what is left is in the store, and the next
// start stores it.
func (o *outbox) shutdown(ctx context.Context) error {
	o.mu.Lock()
	o.stopped = true
	o.mu.Unlock()
	done := make(chan struct{})
	go func() { o.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		o.once.Do(func() { close(o.stop) })
		<-done
	}
	o.mu.Lock()
	left := o.waiting
	o.mu.Unlock()
	if left > 0 {
		o.logger.Warn("stopped with alert changes not in ALERTS: they are in the state store, and the next start stores them", "changes", left)
	}
	return nil
}

// lastChange returns the sequence number of the zone's last change in
// ALERTS and its stream sequence; zeros when the zone has none.
func (b *Broker) lastChange(ctx context.Context, zone string) (int64, uint64, error) {
	stream, err := b.js.Stream(ctx, StreamAlerts)
	if err != nil {
		return 0, 0, journalUnavailable("read "+StreamAlerts, err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, b.changeSubjects(zone))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, journalUnavailable("read the last change of "+zone, err)
	}
	c, err := alerting.DecodeChange(msg.Data)
	if err != nil {
		return 0, 0, fmt.Errorf("the last change of %s in %s (stream seq %d): %w", zone, StreamAlerts, msg.Sequence, err)
	}
	return c.Seq, msg.Sequence, nil
}

// storeRun stores consecutive changes of a zone after the stream message
// lastAt, which must be the zone's last; unless own, the first change
// says so. It returns how many of the run were stored, in order from the
// first, and the stream sequence of the last of them. anomaly is set when
// a change came back a duplicate (those are in dups), or was stored after
// one that failed: the zone's messages must be checked (outbox.repair).
func (b *Broker) storeRun(ctx context.Context, zone string, run []*outEntry, lastAt uint64, own bool) (stored int, at uint64, dups []int64, anomaly bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, outboxWait)
	defer cancel()
	if !own {
		m := b.changeMsg(run[0].c)
		m.Header.Set(jetstream.MsgIDHeader, changeMsgID(run[0]))
		m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(lastAt, 10))
		m.Header.Set(jetstream.ExpectedLastSubjSeqSubjHeader, b.changeSubjects(zone))
		ack, err := b.js.PublishMsg(ctx, m)
		if err != nil {
			return 0, 0, nil, false, err
		}
		if ack.Duplicate {
			// Stored by another replica, or its id taken by a message
			// deleted since (repair).
			return 0, 0, []int64{run[0].c.Seq}, true, nil
		}
		stored, at, run = 1, ack.Sequence, run[1:]
	}
	futures := make([]jetstream.PubAckFuture, 0, len(run))
	for _, e := range run {
		m := b.changeMsg(e.c)
		f, ferr := b.js.PublishMsgAsync(m, jetstream.WithMsgID(changeMsgID(e)))
		if ferr != nil {
			err = ferr
			break
		}
		futures = append(futures, f)
	}
	failed := false
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			switch {
			case ack.Duplicate:
				failed, anomaly, dups = true, true, append(dups, run[i].c.Seq)
			case failed:
				anomaly = true // stored after one that was not
			default:
				stored, at = stored+1, ack.Sequence
			}
		case ferr := <-f.Err():
			if !failed {
				failed, err = true, ferr
			}
		case <-ctx.Done():
			if !failed {
				failed, err = true, ctx.Err()
			}
		}
	}
	return stored, at, dups, anomaly, err
}

// changeMsgID is the id of a change's message in ALERTS: <zone>:<seq>,
// and :<attempt> once an earlier message of it was deleted.
func changeMsgID(e *outEntry) string {
	id := e.c.Zone + ":" + strconv.FormatInt(e.c.Seq, 10)
	if e.attempt > 0 {
		id += ":" + strconv.Itoa(e.attempt)
	}
	return id
}

// wrongLast reports whether err is JetStream refusing a change out of
// turn: the zone's last message is not the one expected.
func wrongLast(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

// serverAtLeast reports whether the connected NATS server is at least
// version major.minor.
func serverAtLeast(nc *nats.Conn, major, minor int) bool {
	return versionAtLeast(nc.ConnectedServerVersion(), major, minor)
}

// versionAtLeast reports whether the version v ("2.11.3", "2.12.0-RC.1")
// is at least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var maj, mnr int
	if _, err := fmt.Sscanf(v, "%d.%d", &maj, &mnr); err != nil {
		return false
	}
	return maj > major || maj == major && mnr >= minor
}
