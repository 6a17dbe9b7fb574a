package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Errors a Store returns to make the engine read again and retry.
var (
	// ErrStale means the alert or group changed since it was read.
	ErrStale = errors.New("alerting: stale read")
	// ErrDuplicate means the report was processed already.
	ErrDuplicate = errors.New("alerting: report already processed")
	// ErrGap means a change redone from the stream does not follow the
	// zone's last change in the store: changes before it are missing.
	ErrGap = errors.New("alerting: the store lacks the changes before this one")
)

// Store holds alert state. Commit must apply a change atomically: every
// alert change with the zone's next sequence number and its history entry,
// the threshold counts, and the report with its processed mark, or nothing.
type Store interface {
	// ReportChanges returns the changes a report made when it was
	// processed, with their records, and whether it was processed at all.
	ReportChanges(ctx context.Context, reportID string) ([]Change, bool, error)
	// GroupAlert returns the alert the group key is bound to, or nil.
	GroupAlert(ctx context.Context, groupKey string) (*Alert, error)
	// Pending returns the reports counted towards a group's threshold.
	Pending(ctx context.Context, groupKey string) ([]PendingReport, error)
	// Alert returns an alert by id; an *Error with ENOTFOUND when absent.
	Alert(ctx context.Context, id string) (*Alert, error)
	// Report returns a processed report; an *Error with ENOTFOUND when
	// absent. AlertHolds says whether a report is in an alert's complete
	// list. Amendments (Report.Amends) need both.
	Report(ctx context.Context, id string) (*StoredReport, error)
	AlertHolds(ctx context.Context, alertID, reportID string) (bool, error)
	// Commit applies c; ErrStale or ErrDuplicate when its premises no
	// longer hold. It returns the alert changes in the order given.
	Commit(ctx context.Context, c Commit) ([]Change, error)
	// CommitAll applies commits in order, each atomically as Commit does,
	// in one step, and stops at the first whose premises no longer hold:
	// it returns the changes of the commits applied, and that commit's
	// ErrStale or ErrDuplicate (or the error that stopped it all).
	CommitAll(ctx context.Context, cs []Commit) ([][]Change, error)
}

// Commit is one atomic change of state: what one report or one action does.
type Commit struct {
	// Report, when set, is stored with ReceivedAt and its classification
	// and marked processed, so a redelivery of it changes nothing.
	Report         *Report
	ReceivedAt     time.Time
	Classification Classification
	Alerts         []AlertChange
	Pending        []PendingChange
	// Redo marks a change read back from the stream of changes (see
	// Redo): its premises are not checked, only that each change gets its
	// recorded sequence number.
	Redo bool
	// ReportChanges, when redoing, is how many changes the report's
	// commit made in all; the one redone is the last of them.
	ReportChanges int
}

// queuesDeliveries reports whether c adds deliveries to the queue.
func (c Commit) queuesDeliveries() bool {
	return slices.ContainsFunc(c.Alerts, func(ac AlertChange) bool { return len(ac.Enqueue) > 0 })
}

// AlertChange is one alert's new state in a Commit.
type AlertChange struct {
	Alert *Alert // Version one past the stored one (1 when new)
	Event Event
	// ReportIDs are appended to the alert's complete list of reports.
	ReportIDs []string
	// GroupKey, when set, is bound to Alert.ID for GroupTTL, provided it
	// is still bound to PrevGroupAlert ("" for unbound).
	GroupKey       string
	PrevGroupAlert string
	GroupTTL       time.Duration
	// Enqueue are deliveries the change's new notifications need (see
	// Outbox); they join the delivery queue in the same commit.
	Enqueue []Delivery
	// Settle, when set, settles the claimed delivery whose attempt this
	// change records: retried later, or taken off the queue.
	Settle *Settle
	// Seq and Frame, when redoing a change, are the sequence number and
	// the frame it had when first committed, stored again as they are.
	Seq   int64
	Frame []byte
}

