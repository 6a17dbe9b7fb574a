package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// CategorySourceSilent is the category of the alerts that a silent source
// raises (see Monitor). It is no report category: a report never has it.
const CategorySourceSilent Category = "source_silent"

// SourceSilentRule names the built-in rule of silent sources' alerts.
const SourceSilentRule = "source-silent"

// DefaultFlapWindow is a monitor's flap window when it says none.
const DefaultFlapWindow = time.Hour

// Monitor watches a source that must be heard regularly: an observation
// post, a party's reporting system, a NATS feed, a reporter account. A
// source silent for longer than Interval + Grace raises a source_silent
// alert in each of its zones' first, which resolves itself when the source
// is heard again. Silence is a signal: a zone whose sources are all silent
// is not quiet, it is unwatched.
type Monitor struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Kind says what the source is, for people: observation_post,
	// party_system, feed or reporter.
	Kind string `json:"kind,omitempty"`
	// Zones are the zone ids the source covers (no globs); the silent
	// alert opens in the first.
	Zones []string `json:"zones"`
	// Interval is how often the source must be heard; Grace how much later
	// than that it may still be heard before it counts as silent.
	Interval Duration `json:"interval"`
	Grace    Duration `json:"grace,omitempty"`
	// Policy escalates the silent alert; empty for none (the board only).
	Policy string `json:"policy,omitempty"`
	// Severity of the silent alert; empty means moderate.
	Severity Severity `json:"severity,omitempty"`
	// Schedule, when set, is when the source is expected to be heard (an
	// observation post manned by day); outside it the monitor is paused.
	Schedule *Recurrence `json:"schedule,omitempty"`
	// Reports, when set, makes the reports the source submits count as
	// heartbeats (see Heard).
	Reports *HeardBy `json:"reports,omitempty"`
	// FlapWindow is how soon after its silent alert resolved a source
	// that falls silent again reopens that alert without paging anyone;
	// zero means DefaultFlapWindow.
	FlapWindow Duration `json:"flap_window,omitempty"`
}

// HeardBy says which reports in a monitor's zones are its source's: those
// whose reported_by is one of ReportedBy, or that one of Accounts (a
// truceline or NATS user) submitted.
type HeardBy struct {
	ReportedBy []string `json:"reported_by,omitempty"`
	Accounts   []string `json:"accounts,omitempty"`
}

// Monitor kinds.
var monitorKinds = []string{"observation_post", "party_system", "feed", "reporter"}

// Deadline is the time by which a source last heard (or first watched) at
// last must be heard again: last + Interval + Grace, or, when that falls
// outside the monitor's schedule, Interval + Grace after the schedule's
// next window starts.
func (m *Monitor) Deadline(last time.Time) time.Time {
	d := last.Add(m.allowed())
	if m.Schedule == nil || m.Schedule.covers(d) {
		return d
	}
	if start, ok := m.Schedule.nextStart(d); ok {
		return start.Add(m.allowed())
	}
	return d
}

func (m *Monitor) allowed() time.Duration { return time.Duration(m.Interval) + time.Duration(m.Grace) }

// Paused reports whether the monitor's schedule expects nothing at t.
func (m *Monitor) Paused(t time.Time) bool { return m.Schedule != nil && !m.Schedule.covers(t) }

func (m *Monitor) flapWindow() time.Duration {
	if m.FlapWindow > 0 {
		return time.Duration(m.FlapWindow)
	}
	return DefaultFlapWindow
}

func (m *Monitor) severity() Severity {
	if m.Severity != "" {
		return m.Severity
	}
	return SeverityModerate
}

// Label is the monitor as people read it.
func (m *Monitor) Label() string {
	if m.Name != "" {
		return m.Name
	}
	return m.ID
}

// Heard reports whether a report is its source's (Reports).
func (m *Monitor) Heard(r *Report) bool {
	if m.Reports == nil || !slices.Contains(m.Zones, r.Zone) {
		return false
	}
	if slices.Contains(m.Reports.ReportedBy, r.ReportedBy) {
		return true
	}
	return r.SubmittedBy != nil && r.SubmittedBy.User != "" && slices.Contains(m.Reports.Accounts, r.SubmittedBy.User)
}

// nextStart is the first time after t at which the recurrence's window
// opens.
func (r *Recurrence) nextStart(t time.Time) (time.Time, bool) {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		loc = time.UTC
	}
	from, err := minuteOfDay(r.From)
	if err != nil {
		return time.Time{}, false
	}
	local := t.In(loc)
	for d := 0; d <= 8; d++ {
		day := local.AddDate(0, 0, d)
		start := time.Date(day.Year(), day.Month(), day.Day(), from/60, from%60, 0, 0, loc)
		if start.After(t) && r.onDay(start.Weekday()) {
			return start, true
		}
	}
	return time.Time{}, false
}

