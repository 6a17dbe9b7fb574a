package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// The streams are the record; the store is a projection of them. A Redis
// that comes back behind what it acknowledged (a crash inside its fsync
// window, a failover to a lagging replica, a restored backup, a wipe) is
// brought back to what the streams say, zone by zone, while the rest keeps
// working:
//
//   - every alert change is in ALERTS with its record (Record), so the
//     changes a zone lacks are redone from there, with the sequence numbers
//     and frames they had;
//   - every report is in VIOLATIONS, so a report acknowledged but not marked
//     processed in the store (one that changed no alert, or whose change
//     was lost with the zone) is processed again; the engine recognises one
//     it has.

// Journal is the streams read back.
type Journal interface {
	// LastSeq is the sequence number of the zone's last change in the
	// stream, 0 when it has none.
	LastSeq(ctx context.Context, zone string) (int64, error)
	// Changes calls fn with the zone's changes, oldest first, from those
	// stored at since (all of them when since is zero), with their records.
	Changes(ctx context.Context, zone string, since time.Time, fn func(Change) error) error
	// Reports calls fn with the zone's reports stored after the stream
	// position after and at or before through, oldest first.
	Reports(ctx context.Context, zone string, after, through uint64, fn func(Submission) error) error
	// AckFloor is the stream position at and before which every report
	// was processed.
	AckFloor(ctx context.Context) (uint64, error)
	// Delivered is the stream position of the last report the engine's
	// consumer has handed out, 0 when none: the reports after it have
	// never been handed out, and will be.
	Delivered(ctx context.Context) (uint64, error)
}

// ChangeOutbox stores committed changes in the stream, each zone's in order.
type ChangeOutbox interface {
	// Complete makes sure, in the background, that the stream holds the
	// zone's changes up to seq, taking from the store those nobody
	// published (their committer died in between).
	Complete(zone string, seq int64)
	// Forget drops the changes waiting to be published, failing their
	// publishers with why, and returns how many.
	Forget(why error) int
}

// Submission is a report as the stream of reports holds it.
type Submission struct {
	Data       []byte
	Arrival    Arrival
	StreamSeq  uint64
	ReceivedAt time.Time
}

// HealStore is the store as the Healer needs it.
type HealStore interface {
	// Incarnation names the running store (a restart is a new one), and
	// says whether it holds the epoch mark that a wipe loses.
	Incarnation(ctx context.Context) (runID string, epoch bool, err error)
	HasState(ctx context.Context) (bool, error)
	SetEpoch(ctx context.Context, epoch string) error
	// OpenFence lets every zone but those behind be used on incarnation
	// runID; ZoneHealed lets one more.
	OpenFence(runID string, behind []string)
	ZoneHealed(zone string)
	// Probe fails, and trips the fence, when the store is no longer the
	// incarnation verified.
	Probe(ctx context.Context) error
	StoredSeq(ctx context.Context, zone string) (int64, error)
	// LastChangeAt is when the zone's newest change in the store was
	// made; zero when it has none.
	LastChangeAt(ctx context.Context, zone string) (time.Time, error)
	// Redo applies changes read back from the stream (see Redo); a change
	// the store has already comes back with Seq 0.
	Redo(ctx context.Context, runID string, cs []Commit) ([][]Change, error)
	// Processed says of each report whether the store has it processed.
	Processed(ctx context.Context, ids []string) ([]bool, error)
	// DropSessions signs everybody out: after the store went back in
	// time, a session signed out since may have come back.
	DropSessions(ctx context.Context) (int, error)
	// Checkpoint is the stream position of reports the store was last
	// known to have processed everything up to; SetCheckpoint moves it,
	// on incarnation runID only.
	Checkpoint(ctx context.Context) (uint64, error)
	SetCheckpoint(ctx context.Context, runID string, at uint64) error
}

