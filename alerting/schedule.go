package alerting

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// Schedule says who is on call when: layers of rotations, the later layers
// on top of the earlier ones where they apply, and time-bounded overrides
// on top of every layer.
type Schedule struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Timezone is where hand-offs happen ("Europe/Istanbul"); hand-offs
	// keep their local clock time across daylight-saving changes.
	Timezone  string     `json:"timezone"`
	Layers    []Layer    `json:"layers"`
	Overrides []Override `json:"overrides,omitempty"`
}

// Layer is one rotation: its participants take turns, a shift each, in
// order, from Start on.
type Layer struct {
	Name string `json:"name"`
	// Participants are contact ids, in the order they take their shifts.
	Participants []string `json:"participants"`
	// Shift is how long each participant is on call ("24h", "168h",
	// "12h"); at least 1h. It is measured in local clock time, so a 24h
	// shift hands off at the same local time every day.
	Shift Duration `json:"shift"`
	// Start is the local date and time of the first hand-off, to the
	// first participant ("2026-11-02T08:00"), in the schedule's time
	// zone. Before it the layer has nobody on call.
	Start string `json:"start"`
	// Restrict, when set, limits the layer to those hours on those days
	// (in the schedule's time zone unless it names its own); outside them
	// the layers below apply.
	Restrict *Recurrence `json:"restrict,omitempty"`
}