// PendingChange updates the reports counted towards a rule's threshold,
// provided the group still holds Expect of them.
type PendingChange struct {
	GroupKey string
	Expect   int
	Add      *PendingReport // count this report
	Clear    bool           // the alert opened: start counting afresh
	TTL      time.Duration
}

// Publisher sends committed changes to everyone who follows alerts, in
// each zone's order. Publishing the same change twice must be harmless (a
// zone's change is stored once, by its seq), and a change whose
// publication failed must stay on its way: it is published once the
// stream takes it.
type Publisher interface {
	PublishChange(ctx context.Context, c Change) error
}

// ChangesPublisher is a Publisher that sends many changes at once and
// waits for them together, returning an error per change. The engine uses
// it, when its Publisher is one, for the changes of reports handled
// together.
type ChangesPublisher interface {
	PublishChanges(ctx context.Context, cs []Change) []error
}

// CatalogSource gives the current configuration snapshot.
type CatalogSource interface {
	Catalog() *Catalog
}

// EngineOptions configures an Engine. Store, Publisher and Catalog are
// required; the rest have working zero values.
type EngineOptions struct {
	Store     Store
	Publisher Publisher
	Catalog   CatalogSource
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID makes alert ids; nil means NewAlertID.
	NewID func() string
	// Queued, when set, is called after a commit queued deliveries
	// (Dispatcher.Nudge).
	Queued func()
	// RuleFailed, when set, is called for each rule whose condition failed
	// on a report (Catalog.Match): a metric, and a RuleFault for admins.
	// The log names the rule.
	RuleFailed func(ctx context.Context, f RuleFailure, r *Report)
	// Stored, when set, is called once for each report the engine stores
	// (not again for a redelivery): IntakeTally.Count.
	Stored func(*Report)
	// LateAfter is how long after its observed time a report may arrive
	// before it is late (Classification.Late); 0 means DefaultLateAfter,
	// a negative value never.
	LateAfter time.Duration
	// Sources, when set, hears the monitored sources whose reports count
	// as heartbeats (Monitor.Reports), at the time the report arrived.
	Sources Sources
	Logger  *slog.Logger
}

// DefaultLateAfter is when a report that arrives after its observed time
// is late, unless the engine is told otherwise.
const DefaultLateAfter = 6 * time.Hour

// Engine turns reports into alert changes and applies people's actions on
// alerts. It keeps no state of its own, so any number of engines may share a
// Store.
type Engine struct {
	store      Store
	publisher  Publisher
	catalog    CatalogSource
	now        func() time.Time
	newID      func() string
	queued     func()
	ruleFailed func(context.Context, RuleFailure, *Report)
	stored     func(*Report)
	lateAfter  time.Duration
	sources    Sources
	logger     *slog.Logger
}

// DefaultWindow is the grouping window of a rule that sets none.
const DefaultWindow = 10 * time.Minute

// maxAttempts bounds retries after concurrent writers moved an alert.
const maxAttempts = 16