// HealerOptions configures a Healer. Store, Journal, Engine and Catalog are
// required.
type HealerOptions struct {
	Store   HealStore
	Journal Journal
	// Engine processes again the reports the store lost.
	Engine  *Engine
	Catalog CatalogSource
	// Interval is how often the store is probed and the checkpoint moved;
	// 0 means 2 s.
	Interval time.Duration
	// Restore, when set, writes back into the store what the streams
	// record besides alerts and reports (configuration, users, tokens),
	// before the zones are compared; it reports whether it changed
	// anything.
	Restore func(ctx context.Context) (bool, error)
	// Compacted, when set, is the compacted record of every alert: kept
	// up to date by one replica at a time, and loaded into a zone when
	// ALERTS no longer holds the changes it lacks.
	Compacted Compacted
	// Reconcile, when set, is run after each check and every Interval
	// while the store is verified, to keep smaller records in step (the
	// audit log).
	Reconcile func(ctx context.Context) error
	// Outbox, when set, is how committed changes reach the stream.
	Outbox ChangeOutbox
	// Healed, when set, is told of each zone healed: how many changes
	// were redone and how long it took.
	Healed func(zone string, changes int, took time.Duration)
	// Recovered, when set, is told how many reports a check processed
	// again because the store had lost them.
	Recovered func(reports int)
	// Queued, when set, is called after changes redone queued deliveries
	// (Dispatcher.Nudge), so they go out without waiting for a poll.
	Queued func()
	Logger *slog.Logger
}

// Healer checks the store against the streams when it starts, whenever the
// store trips its fence (a restart, a wipe) and every Interval, and heals
// the zones that are behind. Every replica runs one; two healing a zone at
// once apply each change once, since a change redone needs the zone's
// sequence right before it.
type Healer struct {
	o      HealerOptions
	logger *slog.Logger
	kick   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once

	mu       sync.Mutex
	verified string // the incarnation this healer last verified in full
	ok       bool
	// kicks counts Kick: a check that a Kick interrupted does not make
	// the store verified, since the fence it opened has closed again.
	kicks uint64

	compacted time.Time        // when the compacted record was last brought up to date
	running   bool             // Run started
	seqs      map[string]int64 // each zone's sequence number at the last tick
}

// redoBatch is how many changes one call redoes at most.
const redoBatch = 256

