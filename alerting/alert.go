package alerting

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
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

// Verification is what the centre has established about an alert's facts:
// a party's judgement (Verifying.Status) or the alert's summary of them
// (Alert.Verification, see Summarise). Unverified: no party has judged (a
// summary only); Confirmed: a party establishes the facts (as a summary,
// every party whose confirmation counts did); Disputed: a party has
// evidence against them (as a summary, one party at least); NotApplicable:
// no ceasefire violation (the target was a party the ceasefire does not
// cover). CannotConfirm and PartlyConfirmed are in verification.go.
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

// RecentReports is how many report ids an alert carries itself: the board's
// first page of reports. More made every change frame longer (50 ids were
// 60 % of a frame) and the fan-out to every board slower.
const RecentReports = 10

// DefaultRule names the built-in grouping that every report passes through
// until rules are configured: same zone and category within a window.
const DefaultRule = "default"

// Alert is what the centre must act on: one or more reports grouped by a rule.
type Alert struct {
	ID       string   `json:"id"`
	Zone     string   `json:"zone"`
	Category Category `json:"category"`
	Title    string   `json:"title"`
	Rule     string   `json:"rule"`
	RuleName string   `json:"rule_name,omitempty"`
	GroupKey string   `json:"group_key"`
	// Policy is the escalation policy, when the rule has one.
	Policy string `json:"policy,omitempty"`
	// Regime is the regime in force when the alert opened, if any.
	Regime       string       `json:"regime,omitempty"`
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
	// Alleged are the parties its standing reports allege did it
	// (attributed_to), with how many reports say so each, by party id.
	Alleged  []Allegation `json:"alleged,omitempty"`
	Exercise bool         `json:"exercise,omitempty"`
	// Late: the report that opened it arrived long after it was observed
	// (Classification.Late), under a rule that takes late reports.
	Late bool  `json:"late,omitempty"`
	Acks []Ack `json:"acks"`
	// RequireAckFrom are the parties whose acknowledgements, all of them,
	// complete the acknowledgement (the policy's joint acknowledgement).
	RequireAckFrom []string `json:"require_ack_from,omitempty"`
	// ResolveAgreed are the parties that agreed to resolve an alert of
	// RequireAckFrom, each through one of its people: it resolves when
	// every required party has (see Resolve). A new report clears them.
	ResolveAgreed []Ack          `json:"resolve_agreed,omitempty"`
	Verifications []Verifying    `json:"verifications,omitempty"`
	Escalation    *Escalation    `json:"escalation,omitempty"`
	Notifications []Notification `json:"notifications,omitempty"`
	SnoozedUntil  *time.Time     `json:"snoozed_until,omitempty"`
	Timeline      []Entry        `json:"timeline"`
	// Worsened, when set, is the latest material change (severity or
	// casualties up) that reports made after someone acknowledged the
	// alert: it must not get worse in silence.
	Worsened *Worsening `json:"worsened,omitempty"`
	// Amendments are the alert's reports that their senders updated or
	// withdrew since, oldest first.
	Amendments []Amendment `json:"amendments,omitempty"`

	// VerificationSummary says in one sentence what each party said of
	// the facts (VerificationSentence), once one has.
	VerificationSummary string `json:"verification_summary,omitempty"`
	// Attributions are the parties' judgements of who did it, one per
	// judging party and alleged party (see Attribute).
	Attributions []Attribution `json:"attributions,omitempty"`

	// InfoRequests are the requests for information made about the alert,
	// in the order they were asked (see AskInfo).
	InfoRequests []InfoRequest `json:"info_requests,omitempty"`
	// Version counts the alert's changes; the store refuses a change made
	// from an older version, so concurrent writers cannot lose updates.
	Version int64 `json:"version"`
}

// Allegation is how many of an alert's reports allege a party did it.
type Allegation struct {
	Party   string `json:"party"`
	Reports int    `json:"reports"`
}