// NewEngine returns an engine; it fails when a required option is missing.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.Store == nil || o.Publisher == nil || o.Catalog == nil {
		return nil, errors.New("alerting: engine needs a Store, a Publisher and a Catalog")
	}
	e := &Engine{store: o.Store, publisher: o.Publisher, catalog: o.Catalog, now: o.Now, newID: o.NewID, queued: o.Queued, ruleFailed: o.RuleFailed,
		stored: o.Stored, lateAfter: o.LateAfter, sources: o.Sources, logger: o.Logger}
	if e.lateAfter == 0 {
		e.lateAfter = DefaultLateAfter
	}
	if e.stored == nil {
		e.stored = func(*Report) {}
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.newID == nil {
		e.newID = NewAlertID
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	e.logger = e.logger.With("component", "engine")
	return e, nil
}

// Admit decodes and validates a report as it arrived. a.Zone and
// a.Category, when not empty, are what the NATS subject said, and the body
// must agree with them. The report is stamped with its submitter: an id the
// sender chose (in the body, else a.SenderID) becomes its ReportKey; a
// report without one gets a.AssignedID.
func (e *Engine) Admit(data []byte, a Arrival) (Report, error) {
	r, err := DecodeReport(data)
	p := problems(ErrorFields(err))
	if err != nil && (ErrorCode(err) != EINVALID || (len(p) == 1 && p[0].Field == "(body)")) {
		return r, err // not a JSON object at all: nothing more to judge
	}
	// Judge what did decode too, so the sender learns every problem at
	// once; a field that failed to decode is not also called missing.
	bad := make(map[string]bool, len(p))
	for _, fp := range p {
		bad[fp.Field] = true
	}
	for _, fp := range ErrorFields(r.Validate(e.catalog.Catalog(), e.now())) {
		if !bad[strings.SplitN(fp.Field, ".", 2)[0]] {
			p = append(p, fp)
		}
	}
	if a.Zone != "" && r.Zone != a.Zone {
		p.add("zone", "is %q but the subject names zone %q", r.Zone, a.Zone)
	}
	if a.Category != "" && string(r.Category) != a.Category {
		p.add("category", "is %q but the subject names category %q", r.Category, a.Category)
	}
	if err := p.err("report"); err != nil {
		return r, err
	}
	switch {
	case r.ID != "":
		r.Stamp(a.By, true)
	case a.SenderID != "":
		r.ID = a.SenderID
		r.Stamp(a.By, true)
	default:
		r.ID = a.AssignedID
		r.Stamp(a.By, false)
	}
	if a.Amends != "" {
		r.Amends, r.Withdraws = ReportKey(a.By, r.Zone, a.Amends), a.Withdraws
	}
	return r, nil
}

// HandleReport classifies an admitted report, matches it against the
// rules, and commits what it does to every matching rule's alert in one
// step, then publishes the changes. Handling the same report again
// publishes the changes it made the first time and changes nothing, so
// redelivery is safe. A report that matches no rule is still stored.
func (e *Engine) HandleReport(ctx context.Context, r *Report, receivedAt time.Time) error {
	for range maxAttempts {
		c, err := e.planReport(ctx, r, receivedAt, nil)
		if err != nil {
			return err
		}
		changes, err := e.store.Commit(ctx, c)
		switch {
		case errors.Is(err, ErrDuplicate):
			// Processed before (a redelivery): the first attempt may have
			// committed and died before publishing, so publish again what
			// it committed. Checking first would cost every report a
			// round trip to spare the rare redelivery one plan.
			changes, seen, err := e.store.ReportChanges(ctx, r.ID)
			if err != nil {
				return fmt.Errorf("handle report %s: %w", r.ID, err)
			}
			if seen {
				e.heard(ctx, r, receivedAt) // in case the first attempt died before
				return e.republish(ctx, changes)
			}
			continue
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return fmt.Errorf("handle report %s: %w", r.ID, err)
		}
		e.stored(r)
		e.heard(ctx, r, receivedAt)
		return e.committed(ctx, c, changes)
	}
	return fmt.Errorf("handle report %s: gave up after %d concurrent changes", r.ID, maxAttempts)
}

// HandleReports handles reports that arrived one after another, as
// HandleReport would one at a time, with one commit for them all where it
// can: each report is planned on what the reports before it change, and
// the plans are committed in one step. A report whose commit finds its
// premises changed (another writer, a redelivery), and every report after
// it, is handled alone. It returns one error per report, nil when handled.
func (e *Engine) HandleReports(ctx context.Context, rs []*Report, receivedAt []time.Time) []error {
	errs := make([]error, len(rs))
	if len(rs) == 1 {
		errs[0] = e.HandleReport(ctx, rs[0], receivedAt[0])
		return errs
	}
	ov := &overlay{alerts: map[string]*Alert{}, pending: map[string][]PendingReport{}}
	commits := make([]Commit, 0, len(rs))
	planned := make([]int, 0, len(rs)) // index in rs of each commit
	alone := len(rs)                   // reports from here on are handled alone
	for i, r := range rs {
		if r.Amends != "" && i > 0 {
			// It may amend a report planned before it and not yet stored:
			// handled alone, once those are.
			alone = i
			break
		}
		c, err := e.planReport(ctx, r, receivedAt[i], ov)
		if err != nil {
			errs[i] = err
			if ErrorCode(err) == EINVALID {
				continue // this report changes nothing; the next ones plan on without it
			}
			// The ones after it cannot plan on what it would have done:
			// each gets its own outcome, handled alone after the rest.
			alone = i + 1
			break
		}
		ov.apply(c)
		commits, planned = append(commits, c), append(planned, i)
	}
	defer func() {
		for j := alone; j < len(rs); j++ {
			errs[j] = e.HandleReport(ctx, rs[j], receivedAt[j])
		}
	}()
	if len(commits) == 0 {
		return errs
	}
	done, err := e.store.CommitAll(ctx, commits)
	if err != nil && !errors.Is(err, ErrStale) && !errors.Is(err, ErrDuplicate) {
		err = fmt.Errorf("handle %d reports: %w", len(commits)-len(done), err)
	}
	for k := range done {
		e.stored(rs[planned[k]])
		e.heard(ctx, rs[planned[k]], receivedAt[planned[k]])
	}
	e.publishAll(ctx, commits[:len(done)], done, func(k int, err error) { errs[planned[k]] = err })
	for k := len(done); k < len(commits); k++ {
		i := planned[k]
		if err != nil && !errors.Is(err, ErrStale) && !errors.Is(err, ErrDuplicate) {
			errs[i] = err // the store failed: no point trying each alone
			continue
		}
		errs[i] = e.HandleReport(ctx, rs[i], receivedAt[i])
	}
	return errs
}

// publishAll nudges the dispatcher when commits queued deliveries, and
// publishes their changes, all at once when the publisher can; failed is
// called with the index of every commit a change of which failed.
func (e *Engine) publishAll(ctx context.Context, commits []Commit, changes [][]Change, failed func(k int, err error)) {
	bp, ok := e.publisher.(ChangesPublisher)
	if !ok {
		for k, c := range commits {
			if err := e.committed(ctx, c, changes[k]); err != nil {
				failed(k, err)
			}
		}
		return
	}
	if e.queued != nil && slices.ContainsFunc(commits, Commit.queuesDeliveries) {
		e.queued()
	}
	var all []Change
	var owner []int
	for k, cs := range changes {
		for _, ch := range cs {
			all, owner = append(all, ch), append(owner, k)
		}
	}
	for i, err := range bp.PublishChanges(ctx, all) {
		if err != nil {
			failed(owner[i], fmt.Errorf("publish %s/%d: %w", all[i].Zone, all[i].Seq, err))
		}
	}
}

// committed nudges the dispatcher when c queued deliveries and publishes
// its changes.
func (e *Engine) committed(ctx context.Context, c Commit, changes []Change) error {
	if e.queued != nil && c.queuesDeliveries() {
		e.queued()
	}
	for _, ch := range changes {
		if err := e.publish(ctx, ch); err != nil {
			return err
		}
	}
	return nil
}

// overlay is what the reports planned so far in HandleReports do to groups
// and threshold counts, which later reports must see before it is
// committed.
type overlay struct {
	alerts  map[string]*Alert          // group key → the alert it will be bound to
	pending map[string][]PendingReport // group key → the reports it will count
}

func (o *overlay) apply(c Commit) {
	for _, ac := range c.Alerts {
		if ac.GroupKey != "" {
			o.alerts[ac.GroupKey] = ac.Alert
		}
	}
	for _, pc := range c.Pending {
		switch {
		case pc.Clear:
			o.pending[pc.GroupKey] = []PendingReport{}
		case pc.Add != nil:
			o.pending[pc.GroupKey] = append(slices.Clip(o.pending[pc.GroupKey]), *pc.Add)
		}
	}
}

// classify is Catalog.Classify, and whether the report is late: it arrived
// (receivedAt, when JetStream stored it, so that a replay judges it the
// same) more than lateAfter after it was observed.
func (e *Engine) classify(catalog *Catalog, r *Report, receivedAt time.Time) (Classification, *Env) {
	cl, env := catalog.Classify(r)
	if e.lateAfter > 0 && !receivedAt.IsZero() && receivedAt.Sub(r.ObservedAt) > e.lateAfter {
		cl.Late = true
		env.Report.Late = true
	}
	return cl, env
}

// planReport classifies r, matches it, and plans its commit; ov, when not
// nil, holds what earlier reports of a batch change.
func (e *Engine) planReport(ctx context.Context, r *Report, receivedAt time.Time, ov *overlay) (Commit, error) {
	catalog := e.catalog.Catalog()
	zone, ok := catalog.Zone(r.Zone)
	if !ok {
		return Commit{}, Errorf(EINVALID, "unknown zone %q", r.Zone)
	}
	cl, env := e.classify(catalog, r, receivedAt)
	rules, failed := catalog.Match(r, cl, env)
	for _, f := range failed {
		cl.Failed = append(cl.Failed, f.String())
		e.logger.Error("a rule's condition failed on a report; the report is handled without the rule", "rule", f.Rule, "report", r.ID, "zone", r.Zone, "err", f.Err)
		if e.ruleFailed != nil {
			e.ruleFailed(ctx, f, r)
		}
	}
	active := rules[:0:0]
	for _, rule := range rules {
		if s := catalog.Suppression(r.Zone, rule.ID, r.ObservedAt); s != nil {
			cl.Suppressed = append(cl.Suppressed, rule.ID+" ("+s.ID+")")
			continue
		}
		cl.Rules = append(cl.Rules, rule.ID)
		active = append(active, rule)
	}
	c := Commit{Report: r, ReceivedAt: receivedAt, Classification: cl}
	if r.Amends != "" && r.Amends != r.ID {
		amended, err := e.planAmendment(ctx, &c, r, ov)
		if err != nil {
			return Commit{}, fmt.Errorf("handle report %s: %w", r.ID, err)
		}
		if amended || r.Withdraws {
			// The same incident, told again or taken back: it changes the
			// alerts that hold it, and never opens or counts towards
			// another one.
			return c, nil
		}
		// An update of a report that no alert holds is judged as a report.
	}
	for _, rule := range active {
		if err := e.plan(ctx, &c, rule, zone, r, ov); err != nil {
			return Commit{}, fmt.Errorf("handle report %s: %w", r.ID, err)
		}
	}
	return c, nil
}

// planAmendment adds to c the change r makes to every alert that holds the
// report it amends (r.Amends, or the update standing for it now), and says
// whether there was one. The alerts are those the amended report changed
// when it was itself an amendment, else those of the rules it matched.
func (e *Engine) planAmendment(ctx context.Context, c *Commit, r *Report, ov *overlay) (bool, error) {
	orig, err := e.store.Report(ctx, r.Amends)
	if ErrorCode(err) == ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	catalog, now := e.catalog.Catalog(), e.now()
	var candidates []*Alert
	for _, id := range orig.Classification.Amended {
		a, err := e.store.Alert(ctx, id)
		if ErrorCode(err) == ENOTFOUND {
			continue
		}
		if err != nil {
			return false, err
		}
		candidates = append(candidates, a)
	}
	for _, id := range orig.Classification.Rules {
		if rule := catalog.rule(id); rule != nil {
			a, err := e.groupAlert(ctx, rule.groupKey(&orig.Report), ov)
			if err != nil {
				return false, err
			}
			if a != nil {
				candidates = append(candidates, a)
			}
		}
	}
	seen := map[string]bool{}
	for _, current := range candidates {
		if seen[current.ID] {
			continue
		}
		seen[current.ID] = true
		standing, withdrawn := current.Standing(r.Amends)
		if withdrawn || standing == r.ID {
			continue
		}
		holds := slices.Contains(current.ReportIDs, standing)
		if !holds {
			if holds, err = e.store.AlertHolds(ctx, current.ID, standing); err != nil {
				return false, err
			}
		}
		if !holds {
			continue
		}
		old := &orig.Report
		if standing != r.Amends {
			sr, err := e.store.Report(ctx, standing)
			if err != nil {
				return false, err
			}
			old = &sr.Report
		}
		var fixed Severity
		if rule := catalog.rule(current.Rule); rule != nil {
			fixed = rule.Severity
		}
		next, event := current.Amend(old, r, fixed, now), EventUpdated
		if policy, ok := catalog.Policy(current.Policy); ok && policy.OnWorsened == OnWorsenedReopen && next.Worsened != current.Worsened {
			next.ReopenWorsened(policy, catalog, now)
			event = EventReopened
		}
		c.Alerts = append(c.Alerts, AlertChange{Alert: next, Event: event, ReportIDs: []string{r.ID},
			Enqueue: Outbox(current, next)})
		c.Classification.Amended = append(c.Classification.Amended, current.ID)
	}
	if len(c.Alerts) > 0 {
		c.Classification.Rules = nil // it acted on the alerts it amends, not through rules
	}
	return len(c.Alerts) > 0, nil
}

// MarkProcessed returns the commit that marks a report processed, as
// classified now, without handling it again: for a report already in the
// alerts a store gets back from the compacted record.
func (e *Engine) MarkProcessed(r *Report, receivedAt time.Time) Commit {
	catalog := e.catalog.Catalog()
	cl, env := e.classify(catalog, r, receivedAt)
	rules, _ := catalog.Match(r, cl, env)
	for _, rule := range rules {
		cl.Rules = append(cl.Rules, rule.ID)
	}
	return Commit{Redo: true, Report: r, ReceivedAt: receivedAt, Classification: cl}
}

// groupAlert is the alert a group is bound to, as ov will leave it.
func (e *Engine) groupAlert(ctx context.Context, key string, ov *overlay) (*Alert, error) {
	if ov != nil {
		if a, ok := ov.alerts[key]; ok {
			return a, nil
		}
	}
	return e.store.GroupAlert(ctx, key)
}

// pending are the reports a group's threshold counts, as ov will leave
// them; what it reads from the store, ov remembers.
func (e *Engine) pending(ctx context.Context, key string, ov *overlay) ([]PendingReport, error) {
	if ov != nil {
		if p, ok := ov.pending[key]; ok {
			return p, nil
		}
	}
	p, err := e.store.Pending(ctx, key)
	if err == nil && ov != nil {
		ov.pending[key] = p
	}
	return p, err
}

// plan adds to c what r does to rule's alert: update it, open it, or count
// towards the rule's threshold.
func (e *Engine) plan(ctx context.Context, c *Commit, rule *compiledRule, zone Zone, r *Report, ov *overlay) error {
	key := rule.groupKey(r)
	window := rule.window()
	ttl := window + 24*time.Hour
	current, err := e.groupAlert(ctx, key, ov)
	if err != nil {
		return err
	}
	now := e.now()
	policy, hasPolicy := e.catalog.Catalog().Policy(rule.Policy)
	if current != nil && slices.Contains(current.ReportIDs, r.ID) {
		return nil // the alert has this report already: never count it twice
	}
	// A late report pages nobody unless the rule takes late reports: it
	// joins its group's alert only while that is active, without
	// reopening it or starting its escalation over, and otherwise opens
	// and counts towards nothing; the classification says so.
	held := c.Classification.Late && rule.Late != LateInclude
	if held && (current == nil || !current.Active() || !(Grouping{Rule: rule.ID, Window: window}).Admits(current, r)) {
		c.Classification.Rules = slices.DeleteFunc(c.Classification.Rules, func(id string) bool { return id == rule.ID })
		c.Classification.LateHeld = append(c.Classification.LateHeld, rule.ID)
		return nil
	}
	if current != nil && (Grouping{Rule: rule.ID, Window: window}).Admits(current, r) {
		next, event := current.AddReport(r, rule.Severity, now)
		switch {
		case held:
			// joins the active alert as it stands: no reopening on
			// worsening, no escalation started over
		case event == EventReopened && hasPolicy:
			next.restartEscalation(policy, e.catalog.Catalog(), now)
		case hasPolicy && policy.OnWorsened == OnWorsenedReopen && next.Worsened != current.Worsened:
			next.ReopenWorsened(policy, e.catalog.Catalog(), now)
			event = EventReopened
		}
		c.Alerts = append(c.Alerts, AlertChange{Alert: next, Event: event, ReportIDs: []string{r.ID},
			GroupKey: key, PrevGroupAlert: current.ID, GroupTTL: ttl, Enqueue: Outbox(current, next)})
		return nil
	}
	var earlier []PendingReport
	if rule.threshold() > 1 {
		pending, err := e.pending(ctx, key, ov)
		if err != nil {
			return err
		}
		for _, p := range pending {
			if d := p.ObservedAt.Sub(r.ObservedAt); d <= window && d >= -window && p.ID != r.ID {
				earlier = append(earlier, p)
			}
		}
		if len(earlier)+1 < rule.threshold() {
			add := r.Pending()
			c.Pending = append(c.Pending, PendingChange{GroupKey: key, Expect: len(pending), Add: &add, TTL: 2 * window})
			return nil
		}
		c.Pending = append(c.Pending, PendingChange{GroupKey: key, Expect: len(pending), Clear: true})
	}
	prev := ""
	if current != nil {
		prev = current.ID
	}
	a := OpenAlert(Opening{ID: e.newID(), ZoneName: zone.Name, Title: rule.title(zone), Rule: rule.ID, RuleName: rule.Name, GroupKey: key, Policy: rule.Policy,
		Severity: rule.Severity, Classification: c.Classification, Earlier: earlier}, r, now)
	if hasPolicy {
		a.StartEscalation(policy, e.catalog.Catalog(), now)
	}
	ids := make([]string, 0, len(earlier)+1)
	for _, p := range earlier {
		ids = append(ids, p.ID)
	}
	c.Alerts = append(c.Alerts, AlertChange{Alert: a, Event: EventOpened, ReportIDs: append(ids, r.ID),
		GroupKey: key, PrevGroupAlert: prev, GroupTTL: ttl, Enqueue: Outbox(nil, a)})
	return nil
}

// Acknowledge records actor's acknowledgement of an alert.
func (e *Engine) Acknowledge(ctx context.Context, id string, actor Actor, note string) (*Alert, error) {
	return e.act(ctx, id, EventAcknowledged, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Acknowledge(actor, note, now)
	})
}