// NewHealer returns a healer; Run starts it.
func NewHealer(o HealerOptions) (*Healer, error) {
	if o.Store == nil || o.Journal == nil || o.Engine == nil || o.Catalog == nil {
		return nil, errors.New("alerting: a healer needs a Store, a Journal, an Engine and a Catalog")
	}
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Healer{o: o, logger: o.Logger.With("component", "healer"), kick: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Kick asks for the store to be checked again (the store's fence tripped).
func (h *Healer) Kick() {
	h.mu.Lock()
	h.ok = false
	h.kicks++
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// Run checks and heals until Shutdown: at once when kicked, and every
// Interval it probes the store and moves the checkpoint.
func (h *Healer) Run() {
	h.mu.Lock()
	h.running = true
	h.mu.Unlock()
	defer close(h.done)
	t := time.NewTicker(h.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-h.kick:
		case <-t.C:
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-h.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := h.tick(ctx); err != nil && ctx.Err() == nil {
			h.logger.Warn("checking the state store against the streams failed; retrying", "err", err)
		}
		cancel()
	}
}

func (h *Healer) tick(ctx context.Context) error {
	h.mu.Lock()
	ok, runID := h.ok, h.verified
	h.mu.Unlock()
	if !ok {
		return h.Verify(ctx)
	}
	if err := h.o.Store.Probe(ctx); err != nil {
		h.mu.Lock()
		ok = h.ok
		h.mu.Unlock()
		if !ok { // the fence tripped: Redis restarted or was wiped
			return h.Verify(ctx)
		}
		return err
	}
	at, err := h.o.Journal.AckFloor(ctx)
	if err != nil {
		return err
	}
	if err := h.o.Store.SetCheckpoint(ctx, runID, at); err != nil {
		return err
	}
	if err := h.reconcile(ctx); err != nil {
		return err
	}
	if err := h.complete(ctx); err != nil {
		return err
	}
	return h.compact(ctx)
}

// complete asks the outbox to make sure the stream holds every change of
// the zones whose sequence number stood still since the last tick: a
// replica that died between committing a change and publishing it leaves
// the change to whoever sees it missing, and none may come in that zone.
func (h *Healer) complete(ctx context.Context) error {
	if h.o.Outbox == nil {
		return nil
	}
	if h.seqs == nil {
		h.seqs = map[string]int64{}
	}
	for _, z := range h.o.Catalog.Catalog().Zones() {
		seq, err := h.o.Store.StoredSeq(ctx, z.ID)
		if err != nil {
			return err
		}
		if seq > 0 && seq == h.seqs[z.ID] {
			h.o.Outbox.Complete(z.ID, seq)
		}
		h.seqs[z.ID] = seq
	}
	return nil
}

func (h *Healer) reconcile(ctx context.Context) error {
	if h.o.Reconcile == nil {
		return nil
	}
	return h.o.Reconcile(ctx)
}

// VerifyAtStart is Verify for a process that is starting. A check that
// fails because the store or the streams did not answer in time
// (EUNAVAILABLE: on a loaded machine JetStream can take longer than a
// publisher waits to confirm the changes a check republishes) is made
// again after a pause that grows to 5 s, for as long as patience allows;
// any other failure ends it at once. Checks are idempotent: the healer's
// Run makes them again and again.
func (h *Healer) VerifyAtStart(ctx context.Context, patience time.Duration) error {
	giveUp := time.Now().Add(patience)
	pause := 250 * time.Millisecond
	for {
		err := h.Verify(ctx)
		if err == nil || ErrorCode(err) != EUNAVAILABLE || time.Now().Add(pause).After(giveUp) {
			return err
		}
		h.logger.Warn("the state store or the streams did not answer in time; checking them again", "in", pause, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}

// HealResult is what one check of the store against the streams did.
type HealResult struct {
	ZonesChecked     int      `json:"zones_checked"`
	ZonesHealed      []string `json:"zones_healed"`
	ChangesRedone    int      `json:"changes_redone"`
	ReportsRecovered int      `json:"reports_recovered"`
	Restored         bool     `json:"restored"` // configuration, users or tokens written back
	TookMS           int64    `json:"took_ms"`
}

// Verify checks the store against the streams and heals what is behind:
// the zones whose last change the store lacks, then the reports it lost.
// Zones in step are usable as soon as each zone has been compared.
func (h *Healer) Verify(ctx context.Context) error {
	_, err := h.Heal(ctx)
	return err
}

// Heal is Verify, saying what it did. An operator runs it (trucectl heal)
// after changing Redis in a way the fence cannot see, such as loading an
// older dataset in place.
func (h *Healer) Heal(ctx context.Context) (res HealResult, err error) {
	start := time.Now()
	defer func() { res.TookMS = time.Since(start).Milliseconds() }()
	res.ZonesHealed = []string{}
	h.mu.Lock()
	kicks := h.kicks
	h.mu.Unlock()
	runID, epoch, err := h.o.Store.Incarnation(ctx)
	if err != nil {
		return res, err
	}
	rebuild := false
	if !epoch {
		has, err := h.o.Store.HasState(ctx)
		if err != nil {
			return res, err
		}
		rebuild = !has
		if err := h.o.Store.SetEpoch(ctx, NewAlertID()); err != nil {
			return res, err
		}
	}
	h.mu.Lock()
	moved := runID != h.verified
	h.mu.Unlock()
	if (moved || !epoch) && h.o.Outbox != nil {
		// What waits to be published was committed on a store that may
		// have lost it, and may give its sequence numbers to other
		// changes: its publishers are told to try again.
		if n := h.o.Outbox.Forget(errors.New("the state store went back in time before the change was published")); n > 0 {
			h.logger.Warn("changes waiting to be published were dropped: the state store may have lost them, and they are made again", "changes", n)
		}
	}
	// Read before anything can move it: the reports after it may have been
	// lost with the rest.
	floor, err := h.o.Store.Checkpoint(ctx)
	if err != nil {
		return res, err
	}
	// The reports after the last one handed out are not the store's to
	// have lost: the consumer will hand them out. A backlog that built up
	// while truceline was down is left to it, to be handled once and in
	// batches, rather than here and then again as redeliveries.
	through, err := h.o.Journal.Delivered(ctx)
	if err != nil {
		return res, err
	}
	restored := false
	if h.o.Restore != nil {
		if restored, err = h.o.Restore(ctx); err != nil {
			return res, fmt.Errorf("restore the configuration, users and tokens: %w", err)
		}
	}
	zones := h.o.Catalog.Catalog().Zones()
	res.ZonesChecked, res.Restored = len(zones), restored
	var behind []string
	for _, z := range zones {
		last, err := h.o.Journal.LastSeq(ctx, z.ID)
		if err != nil {
			return res, err
		}
		seq, err := h.o.Store.StoredSeq(ctx, z.ID)
		if err != nil {
			return res, err
		}
		if last > seq {
			behind = append(behind, z.ID)
			h.logger.Warn("the state store is behind the streams; healing the zone", "zone", z.ID, "store_seq", seq, "stream_seq", last)
		}
	}
	if restored || len(behind) > 0 {
		n, err := h.o.Store.DropSessions(ctx)
		if err != nil {
			return res, err
		}
		h.logger.Warn("signed everybody out: the state store went back in time, and a session signed out since may have come back", "sessions", n)
	}
	h.o.Store.OpenFence(runID, behind)
	if rebuild && len(behind) > 0 {
		h.logger.Warn("the state store is empty: rebuilding it from the streams", "zones", len(behind))
	}
	known := map[string]bool{} // reports of alerts loaded from the compacted record
	for _, zone := range behind {
		zstart := time.Now()
		n, err := h.healZone(ctx, runID, zone, known)
		if err != nil {
			return res, fmt.Errorf("heal zone %s: %w", zone, err)
		}
		h.o.Store.ZoneHealed(zone)
		res.ZonesHealed, res.ChangesRedone = append(res.ZonesHealed, zone), res.ChangesRedone+n
		h.logger.Warn("zone healed from the streams", "zone", zone, "changes_redone", n, "took", time.Since(zstart).Round(time.Millisecond))
		if h.o.Healed != nil {
			h.o.Healed(zone, n, time.Since(zstart))
		}
	}
	lost := 0
	for _, z := range zones {
		n, err := h.recoverReports(ctx, runID, z.ID, floor, through, known)
		if err != nil {
			return res, fmt.Errorf("recover the reports of %s: %w", z.ID, err)
		}
		lost += n
	}
	res.ReportsRecovered = lost
	if lost > 0 {
		h.logger.Warn("reports the state store had lost were processed again", "reports", lost, "after_stream_seq", floor, "through_stream_seq", through)
		if h.o.Recovered != nil {
			h.o.Recovered(lost)
		}
	}
	if err := h.reconcile(ctx); err != nil {
		return res, err
	}
	h.mu.Lock()
	// A Kick meanwhile (the store restarted again while it was checked,
	// and tripped the fence this check had opened) asks for another
	// check: taking this one as done would leave the fence closed for
	// good, every tick probing a store it will not let through.
	h.verified, h.ok = runID, h.kicks == kicks
	h.mu.Unlock()
	if len(behind) > 0 || lost > 0 {
		h.logger.Warn("the state store is in step with the streams again", "zones_healed", len(behind), "reports_recovered", lost,
			"took", time.Since(start).Round(time.Millisecond))
	}
	return res, nil
}

// errRestart asks healZone to read the zone's changes from the start.
var errRestart = errors.New("read the changes from the start")

// healZone redoes the zone's changes the store lacks and returns how many.
// When ALERTS no longer holds the first of them, the zone is loaded from the
// compacted record first, and the reports of the alerts loaded are added to
// known.
func (h *Healer) healZone(ctx context.Context, runID, zone string, known map[string]bool) (int, error) {
	since, err := h.o.Store.LastChangeAt(ctx, zone)
	if err != nil {
		return 0, err
	}
	if !since.IsZero() {
		// Changes are stored in the stream after the store committed
		// them, and clocks differ: start a little earlier.
		since = since.Add(-time.Minute)
	}
	loaded := false
	for {
		n, err := h.redoFrom(ctx, runID, zone, since)
		switch {
		case errors.Is(err, errRestart) && !since.IsZero():
			since = time.Time{}
			continue
		case errors.Is(err, errRestart) && !loaded:
			// ALERTS starts after the store's last change.
			loaded = true
			seq, reports, err := h.loadCompacted(ctx, runID, zone)
			if err != nil {
				return n, err
			}
			if seq == 0 {
				return n, fmt.Errorf("ALERTS no longer holds the changes after the store's, and there is no compacted record of the zone")
			}
			for id := range reports {
				known[id] = true
			}
			continue
		case errors.Is(err, errRestart):
			return n, fmt.Errorf("ALERTS and the compacted record leave a hole in the zone's changes")
		}
		return n, err
	}
}

func (h *Healer) redoFrom(ctx context.Context, runID, zone string, since time.Time) (int, error) {
	seq, err := h.o.Store.StoredSeq(ctx, zone)
	if err != nil {
		return 0, err
	}
	planned, redone := seq, 0
	var batch []Commit
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		done, err := h.o.Store.Redo(ctx, runID, batch)
		queued := false
		for i, cs := range done {
			if len(cs) > 0 && cs[0].Seq > 0 { // 0: another replica redid it first
				redone++
				queued = queued || batch[i].queuesDeliveries()
			}
		}
		if queued && h.o.Queued != nil {
			h.o.Queued()
		}
		batch = batch[:0]
		if errors.Is(err, ErrGap) {
			return errRestart
		}
		return err
	}
	// A change stored ahead of its turn (by another replica, or published
	// again after an outage) waits in early until its predecessors come.
	early := map[int64]Change{}
	take := func(c Change) error {
		rec, err := DecodeRecord(c.Record)
		if err != nil {
			return fmt.Errorf("change %d: %w", c.Seq, err)
		}
		commit, err := Redo(c, rec)
		if err != nil {
			return err
		}
		batch, planned = append(batch, commit), c.Seq
		if len(batch) == redoBatch {
			return flush()
		}
		return nil
	}
	// hole is what a change missing from the stream means: the read
	// started past the store's last change, or the stream lacks it.
	hole := func() error {
		first := int64(0)
		for s := range early {
			if first == 0 || s < first {
				first = s
			}
		}
		if redone == 0 && len(batch) == 0 {
			return errRestart
		}
		return fmt.Errorf("the stream lacks changes %d to %d", planned+1, first-1)
	}
	err = h.o.Journal.Changes(ctx, zone, since, func(c Change) error {
		if c.Seq <= planned {
			return nil // the store has it, or the stream holds it twice
		}
		if c.Seq != planned+1 {
			early[c.Seq] = c
			if len(early) > maxEarly {
				return hole()
			}
			return nil
		}
		if err := take(c); err != nil {
			return err
		}
		for {
			next, ok := early[planned+1]
			if !ok {
				return nil
			}
			delete(early, next.Seq)
			if err := take(next); err != nil {
				return err
			}
		}
	})
	if err == nil && len(early) > 0 {
		err = hole()
	}
	if err != nil {
		return redone, err
	}
	return redone, flush()
}

// maxEarly bounds the changes a heal holds while waiting for one stored
// later than they were; past it the missing change is taken as a hole.
const maxEarly = 4096

// recoverReports processes again every report of the zone stored after
// floor, up to through, that the store does not have processed, and
// returns how many; a report known to be in an alert already is only
// marked processed.
func (h *Healer) recoverReports(ctx context.Context, runID, zone string, floor, through uint64, known map[string]bool) (int, error) {
	var batch []Submission
	recovered := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ids := make([]string, len(batch))
		reports := make([]Report, len(batch))
		for i, s := range batch {
			r, err := h.o.Engine.Admit(s.Data, s.Arrival)
			if err != nil {
				reports[i].ID = "" // rejected when it came; nothing to recover
				continue
			}
			reports[i], ids[i] = r, r.ID
		}
		done, err := h.o.Store.Processed(ctx, ids)
		if err != nil {
			return err
		}
		var rs []*Report
		var received []time.Time
		var marks []Commit
		for i := range batch {
			switch {
			case ids[i] == "" || done[i]:
			case known[ids[i]]:
				marks = append(marks, h.o.Engine.MarkProcessed(&reports[i], batch[i].ReceivedAt))
			default:
				rs, received = append(rs, &reports[i]), append(received, batch[i].ReceivedAt)
			}
		}
		batch = batch[:0]
		if len(marks) > 0 {
			if _, err := h.o.Store.Redo(ctx, runID, marks); err != nil {
				return err
			}
			recovered += len(marks)
		}
		if len(rs) == 0 {
			return nil
		}
		for i, err := range h.o.Engine.HandleReports(ctx, rs, received) {
			if err != nil && ErrorCode(err) != EINVALID {
				return fmt.Errorf("report %s: %w", rs[i].ID, err)
			}
		}
		recovered += len(rs)
		return nil
	}
	err := h.o.Journal.Reports(ctx, zone, floor, through, func(s Submission) error {
		batch = append(batch, s)
		if len(batch) == redoBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return recovered, err
	}
	return recovered, flush()
}

// Shutdown stops the healer after what it is doing. Idempotent.
func (h *Healer) Shutdown(ctx context.Context) error {
	h.once.Do(func() { close(h.stop) })
	h.mu.Lock()
	running := h.running
	h.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-h.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("healer: %w", ctx.Err())
	}
}