// allege counts a report alleging party (+1), or one no longer standing
// (-1); a party no report alleges any more leaves the list.
func (a *Alert) allege(party string, delta int) {
	if party == "" {
		return
	}
	i, found := slices.BinarySearchFunc(a.Alleged, party, func(x Allegation, p string) int { return strings.Compare(x.Party, p) })
	switch {
	case found:
		a.Alleged[i].Reports += delta
		if a.Alleged[i].Reports <= 0 {
			a.Alleged = slices.Delete(a.Alleged, i, i+1)
		}
	case delta > 0:
		a.Alleged = slices.Insert(a.Alleged, i, Allegation{Party: party, Reports: delta})
	}
}

// alleges reports whether a standing report alleges party did it.
func (a *Alert) alleges(party string) bool {
	return slices.ContainsFunc(a.Alleged, func(x Allegation) bool { return x.Party == party })
}

// reportMilestones are report counts whose passing is a material change to
// an acknowledged alert.
var reportMilestones = []int{10, 25, 50, 100, 250, 500, 1000}

// Worsening is what made an acknowledged alert worse, and when.
type Worsening struct {
	At   time.Time `json:"at"`
	What string    `json:"what"`
}

// worsening says how b, a's next state, is materially worse than a when
// someone had acknowledged a ("" when it is not): a higher severity, more
// killed or injured, a party newly alleged to have done it, or a report
// count past one of reportMilestones.
func worsening(a, b *Alert) string {
	if len(a.Acks) == 0 || a.State == StateResolved {
		return ""
	}
	var what []string
	if b.Severity.Rank() > a.Severity.Rank() {
		what = append(what, fmt.Sprintf("severity %s → %s", a.Severity, b.Severity))
	}
	if b.Casualties.Killed > a.Casualties.Killed {
		what = append(what, fmt.Sprintf("killed %d → %d", a.Casualties.Killed, b.Casualties.Killed))
	}
	if b.Casualties.Injured > a.Casualties.Injured {
		what = append(what, fmt.Sprintf("injured %d → %d", a.Casualties.Injured, b.Casualties.Injured))
	}
	for _, x := range b.Alleged {
		if !a.alleges(x.Party) {
			what = append(what, "alleged perpetrator now also "+x.Party)
		}
	}
	for _, m := range reportMilestones {
		if a.ReportCount < m && b.ReportCount >= m {
			what = append(what, fmt.Sprintf("%d reports", m))
		}
	}
	return strings.Join(what, ", ")
}

// ReopenWorsened withdraws the acknowledgements of an alert that just got
// worse (Worsened) and starts its policy over: the policy's on_worsened is
// reopen.
func (a *Alert) ReopenWorsened(p Policy, dir Directory, now time.Time) {
	a.State = StateOpen
	a.record(now, Entry{By: engineActor, Action: EventReopened,
		Note: "acknowledgements withdrawn: the alert got worse (" + a.Worsened.What + "); escalation starts over"})
	a.restartEscalation(p, dir, now)
}