// Resolve closes an alert; on an alert that needs several parties'
// acknowledgement, a party's people only agree to resolve it for their
// party, and the last required party's agreement closes it (Alert.Resolve).
func (e *Engine) Resolve(ctx context.Context, id string, actor Actor, note string) (*Alert, error) {
	return e.act(ctx, id, EventResolved, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Resolve(actor, note, now)
	})
}

// Verify records a party's verification of an alert; its summary names
// parties by their configured names.
func (e *Engine) Verify(ctx context.Context, id string, actor Actor, status Verification, reason string) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.verify(actor, status, reason, e.partyName, now)
	})
}

// Attribute records a party's judgement of the allegation that alleged, a
// configured party, did what the alert is about (Alert.Attribute).
func (e *Engine) Attribute(ctx context.Context, id string, actor Actor, alleged string, status AttributionStatus, reason string) (*Alert, error) {
	known := func(p string) bool { _, ok := e.catalog.Catalog().Party(p); return ok }
	if err := CheckAttribution(actor, alleged, status, reason, known); err != nil {
		return nil, err
	}
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Attribute(actor, alleged, status, reason, now)
	})
}

// partyName is a party's configured name, or "" for a party not
// configured.
func (e *Engine) partyName(id string) string {
	p, _ := e.catalog.Catalog().Party(id)
	return p.Name
}