// Override puts a contact on call from Start to End, whatever the layers
// say. While several overrides overlap, all their contacts are on call.
type Override struct {
	Contact string    `json:"contact"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Reason  string    `json:"reason,omitempty"`
}

// OnCall is who is on call in a schedule at a time, and why.
type OnCall struct {
	Schedule string    `json:"schedule"`
	At       time.Time `json:"at"`
	// Contacts is empty when nobody is on call.
	Contacts []string `json:"contacts"`
	// Layer names the layer that decided, "override" for an override, or
	// "" when nobody is on call.
	Layer string `json:"layer,omitempty"`
	// From and Until bound the shift (or override) that decided, when
	// someone is on call.
	From  *time.Time `json:"from,omitempty"`
	Until *time.Time `json:"until,omitempty"`
}

// LocalTimeLayout is how a layer's Start is written.
const LocalTimeLayout = "2006-01-02T15:04"

// overrideLayer is OnCall.Layer when an override decided.
const overrideLayer = "override"

// Shift bounds, checked by validate.
const (
	minShift = time.Hour
	maxShift = 90 * 24 * time.Hour
)

// validate reports the schedule's problems, with paths relative to it
// (".layers[0].shift"); contacts are the known contact ids. It names every
// problem, not just the first.
func (s *Schedule) validate(add func(path, format string, args ...any), contacts map[string]bool) {
	if !ValidZoneID(s.ID) {
		add(".id", "must match [a-z0-9-]{1,64}")
	}
	if s.Timezone == "" {
		add(".timezone", "is required: hand-offs happen at local times")
	} else if _, err := time.LoadLocation(s.Timezone); err != nil {
		add(".timezone", "unknown time zone %q", s.Timezone)
	}
	if len(s.Layers) == 0 && len(s.Overrides) == 0 {
		add(".layers", "must have at least one layer or override")
	}
	names := make(map[string]bool, len(s.Layers))
	for i := range s.Layers {
		l := &s.Layers[i]
		p := fmt.Sprintf(".layers[%d]", i)
		switch {
		case strings.TrimSpace(l.Name) == "":
			add(p+".name", "is required")
		case l.Name == overrideLayer:
			add(p+".name", "%q is reserved for overrides", overrideLayer)
		case names[l.Name]:
			add(p+".name", "layer %q is defined twice", l.Name)
		}
		names[l.Name] = true
		if len(l.Participants) == 0 {
			add(p+".participants", "must have at least one participant")
		}
		for j, c := range l.Participants {
			if !contacts[c] {
				add(fmt.Sprintf("%s.participants[%d]", p, j), "unknown contact %q", c)
			}
		}
		if d := time.Duration(l.Shift); d < minShift || d > maxShift {
			add(p+".shift", "must be between 1h and 2160h (90 days)")
		}
		if l.Start == "" {
			add(p+".start", "is required")
		} else if _, err := time.Parse(LocalTimeLayout, l.Start); err != nil {
			add(p+".start", "must be a local date and time like 2026-11-02T08:00")
		}
		if l.Restrict != nil {
			l.Restrict.validate(func(sub, format string, args ...any) { add(p+".restrict"+sub, format, args...) })
		}
	}
	for i, o := range s.Overrides {
		p := fmt.Sprintf(".overrides[%d]", i)
		if o.Contact == "" {
			add(p+".contact", "is required")
		} else if !contacts[o.Contact] {
			add(p+".contact", "unknown contact %q", o.Contact)
		}
		if o.Start.IsZero() {
			add(p+".start", "is required")
		}
		if o.End.IsZero() {
			add(p+".end", "is required")
		}
		if !o.Start.IsZero() && !o.End.IsZero() && !o.End.After(o.Start) {
			add(p+".end", "must be after start")
		}
	}
}

// OnCall returns who is on call in the schedule at t:
//
//   - Overrides come first: when any cover t (Start ≤ t < End), their
//     contacts are on call, in the order the overrides are listed and each
//     once; Layer is "override" and From and Until are the bounds of the
//     first covering override (another may go on after its End).
//   - Otherwise the last layer that applies at t decides: a layer applies
//     from its first hand-off on, and, when it has Restrict, only while
//     the restriction covers t (in the schedule's time zone unless the
//     restriction names its own). Its participant on call is the one whose
//     turn the shift containing t is; From and Until are the real instants
//     that shift starts and ends, even for a restricted layer: they bound
//     the rotation's turn, not the restriction's window, so a layer
//     restricted to weekday office hours with weekly shifts reports
//     Until at the end of the week's shift.
//   - Otherwise nobody is on call: Contacts is empty (never nil), Layer is
//     "" and From and Until are nil.
//
// Shifts are measured in local clock time in the schedule's time zone: the
// n-th hand-off is at the local time Start + n×Shift, so a 24h rotation
// hands off at the same local time every day and a shift across a
// daylight-saving change lasts 23h or 25h. A hand-off happens the first
// time the local clock reads its time: at a time the change skips, when the
// clocks jump forward (03:00 for 02:30 on a spring-forward night in
// Berlin); at a time the change repeats, its first occurrence.
func (s *Schedule) OnCall(t time.Time) OnCall {
	oc := OnCall{Schedule: s.ID, At: t, Contacts: []string{}}
	for i := range s.Overrides {
		o := &s.Overrides[i]
		if t.Before(o.Start) || !t.Before(o.End) {
			continue
		}
		if oc.Layer == "" {
			oc.Layer = overrideLayer
			oc.From, oc.Until = span(o.Start, o.End)
		}
		if !slices.Contains(oc.Contacts, o.Contact) {
			oc.Contacts = append(oc.Contacts, o.Contact)
		}
	}
	if oc.Layer != "" || len(s.Layers) == 0 {
		return oc
	}
	loc := location(s.Timezone)
	for i := len(s.Layers) - 1; i >= 0; i-- {
		l := &s.Layers[i]
		n, from, until, ok := l.shiftAt(t, loc)
		if !ok || !l.restrictionCovers(t, loc) {
			continue
		}
		oc.Contacts = append(oc.Contacts, l.Participants[n%int64(len(l.Participants))])
		oc.Layer = l.Name
		oc.From, oc.Until = span(from, until)
		return oc
	}
	return oc
}

// shiftAt returns the index of the layer's shift that contains t and the
// real instants it starts and ends. ok is false before the first hand-off,
// and for a layer without participants, start or shift (which validate
// rejects).
//
// Hand-offs are computed on wall clocks, local clock readings written as
// Unix seconds as if the zone were UTC, where daylight saving does not
// exist: the n-th hand-off is the wall clock start + n×shift, mapped back
// into loc. The shift index is computed from t's wall clock, then checked
// against the real instants of the hand-offs around it: when the clocks go
// back, t may read a time before a hand-off's and still come after it
// (02:10 CET comes after 02:30 CEST), and the index is one too low.
func (l *Layer) shiftAt(t time.Time, loc *time.Location) (n int64, from, until time.Time, ok bool) {
	shift := time.Duration(l.Shift)
	first, err := time.Parse(LocalTimeLayout, l.Start)
	if err != nil || shift < time.Second || len(l.Participants) == 0 {
		return 0, from, until, false
	}
	start := first.Unix()
	_, offset := t.In(loc).Zone()
	elapsed := t.Unix() + int64(offset) - start // local clock seconds since the first hand-off
	// In floating point, as elapsed×1e9 overflows 292 years after the
	// start; its rounding is far below a second for millions of years, and
	// the loops below would correct it anyway.
	n = int64(math.Floor(float64(elapsed) / shift.Seconds()))
	from, until = handoff(start, n, shift, loc), handoff(start, n+1, shift, loc)
	for t.Before(from) {
		n--
		from, until = handoff(start, n, shift, loc), from
	}
	for !t.Before(until) {
		n++
		from, until = until, handoff(start, n+1, shift, loc)
	}
	return n, from, until, n >= 0
}

// handoff returns the real instant of a layer's n-th hand-off: when the
// clocks of loc first read the wall clock start (Unix seconds) + n×shift.
func handoff(start, n int64, shift time.Duration, loc *time.Location) time.Time {
	// Seconds and nanoseconds apart: n×shift in nanoseconds would overflow
	// 292 years after the start.
	return firstReading(time.Unix(start+n*int64(shift/time.Second), n*int64(shift%time.Second)).UTC(), loc)
}

// firstReading returns the first instant at which the clocks of loc read
// the wall clock w (a local time written as UTC) or later: on a day they
// skip w, the instant they jump forward; on a day they read it twice, the
// first time. time.Date leaves that choice open (and picks differently
// east and west of Greenwich).
func firstReading(w time.Time, loc *time.Location) time.Time {
	year, month, day := w.Date()
	hour, minute, sec := w.Clock()
	t := time.Date(year, month, day, hour, minute, sec, w.Nanosecond(), loc)
	_, offset := t.Zone()
	start, end := t.ZoneBounds()
	switch read := t.UTC().Add(time.Duration(offset) * time.Second); {
	case read.After(w): // skipped; time.Date went past the jump
		return start
	case read.Before(w): // skipped; time.Date stopped short of the jump
		return end
	}
	// The clocks read w at t; they read it an hour (or so) earlier too if
	// they went back at the start of t's zone period.
	if !start.IsZero() {
		_, before := start.Add(-time.Nanosecond).Zone()
		if earlier := t.Add(time.Duration(offset-before) * time.Second); earlier.Before(start) {
			return earlier
		}
	}
	return t
}

// restrictionCovers reports whether the layer's restriction, if any, lets
// it apply at t; loc is the schedule's time zone, which a restriction
// without its own uses.
func (l *Layer) restrictionCovers(t time.Time, loc *time.Location) bool {
	if l.Restrict == nil {
		return true
	}
	if l.Restrict.Timezone != "" {
		loc = location(l.Restrict.Timezone)
	}
	// covers reads only the local clock at t: hand it that clock as UTC,
	// in a copy (the stored schedule is shared, never written), so that it
	// need not load the zone from the database, as it would on every call.
	r := *l.Restrict
	r.Timezone = "UTC"
	_, offset := t.In(loc).Zone()
	return r.covers(t.Add(time.Duration(offset) * time.Second).UTC())
}

// span returns pointers to from and until, in one allocation.
func span(from, until time.Time) (*time.Time, *time.Time) {
	b := &[2]time.Time{from, until}
	return &b[0], &b[1]
}

// locations caches the time zones of schedules: time.LoadLocation reads
// the zone database on every call, and OnCall runs for every escalation
// step that targets a schedule.
var locations struct {
	sync.RWMutex
	m map[string]*time.Location
}

// location returns the time zone named name, or UTC when there is no such
// zone (validate rejects such a schedule).
func location(name string) *time.Location {
	locations.RLock()
	loc, ok := locations.m[name]
	locations.RUnlock()
	if ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	locations.Lock()
	if locations.m == nil {
		locations.m = map[string]*time.Location{}
	}
	locations.m[name] = loc
	locations.Unlock()
	return loc
}
