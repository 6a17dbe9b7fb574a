package alerting

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
)

// Duration is a time.Duration written as text ("10m", "1h30m") in JSON and
// YAML configuration.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 90s, 10m or 1h30m", b)
	}
	*d = Duration(v)
	return nil
}

// RegimeKind is the kind of truce a regime is.
type RegimeKind string

// Regime kinds.
const (
	CessationOfHostilities RegimeKind = "cessation_of_hostilities"
	RegimeOfSilence        RegimeKind = "regime_of_silence"
	DeEscalation           RegimeKind = "de_escalation"
)

// Regime is a truce in force over zones for a time: reports are judged
// against the regime in force at their observed time.
type Regime struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Zones    []string   `json:"zones"` // zone ids or globs ("*")
	Kind     RegimeKind `json:"kind"`
	StartsAt time.Time  `json:"starts_at"`
	// EndsAt is nil for a regime without an end.
	EndsAt *time.Time `json:"ends_at,omitempty"`
	// Timezone is where the regime was agreed, for display ("Asia/Damascus").
	Timezone   string      `json:"timezone,omitempty"`
	Extensions []Extension `json:"extensions,omitempty"`
	// WarnBefore is how long before the regime ends (with its
	// extensions) an informational alert is raised in each of its zones;
	// zero means 6 hours.
	WarnBefore Duration `json:"warn_before,omitempty"`
}

// DefaultWarnBefore is when a regime's end is announced if it says nothing.
const DefaultWarnBefore = 6 * time.Hour

func (r *Regime) warnBefore() time.Duration {
	if r.WarnBefore > 0 {
		return time.Duration(r.WarnBefore)
	}
	return DefaultWarnBefore
}

// Ending reports whether the regime's end is near at now: within
// WarnBefore of it, not yet past.
func (r *Regime) Ending(now time.Time) (end time.Time, ok bool) {
	e := r.End()
	if e == nil || !r.InForce(now) {
		return time.Time{}, false
	}
	return *e, !now.Before(e.Add(-r.warnBefore()))
}

// Extension prolongs a regime.
type Extension struct {
	Until  time.Time `json:"until"`
	Reason string    `json:"reason,omitempty"`
}

// End is when the regime ends with its extensions; nil when it has no end.
func (r *Regime) End() *time.Time {
	if r.EndsAt == nil {
		return nil
	}
	end := *r.EndsAt
	for _, e := range r.Extensions {
		if e.Until.After(end) {
			end = e.Until
		}
	}
	return &end
}

// Covers reports whether the regime applies to zone.
func (r *Regime) Covers(zone string) bool { return matchAny(r.Zones, zone) }

// Covers reports whether the rule judges reports of the zone.
func (r *Rule) Covers(zone string) bool { return matchAny(r.Zones, zone) }

// InForce reports whether the regime is in force at t.
func (r *Regime) InForce(t time.Time) bool {
	if t.Before(r.StartsAt) {
		return false
	}
	end := r.End()
	return end == nil || t.Before(*end)
}

// What a rule does with late reports (Rule.Late).
const (
	// LateJoin, the default: a late report joins the rule's active alert
	// of its group without paging, and otherwise opens nothing.
	LateJoin = "join"
	// LateInclude: a late report opens alerts and pages like any other.
	LateInclude = "include"
)

