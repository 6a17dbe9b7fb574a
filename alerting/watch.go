package alerting

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Sources keeps what is known of monitored sources (Source) and a timer
// per source: when its monitor must next look at it. Timers are claimed
// with a lease, as escalation timers are, so that one replica looks at a
// source at a time and another takes over if it dies.
type Sources interface {
	// WatchSources starts watching, at now, each monitor that has no
	// state (new, or lost with Redis), and makes a timer due now for each
	// one that has none.
	WatchSources(ctx context.Context, monitors []string, now time.Time) error
	// SourceStates returns the sources' states, by monitor; a monitor not
	// watched yet is missing.
	SourceStates(ctx context.Context, monitors []string) (map[string]Source, error)
	// Heard records that a monitor's source was heard at at (a later beat
	// wins) and makes its timer due at at, so that its silent alert, if
	// any, resolves without waiting.
	Heard(ctx context.Context, monitor string, at time.Time) error
	// ClaimDueSources leases up to limit due source timers and says when
	// the earliest one left comes due (zero when there is none).
	ClaimDueSources(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, time.Time, error)
	// SetSourceTimer sets (nil: removes) a source's timer, unless the
	// source was heard since it was read as s: then the timer the
	// heartbeat set stands.
	SetSourceTimer(ctx context.Context, s Source, at *time.Time) error
}

// sourceSweepInterval is how often every monitor is made sure to be
// watched, with a timer: after Redis lost them, within this.
const sourceSweepInterval = 30 * time.Second

// watchSources looks at the sources whose timers are due: it opens,
// reopens or resolves their silent alerts (Monitor.Watch). It returns
// when the earliest source timer left comes due.
func (e *Escalator) watchSources(ctx context.Context) (time.Time, error) {
	catalog := e.o.Catalog.Catalog()
	now := e.o.Now()
	if now.Sub(e.lastSweep) >= sourceSweepInterval || catalog.Version != e.sweepVersion {
		ids := make([]string, len(catalog.Monitors()))
		for i, m := range catalog.Monitors() {
			ids[i] = m.ID
		}
		if err := e.o.Sources.WatchSources(ctx, ids, now); err != nil {
			return time.Time{}, err
		}
		e.lastSweep, e.sweepVersion = now, catalog.Version
	}
	for {
		ids, next, err := e.o.Sources.ClaimDueSources(ctx, e.o.Now(), 256, e.o.Lease)
		if err != nil {
			return time.Time{}, err
		}
		for _, id := range ids {
			if err := e.watchSource(ctx, id); err != nil {
				e.logger.Warn("watching a source failed; the timer's lease will bring it back", "monitor", id, "err", err)
			}
		}
		if len(ids) < 256 {
			return next, nil
		}
	}
}

// watchSource applies one monitor's verdict on its source.
func (e *Escalator) watchSource(ctx context.Context, id string) error {
	for range maxAttempts {
		catalog := e.o.Catalog.Catalog()
		m, ok := catalog.Monitor(id)
		if !ok {
			return e.o.Sources.SetSourceTimer(ctx, Source{Monitor: id}, nil)
		}
		states, err := e.o.Sources.SourceStates(ctx, []string{id})
		if err != nil {
			return err
		}
		s, ok := states[id]
		if !ok {
			return e.o.Sources.WatchSources(ctx, []string{id}, e.o.Now())
		}
		bound, err := e.o.Store.GroupAlert(ctx, SourceKey(id))
		if err != nil {
			return err
		}
		zoneName := m.Zones[0]
		if z, ok := catalog.Zone(m.Zones[0]); ok {
			zoneName = z.Name
		}
		policy, _ := catalog.Policy(m.Policy)
		change, next := m.Watch(s, bound, zoneName, policy, catalog, e.newID, e.o.Now())
		if change != nil {
			c := *change
			prev := bound
			if c.Event == EventOpened {
				prev = nil
			}
			c.Enqueue = Outbox(prev, c.Alert)
			changes, err := e.o.Store.Commit(ctx, Commit{Alerts: []AlertChange{c}})
			if errors.Is(err, ErrStale) {
				continue // another replica got there first, or the alert moved: look again
			}
			if err != nil {
				return err
			}
			if len(c.Enqueue) > 0 && e.o.Queued != nil {
				e.o.Queued()
			}
			if err := e.o.Publisher.PublishChange(ctx, changes[0]); err != nil {
				e.logger.Warn("silent source's alert committed but not published", "monitor", id, "err", err)
			}
		}
		return e.o.Sources.SetSourceTimer(ctx, s, next)
	}
	return fmt.Errorf("monitor %s's alert is changing too fast", id)
}

// HeardReport records, for each monitor whose source submitted r (see
// Monitor.Reports), that it was heard at now.
func HeardReport(ctx context.Context, sources Sources, catalog *Catalog, r *Report, now time.Time) error {
	for _, id := range catalog.HeardBy(r) {
		if err := sources.Heard(ctx, id, now); err != nil {
			return err
		}
	}
	return nil
}

// GroupReader finds the alert a group key is bound to; a Store is one.
type GroupReader interface {
	GroupAlert(ctx context.Context, groupKey string) (*Alert, error)
}

// SourceWatch serves heartbeats and the sources' states to the HTTP API
// and the board.
type SourceWatch struct {
	Sources Sources
	Groups  GroupReader
	Catalog CatalogSource
	// Silent, when set, reads the silent alerts for the daily summary's
	// silent periods (Silences).
	Silent SilentAlertReader
}

// MayBeat reports whether p may send m's heartbeats: an admin or a duty
// officer; otherwise one who may report in every zone of m and, when m
// names accounts (Reports.Accounts), is one of them, so that no party can
// keep another's silent source looking alive.
func (m *Monitor) MayBeat(p *Principal) bool {
	if p == nil {
		return false
	}
	if p.Role == RoleAdmin || p.Role == RoleDutyOfficer {
		return true
	}
	for _, z := range m.Zones {
		if !p.Submits(z) {
			return false
		}
	}
	return m.Reports == nil || len(m.Reports.Accounts) == 0 || slices.Contains(m.Reports.Accounts, p.User)
}

// Heartbeat records a heartbeat of monitor id's source from p at now.
func (w *SourceWatch) Heartbeat(ctx context.Context, p *Principal, id string, now time.Time) error {
	m, ok := w.Catalog.Catalog().Monitor(id)
	if !ok || !slices.ContainsFunc(m.Zones, p.SeesZone) && !slices.ContainsFunc(m.Zones, p.Submits) {
		return Errorf(ENOTFOUND, "no monitor %q", id)
	}
	if !m.MayBeat(p) {
		return Errorf(EFORBIDDEN, "%s may not send the heartbeats of monitor %s", p.User, id)
	}
	return w.Sources.Heard(ctx, id, now)
}

// Statuses returns the state at now of every monitored source that sees
// allows (any of its zones), in configuration order.
func (w *SourceWatch) Statuses(ctx context.Context, sees func(zone string) bool, now time.Time) ([]SourceStatus, error) {
	var ms []Monitor
	for _, m := range w.Catalog.Catalog().Monitors() {
		if slices.ContainsFunc(m.Zones, sees) {
			ms = append(ms, m)
		}
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	states, err := w.Sources.SourceStates(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]SourceStatus, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		s, ok := states[m.ID]
		if !ok {
			s = Source{Monitor: m.ID, Since: now} // watched from the next sweep on
		}
		bound, err := w.Groups.GroupAlert(ctx, SourceKey(m.ID))
		if err != nil {
			return nil, err
		}
		out = append(out, m.Status(s, bound, now))
	}
	return out, nil
}
