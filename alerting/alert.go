package alerting

import (
	"fmt"
	"sort"
	"time"
)

// State is where an alert stands in its handling.
type State string

// Alert states: open → acknowledged → resolved; a resolved alert that gets a
// new matching report within its window is reopened.
const (
	StateOpen         State = "open"
	StateAcknowledged State = "acknowledged"
	StateResolved     State = "resolved"
)

// Verification is what the centre has established about an alert's facts.
type Verification string

// Verification states.
const (
	Unverified    Verification = "unverified"
	Confirmed     Verification = "confirmed"
	Disputed      Verification = "disputed"
	NotApplicable Verification = "not_applicable"
)

// Event names an alert change; it is the last token of the NATS subject
// alerts.<zone>.<event>.
type Event string

// Alert events.
const (
	EventOpened       Event = "opened"
	EventUpdated      Event = "updated"
	EventEscalated    Event = "escalated"
	EventAcknowledged Event = "acknowledged"
	EventResolved     Event = "resolved"
	EventReopened     Event = "reopened"
)

// RecentReports is how many report ids an alert carries itself.
const RecentReports = 50

// DefaultRule names the built-in grouping that every report passes through
// until rules are configured: same zone and category within a window.
const DefaultRule = "default"

// Alert is what the centre must act on: one or more reports grouped by a rule.
type Alert struct {
	ID           string       `json:"id"`
	Zone         string       `json:"zone"`
	Category     Category     `json:"category"`
	Title        string       `json:"title"`
	Rule         string       `json:"rule"`
	GroupKey     string       `json:"group_key"`
	Severity     Severity     `json:"severity"`
	State        State        `json:"state"`
	Verification Verification `json:"verification"`
	ReportCount  int          `json:"report_count"`
	// ReportIDs are the ids of the most recent reports, at most
	// RecentReports of them, so that an alert and every change frame stay
	// small however many reports an alert gathers; the store keeps the
	// complete list.
	ReportIDs []string `json:"report_ids"`
	// FirstSeen and LastSeen bound the observed_at times of the reports.
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	OpenedAt   time.Time  `json:"opened_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	Casualties Casualties `json:"casualties"`
	Exercise   bool       `json:"exercise,omitempty"`
	Acks       []Ack      `json:"acks"`
	Timeline   []Entry    `json:"timeline"`
	// Version counts the alert's changes; the store refuses a change made
	// from an older version, so concurrent writers cannot lose updates.
	Version int64 `json:"version"`
}

// Ack is one acknowledgement of an alert.
type Ack struct {
	Party string    `json:"party,omitempty"`
	By    string    `json:"by"`
	At    time.Time `json:"at"`
}

// Entry is one line of an alert's timeline: who did what, when and why.
type Entry struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action Event     `json:"action"`
	Note   string    `json:"note,omitempty"`
}

// Actor is whoever changes an alert: a person, a party's system or the engine.
type Actor struct {
	Name  string // shown on the timeline
	Party string // the party acting, when there is one
}

// engineActor is the name the engine writes on the timeline.
const engineActor = "engine"

// Grouping says which reports belong in the same alert.
type Grouping struct {
	Rule   string
	Window time.Duration
}

// Key is the group a report falls into: the rule and the report's zone and
// category.
func (g Grouping) Key(r *Report) string {
	return g.Rule + ":" + r.Zone + ":" + string(r.Category)
}

// Admits reports whether r falls within a's window: its observed time is no
// further than the window from the reports already grouped. Windows slide on
// observed time, not arrival, so replaying a stream groups the same way.
func (g Grouping) Admits(a *Alert, r *Report) bool {
	return !r.ObservedAt.Before(a.FirstSeen.Add(-g.Window)) && !r.ObservedAt.After(a.LastSeen.Add(g.Window))
}

// OpenAlert starts a new alert from its first report; zoneName is the
// zone's name as people read it, for the title.
func OpenAlert(id, zoneName string, g Grouping, r *Report, now time.Time) *Alert {
	a := &Alert{
		ID:           id,
		Zone:         r.Zone,
		Category:     r.Category,
		Title:        r.Category.Label() + " in " + zoneName,
		Rule:         g.Rule,
		GroupKey:     g.Key(r),
		Severity:     r.EffectiveSeverity(),
		State:        StateOpen,
		Verification: Unverified,
		ReportCount:  1,
		ReportIDs:    []string{r.ID},
		FirstSeen:    r.ObservedAt,
		LastSeen:     r.ObservedAt,
		OpenedAt:     now,
		UpdatedAt:    now,
		Exercise:     r.Exercise,
		Acks:         []Ack{},
		Version:      1,
	}
	a.addCasualties(r)
	a.Timeline = []Entry{{At: now, By: engineActor, Action: EventOpened, Note: reportNote(r)}}
	return a
}

// AddReport folds another report into a copy of the alert and says which
// event that is: updated, or reopened when the alert had been resolved.
func (a *Alert) AddReport(r *Report, now time.Time) (*Alert, Event) {
	b := a.clone()
	b.ReportCount++
	b.ReportIDs = append(b.ReportIDs, r.ID)
	if n := len(b.ReportIDs); n > RecentReports {
		b.ReportIDs = b.ReportIDs[n-RecentReports:]
	}
	if r.ObservedAt.Before(b.FirstSeen) {
		b.FirstSeen = r.ObservedAt
	}
	if r.ObservedAt.After(b.LastSeen) {
		b.LastSeen = r.ObservedAt
	}
	before := b.Severity
	b.Severity = b.Severity.Max(r.EffectiveSeverity())
	b.Exercise = b.Exercise && r.Exercise
	b.addCasualties(r)
	b.UpdatedAt = now
	b.Version++
	// The timeline records what changes the alert's handling; a report
	// that only adds to the count is counted, not on the timeline.
	switch {
	case b.State == StateResolved:
		b.State = StateOpen
		b.ResolvedAt = nil
		b.Acks = []Ack{}
		b.record(now, Entry{By: engineActor, Action: EventReopened, Note: reportNote(r)})
		return b, EventReopened
	case b.Severity != before:
		b.record(now, Entry{By: engineActor, Action: EventUpdated, Note: fmt.Sprintf("severity raised to %s by %s", b.Severity, reportNote(r))})
	}
	return b, EventUpdated
}

// Acknowledge records that actor has seen the alert and is handling it.
func (a *Alert) Acknowledge(actor Actor, note string, now time.Time) (*Alert, error) {
	if a.State == StateResolved {
		return nil, Errorf(ECONFLICT, "alert %s is resolved; it cannot be acknowledged", a.ID)
	}
	b := a.clone()
	for _, ack := range b.Acks {
		if ack.Party == actor.Party && ack.By == actor.Name {
			return nil, Errorf(ECONFLICT, "alert %s is already acknowledged by %s", a.ID, actor.Name)
		}
	}
	b.Acks = append(b.Acks, Ack{Party: actor.Party, By: actor.Name, At: now})
	b.State = StateAcknowledged
	b.touch(now, Entry{By: actor.Name, Action: EventAcknowledged, Note: note})
	return b, nil
}

// Resolve closes the alert.
func (a *Alert) Resolve(actor Actor, note string, now time.Time) (*Alert, error) {
	if a.State == StateResolved {
		return nil, Errorf(ECONFLICT, "alert %s is already resolved", a.ID)
	}
	b := a.clone()
	b.State = StateResolved
	b.ResolvedAt = &now
	b.touch(now, Entry{By: actor.Name, Action: EventResolved, Note: note})
	return b, nil
}

// Active reports whether the alert still needs handling (not resolved).
func (a *Alert) Active() bool { return a.State != StateResolved }

// touch records a change made by a person or the engine.
func (a *Alert) touch(now time.Time, e Entry) {
	a.record(now, e)
	a.UpdatedAt = now
	a.Version++
}

func (a *Alert) record(now time.Time, e Entry) {
	e.At = now
	a.Timeline = append(a.Timeline, e)
}

func (a *Alert) addCasualties(r *Report) {
	if r.Casualties != nil {
		a.Casualties.Killed += r.Casualties.Killed
		a.Casualties.Injured += r.Casualties.Injured
	}
}

// clone copies the alert deeply enough that changing the copy's slices never
// touches the original.
func (a *Alert) clone() *Alert {
	b := *a
	b.ReportIDs = append([]string(nil), a.ReportIDs...)
	b.Acks = append([]Ack{}, a.Acks...)
	b.Timeline = append([]Entry(nil), a.Timeline...)
	return &b
}

func reportNote(r *Report) string {
	note := "report " + r.ID
	if r.Count > 1 {
		note += fmt.Sprintf(" (count %d)", r.Count)
	}
	if r.Weapon != "" {
		note += ", " + r.Weapon
	}
	return note
}

// SortByUrgency orders alerts most urgent first: active before resolved, then
// by severity, then by the most recent report.
func SortByUrgency(alerts []*Alert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if a.Active() != b.Active() {
			return a.Active()
		}
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		return a.LastSeen.After(b.LastSeen)
	})
}

// AlertFilter selects alerts to list.
type AlertFilter struct {
	Zones []string // zones to list; required
	State State    // "" for every state
	Limit int      // most alerts returned; 0 means 500
}