// Rule says which reports matter and how they become alerts.
type Rule struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Zones are zone ids or globs; empty means every zone.
	Zones []string `json:"zones,omitempty"`
	// Categories limits the rule to these categories; empty means all.
	Categories []Category `json:"categories,omitempty"`
	// Condition is an expr-lang expression over report, zone, regime,
	// attributed_to and target (see docs/RULES.md); empty means true.
	Condition string `json:"condition,omitempty"`
	// GroupBy names the report fields whose values share an alert; empty
	// means zone and category.
	GroupBy []string `json:"group_by,omitempty"`
	// Window is how far apart in observed time matching reports may be
	// and still count together; zero means 10 minutes.
	Window Duration `json:"window,omitempty"`
	// Threshold opens the alert at the Nth matching report within the
	// window; zero means 1.
	Threshold int `json:"threshold,omitempty"`
	// Severity is the alert's severity; empty means the most severe of
	// its reports.
	Severity Severity `json:"severity,omitempty"`
	// Policy is the escalation policy of the rule's alerts; empty for none.
	Policy string `json:"policy,omitempty"`
	// IncludeNotApplicable makes the rule match reports against excluded
	// parties too, which are otherwise recorded but never alerted on.
	IncludeNotApplicable bool `json:"include_not_applicable,omitempty"`
	// Late says what the rule does with a late report (Classification.Late):
	// "" (the default) lets it join the rule's active alert of its group
	// without paging, and otherwise open nothing; LateInclude treats it
	// like any other report, opening alerts and paging.
	Late     string `json:"late,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

// GroupKeys are the report fields a rule may group by.
var GroupKeys = []string{"zone", "category", "attributed_to", "target", "weapon", "reported_by", "source_type", "severity"}

// Policy is an escalation policy: who is notified when, until the parties
// it needs have acknowledged.
type Policy struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	Steps []Step `json:"steps"`
	// Repeat is how many more times the steps run after the last one.
	Repeat int `json:"repeat,omitempty"`
	// RepeatAfter is how long after the last step a repeat's first step
	// comes; zero means the last step's After, or 5 minutes when that is
	// zero too.
	RepeatAfter Duration `json:"repeat_after,omitempty"`
	// RequireAckFrom are the parties whose acknowledgements, all of them,
	// stop escalation; empty means any one acknowledgement does.
	RequireAckFrom []string `json:"require_ack_from,omitempty"`
	// Fallback is the contact notified in place of a schedule with nobody
	// on call; required when a step notifies a schedule.
	Fallback string `json:"fallback,omitempty"`
	// OnWorsened says what a material change to an acknowledged alert
	// does (see Alert.Worsened): OnWorsenedFlag ("", the default) marks it
	// on the alert, its timeline and the board; OnWorsenedReopen also
	// withdraws the acknowledgements and starts escalation over.
	OnWorsened string `json:"on_worsened,omitempty"`
	// OnInfoRequestOverdue are the steps that escalate a request for
	// information whose deadline passed unanswered: each After counts
	// from the request's deadline, and the steps stop once the request is
	// answered or withdrawn. Empty: an overdue request is marked on the
	// alert, its timeline and the board, and nobody is paged.
	OnInfoRequestOverdue []Step `json:"on_info_request_overdue,omitempty"`
}

// What a policy's on_worsened can say.
const (
	OnWorsenedFlag   = "flag"
	OnWorsenedReopen = "reopen"
)

func (p Policy) repeatAfter() time.Duration {
	switch {
	case p.RepeatAfter > 0:
		return time.Duration(p.RepeatAfter)
	case len(p.Steps) > 0 && p.Steps[len(p.Steps)-1].After > 0:
		return time.Duration(p.Steps[len(p.Steps)-1].After)
	default:
		return 5 * time.Minute
	}
}

// Step is one escalation step: after a delay from the alert's opening (or
// the start of a repeat), notify targets: "board", contact ids and schedule
// ids.
type Step struct {
	After  Duration `json:"after"`
	Notify []string `json:"notify"`
}

// Suppression holds back the alerts of some rules in some zones for a time,
// one-off or recurring. Reports it covers are still stored, marked as
// suppressed, never dropped.
type Suppression struct {
	ID string `json:"id"`
	// Zones are zone ids or globs; empty means every zone.
	Zones []string `json:"zones,omitempty"`
	// Rules are rule ids; empty means every rule.
	Rules []string `json:"rules,omitempty"`
	// StartsAt and EndsAt bound the suppression; EndsAt may be omitted
	// for a recurring one.
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// Recurring, when set, limits the suppression to the same hours on
	// given days between StartsAt and EndsAt.
	Recurring *Recurrence `json:"recurring,omitempty"`
	CreatedBy string      `json:"created_by"`
	Reason    string      `json:"reason"`
}

// Recurrence is a daily window: from From to To (HH:MM, To may be past
// midnight) in Timezone, on Days (mon … sun; empty means every day).
type Recurrence struct {
	Days     []string `json:"days,omitempty"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Timezone string   `json:"timezone,omitempty"`
}

// Covers reports whether the suppression holds back rule's alerts in zone
// for a report observed at t.
func (s *Suppression) Covers(zone, rule string, t time.Time) bool {
	if t.Before(s.StartsAt) || (s.EndsAt != nil && !t.Before(*s.EndsAt)) {
		return false
	}
	if !matchAny(s.Zones, zone) || (len(s.Rules) > 0 && !slices.Contains(s.Rules, rule)) {
		return false
	}
	if s.Recurring == nil {
		return true
	}
	return s.Recurring.covers(t)
}