// Amendment is one of an alert's reports replaced by its sender's update,
// or withdrawn by its sender.
type Amendment struct {
	// Report is the report amended; By the report (a CAP Update or
	// Cancel) that updates or withdraws it.
	Report    string    `json:"report"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
	Withdrawn bool      `json:"withdrawn,omitempty"`
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

// Grouping says how far apart the reports of one alert may be.
type Grouping struct {
	Rule   string
	Window time.Duration
}

// Admits reports whether r falls within a's window: its observed time is no
// further than the window from the reports already grouped. Windows slide on
// observed time, not arrival, so replaying a stream groups the same way.
func (g Grouping) Admits(a *Alert, r *Report) bool {
	return !r.ObservedAt.Before(a.FirstSeen.Add(-g.Window)) && !r.ObservedAt.After(a.LastSeen.Add(g.Window))
}

// Opening says what an alert opens from.
type Opening struct {
	ID       string
	ZoneName string // the zone as people read it, for the title
	// Title, when set, replaces the default "<category> in <zone>".
	Title    string
	Rule     string
	RuleName string
	GroupKey string
	Policy   string
	// Severity, when set, is the alert's severity whatever its reports say.
	Severity       Severity
	Classification Classification
	// Earlier are reports that matched before the rule's threshold was
	// reached; they count in the alert from its opening.
	Earlier []PendingReport
}

// PendingReport is what an alert needs of a report that matched a rule
// before the rule's threshold was reached.
type PendingReport struct {
	ID           string
	ObservedAt   time.Time
	Severity     Severity
	Killed       int
	Injured      int
	Exercise     bool
	AttributedTo string `json:",omitempty"`
}

// Pending summarises a report for a rule's threshold count.
func (r *Report) Pending() PendingReport {
	p := PendingReport{ID: r.ID, ObservedAt: r.ObservedAt, Severity: r.EffectiveSeverity(), Exercise: r.Exercise, AttributedTo: r.AttributedTo}
	if r.Casualties != nil {
		p.Killed, p.Injured = r.Casualties.Killed, r.Casualties.Injured
	}
	return p
}

// OpenAlert starts a new alert from the report that opens it (and those
// that matched before, when a threshold held it back).
func OpenAlert(o Opening, r *Report, now time.Time) *Alert {
	a := &Alert{
		ID:           o.ID,
		Zone:         r.Zone,
		Category:     r.Category,
		Title:        r.Category.Label() + " in " + o.ZoneName,
		Rule:         o.Rule,
		RuleName:     o.RuleName,
		GroupKey:     o.GroupKey,
		Policy:       o.Policy,
		Regime:       o.Classification.Regime,
		Severity:     r.EffectiveSeverity(),
		State:        StateOpen,
		Verification: Unverified,
		ReportCount:  1,
		FirstSeen:    r.ObservedAt,
		LastSeen:     r.ObservedAt,
		OpenedAt:     now,
		UpdatedAt:    now,
		Exercise:     r.Exercise,
		Acks:         []Ack{},
		Version:      1,
	}
	if o.Title != "" {
		a.Title = o.Title
	}
	if o.Classification.NotApplicable {
		a.Verification = NotApplicable
	}
	for _, p := range o.Earlier {
		a.ReportIDs = append(a.ReportIDs, p.ID)
		a.ReportCount++
		if p.ObservedAt.Before(a.FirstSeen) {
			a.FirstSeen = p.ObservedAt
		}
		if p.ObservedAt.After(a.LastSeen) {
			a.LastSeen = p.ObservedAt
		}
		a.Severity = a.Severity.Max(p.Severity)
		a.Exercise = a.Exercise && p.Exercise
		a.Casualties.Killed += p.Killed
		a.Casualties.Injured += p.Injured
		a.allege(p.AttributedTo, 1)
	}
	a.ReportIDs = append(a.ReportIDs, r.ID)
	if n := len(a.ReportIDs); n > RecentReports {
		a.ReportIDs = a.ReportIDs[n-RecentReports:]
	}
	a.addCasualties(r)
	a.allege(r.AttributedTo, 1)
	if o.Severity != "" {
		a.Severity = o.Severity
	}
	note := reportNote(r)
	if len(o.Earlier) > 0 {
		note = fmt.Sprintf("%d matching reports within the window, the last %s", a.ReportCount, note)
	}
	if o.Classification.Late {
		a.Late = true
		note += "; a late report, observed " + r.ObservedAt.UTC().Format("2 Jan 15:04 UTC")
	}
	if o.Classification.NotApplicable {
		note += "; the target is an excluded party (not applicable)"
	}
	a.Timeline = []Entry{{At: now, By: engineActor, Action: EventOpened, Note: note}}
	return a
}

// AddReport folds another report into a copy of the alert and says which
// event that is: updated, or reopened when the alert had been resolved.
// fixed, when set, is the rule's severity, which reports do not change.
func (a *Alert) AddReport(r *Report, fixed Severity, now time.Time) (*Alert, Event) {
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
	if fixed == "" {
		b.Severity = b.Severity.Max(r.EffectiveSeverity())
	}
	b.Exercise = b.Exercise && r.Exercise
	b.addCasualties(r)
	b.allege(r.AttributedTo, 1)
	b.UpdatedAt = now
	b.Version++
	worse := worsening(a, b)
	if worse != "" {
		b.Worsened = &Worsening{At: now, What: worse}
		worse = "WORSE since it was acknowledged: " + worse + ", by " + reportNote(r)
	}
	// The timeline records what changes the alert's handling; a report
	// that only adds to the count is counted, not on the timeline.
	switch {
	case b.State == StateResolved:
		b.State = StateOpen
		b.ResolvedAt = nil
		b.Acks = []Ack{}
		b.ResolveAgreed = nil
		b.record(now, Entry{By: engineActor, Action: EventReopened, Note: reportNote(r)})
		return b, EventReopened
	case len(b.ResolveAgreed) > 0:
		// What the parties agreed to close has changed: each judges again.
		b.ResolveAgreed = nil
		note := "agreement to resolve withdrawn: " + reportNote(r) + " came since"
		if worse != "" {
			note += "; " + worse
		}
		b.record(now, Entry{By: engineActor, Action: EventUpdated, Note: note})
	case worse != "":
		b.record(now, Entry{By: engineActor, Action: EventUpdated, Note: worse})
	case b.Severity != before:
		b.record(now, Entry{By: engineActor, Action: EventUpdated, Note: fmt.Sprintf("severity raised to %s by %s", b.Severity, reportNote(r))})
	}
	return b, EventUpdated
}

// Standing follows the updates of the alert's report id to the report that
// stands for it now, and says whether its sender withdrew it.
func (a *Alert) Standing(id string) (current string, withdrawn bool) {
	for range len(a.Amendments) + 1 {
		i := slices.IndexFunc(a.Amendments, func(m Amendment) bool { return m.Report == id })
		if i < 0 {
			return id, false
		}
		if a.Amendments[i].Withdrawn {
			return id, true
		}
		id = a.Amendments[i].By
	}
	return id, false
}

// Amend folds into a copy of the alert r, which updates its report old
// (the one standing, see Standing) or, when r.Withdraws, withdraws it. An
// update replaces old: the count stays, old's casualties give way to r's,
// and the severity may rise but never falls, since the alert does not keep
// every report's. A withdrawal takes old out of the count and the
// casualties. Neither reopens a resolved alert; both are on the timeline.
// fixed, when set, is the rule's severity, which reports do not change.
func (a *Alert) Amend(old, r *Report, fixed Severity, now time.Time) *Alert {
	b := a.clone()
	b.ReportIDs = append(b.ReportIDs, r.ID)
	if n := len(b.ReportIDs); n > RecentReports {
		b.ReportIDs = b.ReportIDs[n-RecentReports:]
	}
	if old.Casualties != nil {
		b.Casualties.Killed = max(0, b.Casualties.Killed-old.Casualties.Killed)
		b.Casualties.Injured = max(0, b.Casualties.Injured-old.Casualties.Injured)
	}
	b.Amendments = append(b.Amendments, Amendment{Report: old.ID, By: r.ID, At: now, Withdrawn: r.Withdraws})
	b.allege(old.AttributedTo, -1)
	var note string
	if r.Withdraws {
		b.ReportCount = max(0, b.ReportCount-1)
		note = fmt.Sprintf("report %s withdrawn by its sender (%s)", old.ID, r.ID)
		if b.ReportCount == 0 {
			note += "; no report stands: resolve the alert unless something else supports it"
		}
	} else {
		b.addCasualties(r)
		b.allege(r.AttributedTo, 1)
		if r.ObservedAt.Before(b.FirstSeen) {
			b.FirstSeen = r.ObservedAt
		}
		if r.ObservedAt.After(b.LastSeen) {
			b.LastSeen = r.ObservedAt
		}
		if fixed == "" {
			b.Severity = b.Severity.Max(r.EffectiveSeverity())
		}
		b.Exercise = b.Exercise && r.Exercise
		note = fmt.Sprintf("report %s updated by its sender: %s", old.ID, reportNote(r))
		if b.Severity != a.Severity {
			note += fmt.Sprintf("; severity raised to %s", b.Severity)
		}
		if worse := worsening(a, b); worse != "" {
			b.Worsened = &Worsening{At: now, What: worse}
			note += "; WORSE since it was acknowledged: " + worse
		}
		if len(b.ResolveAgreed) > 0 {
			// What the parties agreed to close has changed: each judges again.
			b.ResolveAgreed = nil
			note += "; agreement to resolve withdrawn"
		}
	}
	b.UpdatedAt = now
	b.Version++
	b.record(now, Entry{By: engineActor, Action: EventUpdated, Note: note})
	return b
}

// Acknowledge records that actor has seen the alert and is handling it.
func (a *Alert) Acknowledge(actor Actor, note string, now time.Time) (*Alert, error) {
	if a.State == StateResolved {
		return nil, Errorf(ECONFLICT, "alert %s is resolved; it cannot be acknowledged", a.ID)
	}
	b := a.clone()
	for _, ack := range b.Acks {
		if ack.Party == actor.Party && (actor.Party != "" || ack.By == actor.Name) {
			who := actor.Name
			if actor.Party != "" {
				who = "party " + actor.Party
			}
			return nil, Errorf(ECONFLICT, "alert %s is already acknowledged by %s", a.ID, who)
		}
	}
	b.Acks = append(b.Acks, Ack{Party: actor.Party, By: actor.Name, At: now})
	waiting := b.AwaitingAck()
	if len(waiting) == 0 {
		b.State = StateAcknowledged
		b.stopEscalation("acknowledged")
	} else {
		note = strings.TrimSpace(note + " (still waiting for " + strings.Join(waiting, ", ") + ")")
	}
	b.touch(now, Entry{By: actor.Name, Action: EventAcknowledged, Note: note})
	return b, nil
}

// AckedBy reports whether party has acknowledged the alert.
func (a *Alert) AckedBy(party string) bool {
	return slices.ContainsFunc(a.Acks, func(ack Ack) bool { return ack.Party == party })
}

// AwaitingAck lists the parties of RequireAckFrom that have not yet
// acknowledged; without RequireAckFrom, any acknowledgement is enough.
func (a *Alert) AwaitingAck() []string {
	if len(a.RequireAckFrom) == 0 {
		if len(a.Acks) > 0 {
			return nil
		}
		return []string{"anyone"}
	}
	var out []string
	for _, p := range a.RequireAckFrom {
		if !a.AckedBy(p) {
			out = append(out, p)
		}
	}
	return out
}

// Resolve closes the alert.
func (a *Alert) Resolve(actor Actor, note string, now time.Time) (*Alert, error) {
	if a.State == StateResolved {
		return nil, Errorf(ECONFLICT, "alert %s is already resolved", a.ID)
	}
	b := a.clone()
	if actor.Party != "" && len(a.RequireAckFrom) > 0 {
		// A joint alert: no party closes it alone. Each agrees in turn;
		// the last required party's agreement resolves it.
		if a.resolveAgreedBy(actor.Party) {
			return nil, Errorf(ECONFLICT, "party %s has already agreed to resolve alert %s; waiting for %s",
				actor.Party, a.ID, strings.Join(a.AwaitingResolve(), ", "))
		}
		b.ResolveAgreed = append(b.ResolveAgreed, Ack{Party: actor.Party, By: actor.Name, At: now})
		if waiting := b.AwaitingResolve(); len(waiting) > 0 {
			b.touch(now, Entry{By: actor.Name, Action: EventUpdated,
				Note: strings.TrimSpace("agrees to resolve for " + actor.Party + " (waiting for " + strings.Join(waiting, ", ") + "). " + note)})
			return b, nil
		}
		note = strings.TrimSpace("with the agreement of " + strings.Join(b.resolveParties(), ", ") + ". " + note)
	}
	b.State = StateResolved
	b.ResolvedAt = &now
	b.stopEscalation("resolved")
	b.touch(now, Entry{By: actor.Name, Action: EventResolved, Note: note})
	return b, nil
}

// AwaitingResolve lists the parties of RequireAckFrom that have not agreed
// to resolve the alert.
func (a *Alert) AwaitingResolve() []string {
	var out []string
	for _, p := range a.RequireAckFrom {
		if !a.resolveAgreedBy(p) {
			out = append(out, p)
		}
	}
	return out
}

func (a *Alert) resolveAgreedBy(party string) bool {
	return slices.ContainsFunc(a.ResolveAgreed, func(ack Ack) bool { return ack.Party == party })
}

func (a *Alert) resolveParties() []string {
	out := make([]string, len(a.ResolveAgreed))
	for i, ack := range a.ResolveAgreed {
		out[i] = ack.Party
	}
	return out
}

// Active reports whether the alert still needs handling (not resolved).
func (a *Alert) Active() bool { return a.State != StateResolved }

// Unanswered reports whether the alert's escalation ran out and it is
// still open: every step fired, the last one after the alert opened, and
// nobody acknowledged it (or, under a joint acknowledgement, not every
// party did). It is the most urgent state an alert can be in;
// acknowledging or resolving the alert ends it. A policy whose steps all
// fire as the alert opens (one that only shows it on the board) is
// exhausted at once without ever escalating: its alerts are not unanswered.
func (a *Alert) Unanswered() bool {
	e := a.Escalation
	if a.State != StateOpen || e == nil || e.Stopped != StoppedExhausted {
		return false
	}
	if e.Repeat > 0 {
		return true // a later pass: it escalated
	}
	for i := len(a.Timeline) - 1; i >= 0; i-- {
		if a.Timeline[i].Action == EventEscalated {
			// The last step; the steps due at opening fire at PassStart.
			return a.Timeline[i].At.After(e.PassStart)
		}
	}
	return false
}

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
	b.ResolveAgreed = slices.Clone(a.ResolveAgreed)
	b.Verifications = slices.Clone(a.Verifications)
	b.Attributions = slices.Clone(a.Attributions)
	b.Notifications = slices.Clone(a.Notifications)
	if a.Escalation != nil {
		e := *a.Escalation
		b.Escalation = &e
	}
	b.Timeline = append([]Entry(nil), a.Timeline...)
	b.Amendments = slices.Clone(a.Amendments)
	b.Alleged = slices.Clone(a.Alleged)
	b.InfoRequests = slices.Clone(a.InfoRequests)
	return &b
}

func reportNote(r *Report) string {
	note := "report " + r.ID
	var counts []string
	if r.Count > 1 {
		counts = append(counts, fmt.Sprintf("count %d", r.Count))
	}
	if r.Impacts != nil {
		counts = append(counts, fmt.Sprintf("%d impacts", *r.Impacts))
	}
	if len(counts) > 0 {
		note += " (" + strings.Join(counts, ", ") + ")"
	}
	if w := strings.TrimSpace(r.Weapon + " " + r.WeaponCalibre); w != "" {
		note += ", " + w
	}
	if u := r.ObservedUntil; u != nil && u.After(r.ObservedAt) {
		note += fmt.Sprintf(", observed for %s", u.Sub(r.ObservedAt).Round(time.Second))
	}
	if r.Observer != nil && r.DirectionDeg != nil {
		note += fmt.Sprintf(", bearing %g° from the observer", *r.DirectionDeg)
		if d := r.DistanceM; d != nil {
			note += ", " + distanceText(*d)
		}
	}
	return note
}

// distanceText says a distance range for people: "3–5 km", "800 m".
func distanceText(d DistanceRange) string {
	unit := func(m float64) string {
		if d.Max >= 1000 {
			return strconv.FormatFloat(m/1000, 'f', -1, 64)
		}
		return strconv.FormatFloat(m, 'f', -1, 64)
	}
	suffix := " m"
	if d.Max >= 1000 {
		suffix = " km"
	}
	if d.Min == d.Max {
		return unit(d.Max) + suffix
	}
	return unit(d.Min) + "–" + unit(d.Max) + suffix
}

// SortByUrgency orders alerts most urgent first: active before resolved,
// then unanswered ones (escalation ran out unacknowledged) whatever their
// severity, then by severity, then by the most recent report. The board
// sorts its rows the same way (compareEntries in web/static/store.js).
func SortByUrgency(alerts []*Alert) {
	sort.SliceStable(alerts, func(i, j int) bool {
		a, b := alerts[i], alerts[j]
		if a.Active() != b.Active() {
			return a.Active()
		}
		if a.Unanswered() != b.Unanswered() {
			return a.Unanswered()
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
	// Since, when set, lists only the alerts changed at or after it.
	Since time.Time
}