// validateMonitors adds the problems of the monitors to add.
func (c *Config) validateMonitors(add func(path, format string, args ...any), zones, policies map[string]bool) {
	seen := map[string]bool{}
	for i, m := range c.Monitors {
		p := fmt.Sprintf("$.monitors[%d]", i)
		if !ValidZoneID(m.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		}
		if seen[m.ID] {
			add(p+".id", "monitor %q is defined twice", m.ID)
		}
		seen[m.ID] = true
		if m.Kind != "" && !slices.Contains(monitorKinds, m.Kind) {
			add(p+".kind", "must be one of %v", monitorKinds)
		}
		if len(m.Zones) == 0 {
			add(p+".zones", "must name at least one zone")
		}
		for j, z := range m.Zones {
			if !zones[z] {
				add(fmt.Sprintf("%s.zones[%d]", p, j), "unknown zone %q (monitors name zones, not globs)", z)
			}
		}
		if m.Interval < Duration(10*time.Second) || m.Interval > Duration(7*24*time.Hour) {
			add(p+".interval", "must be between 10s and 168h")
		}
		if m.Grace < 0 || m.Grace > Duration(24*time.Hour) {
			add(p+".grace", "must be between 0 and 24h")
		}
		if m.FlapWindow < 0 || m.FlapWindow > Duration(7*24*time.Hour) {
			add(p+".flap_window", "must be between 0 and 168h")
		}
		if m.Policy != "" && !policies[m.Policy] {
			add(p+".policy", "unknown policy %q", m.Policy)
		}
		if m.Severity != "" && !m.Severity.Valid() {
			add(p+".severity", "must be minor, moderate, severe or extreme")
		}
		if s := m.Schedule; s != nil {
			s.validate(func(sub, format string, args ...any) { add(p+".schedule"+sub, format, args...) })
		}
		if h := m.Reports; h != nil && len(h.ReportedBy) == 0 && len(h.Accounts) == 0 {
			add(p+".reports", "must name reported_by values or accounts whose reports count as heartbeats")
		}
	}
}

// Monitor returns the monitor with the given id.
func (c *Catalog) Monitor(id string) (*Monitor, bool) {
	for i := range c.config.Monitors {
		if c.config.Monitors[i].ID == id {
			return &c.config.Monitors[i], true
		}
	}
	return nil, false
}

// Monitors returns the configured monitors, in configuration order.
func (c *Catalog) Monitors() []Monitor { return c.config.Monitors }

// HeardBy returns the monitors whose source submitted r (see
// Monitor.Heard).
func (c *Catalog) HeardBy(r *Report) []string {
	var out []string
	for i := range c.config.Monitors {
		if c.config.Monitors[i].Heard(r) {
			out = append(out, c.config.Monitors[i].ID)
		}
	}
	return out
}

// SourceKey is the group key of a monitor's silent alert: one alert per
// monitor at a time, so that replicas that notice the same silence open it
// once.
func SourceKey(monitor string) string { return SourceSilentRule + ":" + monitor }

// Source is what the store keeps of a monitored source.
type Source struct {
	Monitor string `json:"monitor"`
	// Since is when the source was first watched (the monitor configured,
	// or its state lost and watched afresh).
	Since time.Time `json:"since"`
	// Heard is when it was last heard; nil when never.
	Heard *time.Time `json:"heard,omitempty"`
}

// last is the time the source's deadline counts from.
func (s Source) last() time.Time {
	if s.Heard != nil && s.Heard.After(s.Since) {
		return *s.Heard
	}
	return s.Since
}

// Source states, as the board shows them.
const (
	SourceHeard   = "heard"   // heard within its interval
	SourceWaiting = "waiting" // watched, never heard yet, not yet due
	SourceLate    = "late"    // past its interval, within its grace
	SourceSilent  = "silent"  // past interval and grace: its alert is open
	SourcePaused  = "paused"  // outside its schedule: nothing expected
)

// SourceStates lists the states a source can be in.
var SourceStates = []string{SourceHeard, SourceWaiting, SourceLate, SourceSilent, SourcePaused}

// SourceStatus is a monitored source as the board shows it.
type SourceStatus struct {
	Monitor  string     `json:"monitor"`
	Name     string     `json:"name"`
	Kind     string     `json:"kind,omitempty"`
	Zones    []string   `json:"zones"`
	State    string     `json:"state"`
	Heard    *time.Time `json:"heard,omitempty"`
	Deadline time.Time  `json:"deadline"`
	// Alert is the open silent alert's id, when there is one.
	Alert string `json:"alert,omitempty"`
	// SilentSince is when the source was last heard (or first watched),
	// while it is silent.
	SilentSince *time.Time `json:"silent_since,omitempty"`
}

// Status says where a source stands at now; bound is the alert its
// SourceKey is bound to, or nil.
func (m *Monitor) Status(s Source, bound *Alert, now time.Time) SourceStatus {
	st := SourceStatus{Monitor: m.ID, Name: m.Label(), Kind: m.Kind, Zones: m.Zones, Heard: s.Heard, Deadline: m.Deadline(s.last())}
	last := s.last()
	switch {
	case bound != nil && bound.Active() && !heardAfter(s, bound.FirstSeen):
		st.State, st.Alert = SourceSilent, bound.ID
		since := bound.FirstSeen
		st.SilentSince = &since
	case !now.Before(st.Deadline):
		st.State = SourceSilent
		st.SilentSince = &last
	case m.Paused(now):
		st.State = SourcePaused
	case !now.Before(last.Add(time.Duration(m.Interval))):
		st.State = SourceLate
	case s.Heard == nil:
		st.State = SourceWaiting
	default:
		st.State = SourceHeard
	}
	return st
}