var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (r *Recurrence) covers(t time.Time) bool {
	loc, err := time.LoadLocation(r.Timezone)
	if err != nil {
		loc = time.UTC
	}
	local := t.In(loc)
	from, _ := minuteOfDay(r.From)
	to, _ := minuteOfDay(r.To)
	m := local.Hour()*60 + local.Minute()
	day := local.Weekday()
	if from <= to {
		return m >= from && m < to && r.onDay(day)
	}
	// The window passes midnight: the evening part belongs to today, the
	// morning part to the day before.
	if m >= from {
		return r.onDay(day)
	}
	return m < to && r.onDay((day+6)%7)
}

// validate reports the recurrence's problems, with paths relative to it
// (".from", ".days[1]").
func (r *Recurrence) validate(add func(path, format string, args ...any)) {
	if _, err := minuteOfDay(r.From); err != nil {
		add(".from", "must be a time of day like 22:00")
	}
	if _, err := minuteOfDay(r.To); err != nil {
		add(".to", "must be a time of day like 06:00")
	}
	for j, d := range r.Days {
		if !slices.Contains(weekdays, d) {
			add(fmt.Sprintf(".days[%d]", j), "must be one of %v", weekdays)
		}
	}
	if r.Timezone != "" {
		if _, err := time.LoadLocation(r.Timezone); err != nil {
			add(".timezone", "unknown time zone %q", r.Timezone)
		}
	}
}

func (r *Recurrence) onDay(d time.Weekday) bool {
	return len(r.Days) == 0 || slices.Contains(r.Days, weekdays[d])
}

func minuteOfDay(hhmm string) (int, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Config is every configuration object truceline judges reports with.
type Config struct {
	Zones        []Zone        `json:"zones,omitempty"`
	Regimes      []Regime      `json:"regimes,omitempty"`
	Parties      []Party       `json:"parties,omitempty"`
	Rules        []Rule        `json:"rules,omitempty"`
	Policies     []Policy      `json:"policies,omitempty"`
	Suppressions []Suppression `json:"suppressions,omitempty"`
	Contacts     []Contact     `json:"contacts,omitempty"`
	Schedules    []Schedule    `json:"schedules,omitempty"`
	Monitors     []Monitor     `json:"monitors,omitempty"`
}

// Kinds of configuration objects, as they appear in URLs and YAML files.
const (
	KindZones        = "zones"
	KindRegimes      = "regimes"
	KindParties      = "parties"
	KindRules        = "rules"
	KindPolicies     = "policies"
	KindSuppressions = "suppressions"
	KindContacts     = "contacts"
	KindSchedules    = "schedules"
	KindMonitors     = "monitors"
)

// Kinds lists the configuration kinds, in the order their objects depend on
// each other.
var Kinds = []string{KindZones, KindParties, KindContacts, KindSchedules, KindRegimes, KindPolicies, KindRules, KindSuppressions, KindMonitors}

// Problem is one thing wrong with a configuration object. Path is a YAML
// path into the object's file ($.rules[2].policy); the YAML layer turns it
// into a line and column.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	// Offset, when > 0, is a 1-based column inside the value at Path
	// (the position of an error inside a rule's condition).
	Offset int    `json:"-"`
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
}

func (p Problem) String() string {
	where := p.Path
	if p.File != "" {
		where = fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
		if p.Path != "" {
			return fmt.Sprintf("%s: %s (at %s)", where, p.Message, p.Path)
		}
	}
	if where == "" {
		return p.Message
	}
	return where + ": " + p.Message
}