// Comment adds a comment to an alert's timeline.
func (e *Engine) Comment(ctx context.Context, id string, actor Actor, text string) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Comment(actor, text, now)
	})
}

// Snooze holds an alert's escalation until a time.
func (e *Engine) Snooze(ctx context.Context, id string, actor Actor, until time.Time, note string) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Snooze(actor, until, note, now)
	})
}

// AskInfo requests information from a party about an alert, with a
// deadline (Alert.AskInfo).
func (e *Engine) AskInfo(ctx context.Context, id string, actor Actor, q InfoQuestion) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.AskInfo(actor, q, e.catalog.Catalog(), now)
	})
}

// AnswerInfo records a party's answer to a request for information
// (Alert.AnswerInfo).
func (e *Engine) AnswerInfo(ctx context.Context, id string, actor Actor, request, text string, attachments []string) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.AnswerInfo(actor, request, text, attachments, now)
	})
}

// WithdrawInfo withdraws a request for information (Alert.WithdrawInfo).
func (e *Engine) WithdrawInfo(ctx context.Context, id string, actor Actor, request, reason string) (*Alert, error) {
	return e.act(ctx, id, EventUpdated, func(a *Alert, now time.Time) (*Alert, error) {
		return a.WithdrawInfo(actor, request, reason, now)
	})
}