func heardAfter(s Source, t time.Time) bool { return s.Heard != nil && s.Heard.After(t) }

// Watch is what a monitor's timer coming due does: the change to its
// silent alert, if any (opened, reopened or resolved), and when the timer
// is next due (nil: only a heartbeat moves it). bound is the alert its
// SourceKey is bound to, or nil.
//
//   - Silent: at Deadline(last heard) with no active alert, a source_silent
//     alert opens in the monitor's first zone and its policy escalates.
//   - Flapping: when the source's previous silent alert resolved less than
//     FlapWindow ago, that alert reopens instead, without starting its
//     escalation over: a source that comes and goes shows on the board
//     every time, and pages once.
//   - Heard again: an active alert resolves as soon as the source is heard
//     after the silence began, the silent period on its timeline.
//   - A person who resolves the alert while the source is still silent
//     gives it a fresh Interval + Grace from then.
func (m *Monitor) Watch(s Source, bound *Alert, zoneName string, p Policy, dir Directory, newID func() string, now time.Time) (*AlertChange, *time.Time) {
	last := s.last()
	if bound != nil && bound.ResolvedAt != nil && bound.ResolvedAt.After(last) {
		last = *bound.ResolvedAt
	}
	if bound != nil && bound.Active() {
		if !heardAfter(s, bound.FirstSeen) {
			return nil, nil // silent still: wait for a heartbeat
		}
		b := bound.clone()
		heard := *s.Heard
		b.State, b.ResolvedAt, b.LastSeen = StateResolved, &now, heard
		b.stopEscalation("resolved")
		b.touch(now, Entry{By: engineActor, Action: EventResolved, Note: fmt.Sprintf("%s heard again at %s after %s of silence (silent since %s)",
			m.Label(), heard.UTC().Format(time.RFC3339), heard.Sub(bound.FirstSeen).Round(time.Second), bound.FirstSeen.UTC().Format(time.RFC3339))})
		next := m.Deadline(heard)
		return &AlertChange{Alert: b, Event: EventResolved, GroupKey: SourceKey(m.ID), PrevGroupAlert: bound.ID, GroupTTL: sourceKeyTTL}, &next
	}
	deadline := m.Deadline(last)
	if now.Before(deadline) {
		return nil, &deadline
	}
	note := fmt.Sprintf("%s not heard since %s: its interval %s and grace %s have passed; the quiet of %s means nothing until it is heard",
		m.Label(), last.UTC().Format(time.RFC3339), time.Duration(m.Interval), time.Duration(m.Grace), strings.Join(m.Zones, ", "))
	if s.Heard == nil {
		note = fmt.Sprintf("%s never heard since it was watched at %s: its interval %s and grace %s have passed; the quiet of %s means nothing until it is heard",
			m.Label(), last.UTC().Format(time.RFC3339), time.Duration(m.Interval), time.Duration(m.Grace), strings.Join(m.Zones, ", "))
	}
	if bound != nil && bound.ResolvedAt != nil && now.Sub(*bound.ResolvedAt) < m.flapWindow() {
		b := bound.clone()
		b.State, b.ResolvedAt, b.FirstSeen, b.LastSeen = StateOpen, nil, last, last
		b.touch(now, Entry{By: engineActor, Action: EventReopened, Note: "silent again (flapping: reopened without paging anew). " + note})
		return &AlertChange{Alert: b, Event: EventReopened, GroupKey: SourceKey(m.ID), PrevGroupAlert: bound.ID, GroupTTL: sourceKeyTTL}, nil
	}
	a := &Alert{
		ID: newID(), Zone: m.Zones[0], Category: CategorySourceSilent, Rule: SourceSilentRule, RuleName: "Source silent",
		Title:    fmt.Sprintf("%s silent (%s)", m.Label(), zoneName),
		GroupKey: SourceKey(m.ID), Policy: m.Policy, Severity: m.severity(), State: StateOpen, Verification: Unverified,
		FirstSeen: last, LastSeen: last, OpenedAt: now, UpdatedAt: now, Acks: []Ack{}, ReportIDs: []string{}, Version: 1,
	}
	a.Timeline = []Entry{{At: now, By: engineActor, Action: EventOpened, Note: note}}
	if m.Policy != "" {
		a.StartEscalation(p, dir, now)
	}
	prev := ""
	if bound != nil {
		prev = bound.ID
	}
	return &AlertChange{Alert: a, Event: EventOpened, GroupKey: SourceKey(m.ID), PrevGroupAlert: prev, GroupTTL: sourceKeyTTL}, nil
}

// sourceKeyTTL is how long a monitor's group key stays bound to its last
// silent alert; every change renews it.
const sourceKeyTTL = 30 * 24 * time.Hour