// Validate checks every object of c, and the references between them, and
// returns every problem found. Paths are relative to the file layout
// ($.zones[0].id); a path prefix names where c came from.
func (c *Config) Validate() []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	zones, parties, policies := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, z := range c.Zones {
		p := fmt.Sprintf("$.zones[%d]", i)
		for _, fp := range ErrorFields(z.Validate()) {
			add(p+"."+fp.Field, "%s", fp.Problem)
		}
		if zones[z.ID] {
			add(p+".id", "zone %q is defined twice", z.ID)
		}
		zones[z.ID] = true
	}
	for i, pt := range c.Parties {
		p := fmt.Sprintf("$.parties[%d]", i)
		for _, fp := range ErrorFields(pt.Validate()) {
			add(p+"."+fp.Field, "%s", fp.Problem)
		}
		if parties[pt.ID] {
			add(p+".id", "party %q is defined twice", pt.ID)
		}
		parties[pt.ID] = true
	}
	contacts, schedules := map[string]bool{}, map[string]bool{}
	for i := range c.Contacts {
		ct := &c.Contacts[i]
		p := fmt.Sprintf("$.contacts[%d]", i)
		ct.validate(func(sub, format string, args ...any) { add(p+sub, format, args...) }, parties)
		if contacts[ct.ID] {
			add(p+".id", "contact %q is defined twice", ct.ID)
		}
		contacts[ct.ID] = true
	}
	for i := range c.Schedules {
		s := &c.Schedules[i]
		p := fmt.Sprintf("$.schedules[%d]", i)
		s.validate(func(sub, format string, args ...any) { add(p+sub, format, args...) }, contacts)
		switch {
		case schedules[s.ID]:
			add(p+".id", "schedule %q is defined twice", s.ID)
		case contacts[s.ID]:
			add(p+".id", "%q is a contact already; step targets name contacts and schedules alike", s.ID)
		}
		schedules[s.ID] = true
	}
	checkZoneRefs := func(p string, refs []string) {
		for j, z := range refs {
			if isGlob(z) {
				if _, err := path.Match(z, ""); err != nil {
					add(fmt.Sprintf("%s[%d]", p, j), "bad glob %q", z)
				}
				continue
			}
			if !zones[z] {
				add(fmt.Sprintf("%s[%d]", p, j), "unknown zone %q", z)
			}
		}
	}
	for i, ct := range c.Contacts {
		checkZoneRefs(fmt.Sprintf("$.contacts[%d].zones", i), ct.Zones)
	}
	for i, r := range c.Regimes {
		p := fmt.Sprintf("$.regimes[%d]", i)
		if !ValidZoneID(r.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		}
		if len(r.Zones) == 0 {
			add(p+".zones", "must name at least one zone")
		}
		checkZoneRefs(p+".zones", r.Zones)
		switch r.Kind {
		case CessationOfHostilities, RegimeOfSilence, DeEscalation:
		default:
			add(p+".kind", "must be cessation_of_hostilities, regime_of_silence or de_escalation")
		}
		if r.StartsAt.IsZero() {
			add(p+".starts_at", "is required")
		}
		if r.EndsAt != nil && !r.EndsAt.After(r.StartsAt) {
			add(p+".ends_at", "must be after starts_at")
		}
		if r.Timezone != "" {
			if _, err := time.LoadLocation(r.Timezone); err != nil {
				add(p+".timezone", "unknown time zone %q", r.Timezone)
			}
		}
		if r.WarnBefore < 0 {
			add(p+".warn_before", "must not be negative")
		}
		for j, e := range r.Extensions {
			if r.EndsAt == nil {
				add(fmt.Sprintf("%s.extensions[%d]", p, j), "a regime without ends_at cannot be extended")
			} else if !e.Until.After(*r.EndsAt) {
				add(fmt.Sprintf("%s.extensions[%d].until", p, j), "must be after ends_at")
			}
		}
	}
	for i, pol := range c.Policies {
		p := fmt.Sprintf("$.policies[%d]", i)
		if !ValidZoneID(pol.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		}
		if policies[pol.ID] {
			add(p+".id", "policy %q is defined twice", pol.ID)
		}
		policies[pol.ID] = true
		if len(pol.Steps) == 0 {
			add(p+".steps", "must have at least one step")
		}
		needsFallback := false
		checkSteps := func(field, label string, steps []Step) {
			for j, s := range steps {
				sp := fmt.Sprintf("%s.%s[%d]", p, field, j)
				if s.After < 0 {
					add(sp+".after", "must not be negative")
				}
				if j > 0 && s.After < steps[j-1].After {
					add(sp+".after", "must not be earlier than the step before")
				}
				if len(s.Notify) == 0 {
					add(sp+".notify", "must name at least one target")
				}
				for k, t := range s.Notify {
					switch {
					case t == BoardTarget || contacts[t]:
					case schedules[t]:
						if pol.Fallback == "" && !needsFallback {
							add(p+".fallback", "is required: %s %d notifies schedule %q, which may have nobody on call", label, j+1, t)
						}
						needsFallback = true
					default:
						add(fmt.Sprintf("%s.notify[%d]", sp, k), "unknown target %q: name %q, a contact or a schedule", t, BoardTarget)
					}
				}
			}
		}
		checkSteps("steps", "step", pol.Steps)
		checkSteps("on_info_request_overdue", "on_info_request_overdue step", pol.OnInfoRequestOverdue)
		if pol.Fallback != "" && !contacts[pol.Fallback] {
			add(p+".fallback", "unknown contact %q", pol.Fallback)
		}
		if pol.Repeat < 0 || pol.Repeat > 100 {
			add(p+".repeat", "must be between 0 and 100")
		}
		if pol.RepeatAfter < 0 {
			add(p+".repeat_after", "must not be negative")
		}
		if pol.OnWorsened != "" && pol.OnWorsened != OnWorsenedFlag && pol.OnWorsened != OnWorsenedReopen {
			add(p+".on_worsened", "%q is neither %q nor %q", pol.OnWorsened, OnWorsenedFlag, OnWorsenedReopen)
		}
		for j, party := range pol.RequireAckFrom {
			if !parties[party] {
				add(fmt.Sprintf("%s.require_ack_from[%d]", p, j), "unknown party %q", party)
			}
		}
	}
	c.validateMonitors(add, zones, policies)
	ruleIDs := map[string]bool{}
	for i, r := range c.Rules {
		p := fmt.Sprintf("$.rules[%d]", i)
		if !ValidZoneID(r.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		}
		if ruleIDs[r.ID] {
			add(p+".id", "rule %q is defined twice", r.ID)
		}
		ruleIDs[r.ID] = true
		checkZoneRefs(p+".zones", r.Zones)
		for j, cat := range r.Categories {
			if !cat.Valid() {
				add(fmt.Sprintf("%s.categories[%d]", p, j), "unknown category %q", cat)
			}
		}
		for j, k := range r.GroupBy {
			if !slices.Contains(GroupKeys, k) {
				add(fmt.Sprintf("%s.group_by[%d]", p, j), "cannot group by %q; use %v", k, GroupKeys)
			}
		}
		if r.Window < 0 || time.Duration(r.Window) > 7*24*time.Hour {
			add(p+".window", "must be between 0 and 168h")
		}
		if r.Threshold < 0 || r.Threshold > 10000 {
			add(p+".threshold", "must be between 1 and 10000")
		}
		if r.Severity != "" && !r.Severity.Valid() {
			add(p+".severity", "must be minor, moderate, severe or extreme")
		}
		if r.Policy != "" && !policies[r.Policy] {
			add(p+".policy", "unknown policy %q", r.Policy)
		}
		if _, err := compileCondition(r.Condition); err != nil {
			ps = append(ps, conditionProblem(p+".condition", err))
		}
		if r.Late != "" && r.Late != LateInclude && r.Late != LateJoin {
			add(p+".late", "must be include (late reports open alerts and page like any other) or join (the default: they only join an active alert, without paging)")
		}
	}
	for i, sp := range c.Suppressions {
		p := fmt.Sprintf("$.suppressions[%d]", i)
		if !ValidZoneID(sp.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		}
		checkZoneRefs(p+".zones", sp.Zones)
		for j, r := range sp.Rules {
			if !ruleIDs[r] {
				add(fmt.Sprintf("%s.rules[%d]", p, j), "unknown rule %q", r)
			}
		}
		if sp.StartsAt.IsZero() {
			add(p+".starts_at", "is required")
		}
		switch {
		case sp.EndsAt == nil && sp.Recurring == nil:
			add(p+".ends_at", "is required for a one-off suppression")
		case sp.EndsAt != nil && !sp.EndsAt.After(sp.StartsAt):
			add(p+".ends_at", "must be after starts_at")
		}
		if strings.TrimSpace(sp.CreatedBy) == "" {
			add(p+".created_by", "is required: say who suppresses")
		}
		if strings.TrimSpace(sp.Reason) == "" {
			add(p+".reason", "is required: say why")
		}
		if r := sp.Recurring; r != nil {
			r.validate(func(sub, format string, args ...any) { add(p+".recurring"+sub, format, args...) })
		}
	}
	return ps
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// matchAny reports whether zone matches any of the patterns; no patterns
// match every zone.
func matchAny(patterns []string, zone string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, zone); ok {
			return true
		}
	}
	return false
}