// act applies a person's action to an alert with optimistic concurrency.
func (e *Engine) act(ctx context.Context, id string, event Event, apply func(*Alert, time.Time) (*Alert, error)) (*Alert, error) {
	for range maxAttempts {
		a, err := e.store.Alert(ctx, id)
		if err != nil {
			return nil, err
		}
		next, err := apply(a, e.now())
		if err != nil {
			return nil, err
		}
		if event == EventResolved && next.State != StateResolved {
			event = EventUpdated // a party agreed to resolve; the others have not yet
		}
		changes, err := e.store.Commit(ctx, Commit{Alerts: []AlertChange{{Alert: next, Event: event}}})
		switch {
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return nil, fmt.Errorf("%s alert %s: %w", event, id, err)
		}
		change := changes[0]
		if err := e.publish(ctx, change); err != nil {
			// The change is made (boards get it from Redis) but not
			// recorded in the stream, the record a Redis that goes back
			// in time is healed from: it is stored there once NATS is
			// back, and until then the action is not answered as done.
			e.logger.Warn("change committed but not published", "alert", id, "seq", change.Seq, "err", err)
			return nil, &Error{Code: EUNAVAILABLE, Cause: err, Message: "the change was made, but the alert stream (NATS) has not recorded it yet; " +
				"it will be once NATS is back: look at the alert before making the change again"}
		}
		return next, nil
	}
	return nil, Errorf(ECONFLICT, "alert %s is changing too fast; try again", id)
}

func (e *Engine) publish(ctx context.Context, c Change) error {
	if err := e.publisher.PublishChange(ctx, c); err != nil {
		return fmt.Errorf("publish %s/%d: %w", c.Zone, c.Seq, err)
	}
	return nil
}

// republish sends again the changes a report made when first processed: the
// first attempt may have committed and then died before publishing.
func (e *Engine) republish(ctx context.Context, changes []Change) error {
	for _, c := range changes {
		if err := e.publish(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// heard records the heartbeat a report is, for the monitors it counts for.
// A heartbeat that fails to be recorded is logged: the report stands.
func (e *Engine) heard(ctx context.Context, r *Report, receivedAt time.Time) {
	if e.sources == nil {
		return
	}
	if err := HeardReport(ctx, e.sources, e.catalog.Catalog(), r, receivedAt); err != nil {
		e.logger.Warn("a report's heartbeat was not recorded; its source may show silent", "report", r.ID, "err", err)
	}
}
