package alerting

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has installed
)

func mustLoc(tb testing.TB, name string) *time.Location {
	tb.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		tb.Fatal(err)
	}
	return loc
}

// onCallCase is an instant and who should be on call then; a zero from
// means nobody.
type onCallCase struct {
	at          time.Time
	contacts    []string
	layer       string
	from, until time.Time
}

func checkOnCall(t *testing.T, s *Schedule, c onCallCase) {
	t.Helper()
	got := s.OnCall(c.at)
	name := c.at.Format(time.RFC3339Nano)
	if got.Schedule != s.ID || !got.At.Equal(c.at) {
		t.Errorf("%s: schedule %q at %v, want %q at %v", name, got.Schedule, got.At, s.ID, c.at)
	}
	if got.Contacts == nil {
		t.Errorf("%s: Contacts is nil, want a slice", name)
	}
	want := c.contacts
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got.Contacts, want) || got.Layer != c.layer {
		t.Errorf("%s: on call %q (layer %q), want %q (layer %q)", name, got.Contacts, got.Layer, want, c.layer)
	}
	if c.from.IsZero() {
		if got.From != nil || got.Until != nil {
			t.Errorf("%s: From %v, Until %v, want nil", name, got.From, got.Until)
		}
		return
	}
	if got.From == nil || got.Until == nil {
		t.Fatalf("%s: From %v, Until %v, want %v to %v", name, got.From, got.Until, c.from, c.until)
	}
	if !got.From.Equal(c.from) || !got.Until.Equal(c.until) {
		t.Errorf("%s: from %v until %v, want %v until %v", name, got.From.UTC(), got.Until.UTC(), c.from.UTC(), c.until.UTC())
	}
}

func TestScheduleOnCallWeeklyRotation(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, berlin)
	}
	s := &Schedule{ID: "duty", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "weekly", Participants: []string{"ana", "ben", "cem"},
		Shift: Duration(7 * 24 * time.Hour), Start: "2026-01-05T09:00", // a Monday
	}}}
	for _, c := range []onCallCase{
		{at(1, 5, 9, 0), []string{"ana"}, "weekly", at(1, 5, 9, 0), at(1, 12, 9, 0)},
		{at(1, 12, 8, 59), []string{"ana"}, "weekly", at(1, 5, 9, 0), at(1, 12, 9, 0)},
		{at(1, 12, 9, 0), []string{"ben"}, "weekly", at(1, 12, 9, 0), at(1, 19, 9, 0)},
		{at(1, 18, 23, 0), []string{"ben"}, "weekly", at(1, 12, 9, 0), at(1, 19, 9, 0)},
		{at(1, 19, 9, 0), []string{"cem"}, "weekly", at(1, 19, 9, 0), at(1, 26, 9, 0)},
		{at(1, 26, 9, 0), []string{"ana"}, "weekly", at(1, 26, 9, 0), at(2, 2, 9, 0)},
		// The week across the spring-forward change: Monday 09:00 on both
		// sides, one hour shorter.
		{at(3, 29, 12, 0), []string{"cem"}, "weekly", at(3, 23, 9, 0), at(3, 30, 9, 0)},
		{at(3, 30, 9, 0), []string{"ana"}, "weekly", at(3, 30, 9, 0), at(4, 6, 9, 0)},
	} {
		checkOnCall(t, s, c)
	}
	if d := at(3, 30, 9, 0).Sub(at(3, 23, 9, 0)); d != 167*time.Hour {
		t.Errorf("week across spring-forward lasts %v, want 167h", d)
	}
}

// TestScheduleOnCallDailyAcrossDaylightSaving checks a daily rotation
// handing off at 08:00 in Berlin across the changes of 2026-03-29 (02:00
// CET → 03:00 CEST) and 2026-10-25 (03:00 CEST → 02:00 CET).
func TestScheduleOnCallDailyAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	utc := func(month time.Month, day, hour, min, sec int) time.Time {
		return time.Date(2026, month, day, hour, min, sec, 0, time.UTC)
	}
	s := &Schedule{ID: "daily", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "day", Participants: []string{"ana", "ben"},
		Shift: Duration(24 * time.Hour), Start: "2026-03-01T08:00",
	}}}
	// 2026-03-28 is day 27 of the rotation (ben), 2026-10-24 day 237 (ben).
	for _, c := range []struct {
		onCallCase
		lasts time.Duration
	}{
		{onCallCase{utc(3, 27, 7, 0, 0), []string{"ana"}, "day", utc(3, 27, 7, 0, 0), utc(3, 28, 7, 0, 0)}, 24 * time.Hour},
		{onCallCase{utc(3, 28, 6, 59, 59), []string{"ana"}, "day", utc(3, 27, 7, 0, 0), utc(3, 28, 7, 0, 0)}, 24 * time.Hour},
		// 08:00 CET is 07:00 UTC; the next 08:00 is CEST, 06:00 UTC.
		{onCallCase{utc(3, 28, 7, 0, 0), []string{"ben"}, "day", utc(3, 28, 7, 0, 0), utc(3, 29, 6, 0, 0)}, 23 * time.Hour},
		{onCallCase{utc(3, 29, 1, 30, 0), []string{"ben"}, "day", utc(3, 28, 7, 0, 0), utc(3, 29, 6, 0, 0)}, 23 * time.Hour},
		{onCallCase{utc(3, 29, 5, 59, 59), []string{"ben"}, "day", utc(3, 28, 7, 0, 0), utc(3, 29, 6, 0, 0)}, 23 * time.Hour},
		{onCallCase{utc(3, 29, 6, 0, 0), []string{"ana"}, "day", utc(3, 29, 6, 0, 0), utc(3, 30, 6, 0, 0)}, 24 * time.Hour},
		{onCallCase{utc(3, 30, 6, 0, 0), []string{"ben"}, "day", utc(3, 30, 6, 0, 0), utc(3, 31, 6, 0, 0)}, 24 * time.Hour},
		// 08:00 CEST is 06:00 UTC; the next 08:00 is CET, 07:00 UTC.
		{onCallCase{utc(10, 24, 6, 0, 0), []string{"ben"}, "day", utc(10, 24, 6, 0, 0), utc(10, 25, 7, 0, 0)}, 25 * time.Hour},
		{onCallCase{utc(10, 25, 1, 30, 0), []string{"ben"}, "day", utc(10, 24, 6, 0, 0), utc(10, 25, 7, 0, 0)}, 25 * time.Hour},
		{onCallCase{utc(10, 25, 6, 30, 0), []string{"ben"}, "day", utc(10, 24, 6, 0, 0), utc(10, 25, 7, 0, 0)}, 25 * time.Hour},
		{onCallCase{utc(10, 25, 7, 0, 0), []string{"ana"}, "day", utc(10, 25, 7, 0, 0), utc(10, 26, 7, 0, 0)}, 24 * time.Hour},
	} {
		checkOnCall(t, s, c.onCallCase)
		if d := c.until.Sub(c.from); d != c.lasts {
			t.Errorf("%v: shift lasts %v, want %v", c.at, d, c.lasts)
		}
		got := s.OnCall(c.at)
		for _, h := range []*time.Time{got.From, got.Until} {
			if h == nil {
				t.Fatalf("%v: no shift bounds", c.at)
			}
			if l := h.In(berlin); l.Hour() != 8 || l.Minute() != 0 {
				t.Errorf("%v: hand-off at %v, want 08:00 local", c.at, l)
			}
		}
	}
}

func TestScheduleOnCallTwelveHourRotation(t *testing.T) {
	t.Parallel()
	istanbul := mustLoc(t, "Europe/Istanbul")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 6, day, hour, min, 0, 0, istanbul) }
	s := &Schedule{ID: "halves", Timezone: "Europe/Istanbul", Layers: []Layer{{
		Name: "half-day", Participants: []string{"ana", "ben", "cem"},
		Shift: Duration(12 * time.Hour), Start: "2026-06-01T08:00",
	}}}
	for _, c := range []onCallCase{
		{at(1, 8, 0), []string{"ana"}, "half-day", at(1, 8, 0), at(1, 20, 0)},
		{at(1, 19, 59), []string{"ana"}, "half-day", at(1, 8, 0), at(1, 20, 0)},
		{at(1, 20, 0), []string{"ben"}, "half-day", at(1, 20, 0), at(2, 8, 0)},
		{at(2, 3, 0), []string{"ben"}, "half-day", at(1, 20, 0), at(2, 8, 0)},
		{at(2, 8, 0), []string{"cem"}, "half-day", at(2, 8, 0), at(2, 20, 0)},
		{at(2, 20, 0), []string{"ana"}, "half-day", at(2, 20, 0), at(3, 8, 0)},
		{at(11, 9, 0), []string{"cem"}, "half-day", at(11, 8, 0), at(11, 20, 0)}, // shift 20
	} {
		checkOnCall(t, s, c)
	}
}

func TestScheduleOnCallRestrictedLayer(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	at := func(day, hour, min int) time.Time { return time.Date(2026, 1, day, hour, min, 0, 0, berlin) }
	office := &Recurrence{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}
	s := &Schedule{ID: "layered", Timezone: "Europe/Berlin", Layers: []Layer{
		{Name: "base", Participants: []string{"ana", "ben"}, Shift: Duration(7 * 24 * time.Hour), Start: "2026-01-01T09:00"}, // a Thursday
		{Name: "office", Participants: []string{"desk-1", "desk-2"}, Shift: Duration(24 * time.Hour), Start: "2026-01-05T09:00", Restrict: office},
	}}
	for _, c := range []onCallCase{
		// Friday, within office hours, but before the office layer's first
		// hand-off.
		{at(2, 10, 0), []string{"ana"}, "base", at(1, 9, 0), at(8, 9, 0)},
		{at(5, 9, 0), []string{"desk-1"}, "office", at(5, 9, 0), at(6, 9, 0)},
		// Wednesday: the office layer's shift bounds, not 09:00 to 17:00.
		{at(7, 10, 0), []string{"desk-1"}, "office", at(7, 9, 0), at(8, 9, 0)},
		{at(7, 16, 59), []string{"desk-1"}, "office", at(7, 9, 0), at(8, 9, 0)},
		{at(7, 8, 59), []string{"ana"}, "base", at(1, 9, 0), at(8, 9, 0)},
		{at(7, 17, 0), []string{"ana"}, "base", at(1, 9, 0), at(8, 9, 0)},
		{at(8, 12, 0), []string{"desk-2"}, "office", at(8, 9, 0), at(9, 9, 0)},
		// Saturday: base only.
		{at(10, 10, 0), []string{"ben"}, "base", at(8, 9, 0), at(15, 9, 0)},
		{at(12, 12, 0), []string{"desk-2"}, "office", at(12, 9, 0), at(13, 9, 0)},
	} {
		checkOnCall(t, s, c)
	}
	if office.Timezone != "" {
		t.Errorf("OnCall wrote the schedule's time zone into the stored restriction: %q", office.Timezone)
	}

	// A restriction in its own time zone: 09:00 to 17:00 in New York is
	// 15:00 to 23:00 in Berlin in January.
	s.Layers[1].Restrict = &Recurrence{From: "09:00", To: "17:00", Timezone: "America/New_York"}
	for _, c := range []onCallCase{
		{at(7, 10, 0), []string{"ana"}, "base", at(1, 9, 0), at(8, 9, 0)},
		{at(7, 16, 0), []string{"desk-1"}, "office", at(7, 9, 0), at(8, 9, 0)},
		{at(7, 22, 59), []string{"desk-1"}, "office", at(7, 9, 0), at(8, 9, 0)},
		{at(7, 23, 0), []string{"ana"}, "base", at(1, 9, 0), at(8, 9, 0)},
	} {
		checkOnCall(t, s, c)
	}

	// With only the restricted layer, nobody is on call outside it.
	s.Layers = s.Layers[1:]
	checkOnCall(t, s, onCallCase{at(7, 10, 0), nil, "", time.Time{}, time.Time{}})
}

func TestScheduleOnCallOverrides(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	utc := func(hour, min int) time.Time { return time.Date(2026, 1, 10, hour, min, 0, 0, time.UTC) }
	s := &Schedule{ID: "covered", Timezone: "Europe/Berlin",
		Layers: []Layer{
			{Name: "base", Participants: []string{"ana", "ben"}, Shift: Duration(24 * time.Hour), Start: "2026-01-01T08:00"},
			{Name: "office", Participants: []string{"desk-1"}, Shift: Duration(24 * time.Hour), Start: "2026-01-01T08:00",
				Restrict: &Recurrence{From: "00:00", To: "23:59"}},
		},
		Overrides: []Override{
			{Contact: "cem", Start: utc(10, 0), End: utc(12, 0), Reason: "swap"},
			{Contact: "dia", Start: utc(11, 0), End: utc(13, 0)},
			{Contact: "cem", Start: utc(11, 30), End: utc(12, 30)},
		}}
	day := func(d, hour int) time.Time { return time.Date(2026, 1, d, hour, 0, 0, 0, berlin) }
	for _, c := range []onCallCase{
		{utc(9, 59), []string{"desk-1"}, "office", day(10, 8), day(11, 8)},
		{utc(10, 0), []string{"cem"}, "override", utc(10, 0), utc(12, 0)},
		{utc(11, 0), []string{"cem", "dia"}, "override", utc(10, 0), utc(12, 0)},
		{utc(11, 45), []string{"cem", "dia"}, "override", utc(10, 0), utc(12, 0)},
		{utc(12, 0), []string{"dia", "cem"}, "override", utc(11, 0), utc(13, 0)},
		{utc(12, 30), []string{"dia"}, "override", utc(11, 0), utc(13, 0)},
		{utc(13, 0), []string{"desk-1"}, "office", day(10, 8), day(11, 8)},
		// Outside the office layer's hours, overrides still win.
		{time.Date(2026, 1, 10, 22, 59, 0, 0, time.UTC), []string{"ben"}, "base", day(10, 8), day(11, 8)},
	} {
		checkOnCall(t, s, c)
	}
	s.Overrides = append(s.Overrides, Override{Contact: "eli", Start: utc(22, 0), End: utc(23, 0)})
	checkOnCall(t, s, onCallCase{time.Date(2026, 1, 10, 22, 59, 0, 0, time.UTC), []string{"eli"}, "override", utc(22, 0), utc(23, 0)})

	// A schedule of overrides only.
	only := &Schedule{ID: "only", Timezone: "UTC", Overrides: s.Overrides[:1]}
	checkOnCall(t, only, onCallCase{utc(10, 30), []string{"cem"}, "override", utc(10, 0), utc(12, 0)})
	checkOnCall(t, only, onCallCase{utc(12, 0), nil, "", time.Time{}, time.Time{}})
}

func TestScheduleOnCallNobody(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	first := time.Date(2026, 3, 1, 8, 0, 0, 0, berlin)
	s := &Schedule{ID: "later", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "day", Participants: []string{"ana", "ben"},
		Shift: Duration(24 * time.Hour), Start: "2026-03-01T08:00",
	}}}
	for _, c := range []onCallCase{
		{first.Add(-time.Nanosecond), nil, "", time.Time{}, time.Time{}},
		{first.Add(-36 * time.Hour), nil, "", time.Time{}, time.Time{}},
		{time.Time{}, nil, "", time.Time{}, time.Time{}},
		{first, []string{"ana"}, "day", first, first.AddDate(0, 0, 1)},
	} {
		checkOnCall(t, s, c)
	}
	empty := &Schedule{ID: "empty", Timezone: "UTC"}
	checkOnCall(t, empty, onCallCase{first, nil, "", time.Time{}, time.Time{}})
}

// TestScheduleOnCallLongAgo checks rotations that started decades ago
// (BenchmarkOnCall measures that OnCall does not walk their shifts).
func TestScheduleOnCallLongAgo(t *testing.T) {
	t.Parallel()
	berlin := mustLoc(t, "Europe/Berlin")
	people := []string{"p0", "p1", "p2", "p3", "p4", "p5", "p6"}
	daily := &Schedule{ID: "daily", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "day", Participants: people, Shift: Duration(24 * time.Hour), Start: "1990-01-01T08:00",
	}}}
	hourly := &Schedule{ID: "hourly", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "hour", Participants: people[:5], Shift: Duration(time.Hour), Start: "1900-01-01T00:00",
	}}}
	for at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); at.Year() == 2026; at = at.Add(17*time.Hour + 31*time.Minute) {
		local := at.In(berlin)
		// Days and hours of local clock since the start, counted on a
		// clock without daylight saving.
		wall := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), local.Minute(), 0, 0, time.UTC)
		days := int(wall.Sub(time.Date(1990, 1, 1, 8, 0, 0, 0, time.UTC)) / (24 * time.Hour))
		from := time.Date(1990, 1, 1+days, 8, 0, 0, 0, berlin)
		checkOnCall(t, daily, onCallCase{at, []string{people[days%7]}, "day", from, time.Date(1990, 1, 2+days, 8, 0, 0, 0, berlin)})

		hours := int(wall.Sub(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) / time.Hour)
		got := hourly.OnCall(at)
		if len(got.Contacts) != 1 || got.Contacts[0] != people[hours%5] || got.From == nil || got.From.In(berlin).Minute() != 0 || got.From.After(at) || !got.Until.After(at) {
			t.Errorf("%v: hourly rotation since 1900 gives %q from %v until %v, want %q", at, got.Contacts, got.From, got.Until, people[hours%5])
		}
	}
}

// TestScheduleOnCallHandOffInTheChangingHour checks daily rotations
// handing off at a local time the clocks skip or read twice: the hand-off
// is the first time the clocks read it (or later), and an instant whose
// local time reads before the hand-off's can still be after it.
func TestScheduleOnCallHandOffInTheChangingHour(t *testing.T) {
	t.Parallel()
	utc := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, time.UTC)
	}
	berlin := &Schedule{ID: "berlin", Timezone: "Europe/Berlin", Layers: []Layer{{
		Name: "day", Participants: []string{"ana", "ben"}, Shift: Duration(24 * time.Hour), Start: "2026-03-01T02:30",
	}}}
	newYork := &Schedule{ID: "new-york", Timezone: "America/New_York", Layers: []Layer{{
		Name: "day", Participants: []string{"ana", "ben"}, Shift: Duration(24 * time.Hour), Start: "2026-03-01T01:30",
	}}}
	for _, c := range []struct {
		s *Schedule
		onCallCase
	}{
		// Berlin, 2026-03-29 (day 28, ana): 02:30 never comes; the hand-off
		// is at the jump from 02:00 CET to 03:00 CEST, 01:00 UTC.
		{berlin, onCallCase{utc(3, 29, 0, 59), []string{"ben"}, "day", utc(3, 28, 1, 30), utc(3, 29, 1, 0)}},
		{berlin, onCallCase{utc(3, 29, 1, 0), []string{"ana"}, "day", utc(3, 29, 1, 0), utc(3, 30, 0, 30)}},
		{berlin, onCallCase{utc(3, 29, 1, 15), []string{"ana"}, "day", utc(3, 29, 1, 0), utc(3, 30, 0, 30)}},
		// Berlin, 2026-10-25 (day 238, ana): 02:30 CEST is 00:30 UTC; at
		// 02:10 CET, 01:10 UTC, the clocks read earlier, but it is later.
		{berlin, onCallCase{utc(10, 25, 0, 29), []string{"ben"}, "day", utc(10, 24, 0, 30), utc(10, 25, 0, 30)}},
		{berlin, onCallCase{utc(10, 25, 0, 30), []string{"ana"}, "day", utc(10, 25, 0, 30), utc(10, 26, 1, 30)}},
		{berlin, onCallCase{utc(10, 25, 1, 10), []string{"ana"}, "day", utc(10, 25, 0, 30), utc(10, 26, 1, 30)}},
		{berlin, onCallCase{utc(10, 25, 1, 40), []string{"ana"}, "day", utc(10, 25, 0, 30), utc(10, 26, 1, 30)}},
		// New York, 2026-11-01 (day 245, ben): 01:30 EDT is 05:30 UTC; at
		// 01:10 EST, 06:10 UTC, the clocks read earlier, but it is later.
		{newYork, onCallCase{utc(11, 1, 5, 29), []string{"ana"}, "day", utc(10, 31, 5, 30), utc(11, 1, 5, 30)}},
		{newYork, onCallCase{utc(11, 1, 5, 30), []string{"ben"}, "day", utc(11, 1, 5, 30), utc(11, 2, 6, 30)}},
		{newYork, onCallCase{utc(11, 1, 6, 10), []string{"ben"}, "day", utc(11, 1, 5, 30), utc(11, 2, 6, 30)}},
	} {
		checkOnCall(t, c.s, c.onCallCase)
	}
	// New York, 2026-03-08: a 02:30 hand-off comes at the jump from 02:00
	// EST to 03:00 EDT, 07:00 UTC, where time.Date would say 01:30 EST.
	newYork.Layers[0].Start = "2026-03-01T02:30"
	checkOnCall(t, newYork, onCallCase{utc(3, 8, 6, 59), []string{"ana"}, "day", utc(3, 7, 7, 30), utc(3, 8, 7, 0)})
	checkOnCall(t, newYork, onCallCase{utc(3, 8, 7, 0), []string{"ben"}, "day", utc(3, 8, 7, 0), utc(3, 9, 6, 30)})
}

// TestScheduleOnCallMatchesScan compares OnCall with the hand-offs a loop
// from the start finds, in zones that move their clocks by an hour, half
// an hour, or not at all: at and around hand-offs of 2026 (every one near
// a change of the clocks), and every five minutes around each change.
func TestScheduleOnCallMatchesScan(t *testing.T) {
	t.Parallel()
	zones := []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"}
	shifts := []time.Duration{time.Hour, 90 * time.Minute, 12 * time.Hour, 24 * time.Hour, 25 * time.Hour, 7 * 24 * time.Hour}
	people := []string{"a", "b", "c"}
	begin, end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, zone := range zones {
		loc := mustLoc(t, zone)
		var changes []time.Time
		for at := begin; ; {
			_, next := at.In(loc).ZoneBounds()
			if next.IsZero() || !next.Before(end) {
				break
			}
			changes, at = append(changes, next), next
		}
		if zone != "Asia/Kolkata" && len(changes) != 2 {
			t.Fatalf("%s changes its clocks at %v in 2026, want twice", zone, changes)
		}
		for _, shift := range shifts {
			for _, start := range []string{"2025-12-31T01:30", "2025-12-30T02:15"} {
				s := &Schedule{ID: "scan", Timezone: zone, Layers: []Layer{{Name: "l", Participants: people, Shift: Duration(shift), Start: start}}}
				w0, _ := time.Parse(LocalTimeLayout, start)
				var handoffs []time.Time
				for k := 0; k == 0 || !handoffs[k-1].After(end); k++ {
					h := firstReading(w0.Add(time.Duration(k)*shift), loc)
					if k > 0 && h.Before(handoffs[k-1]) {
						t.Fatalf("%s %v from %s: hand-off %d at %v before hand-off %d at %v", zone, shift, start, k, h, k-1, handoffs[k-1])
					}
					handoffs = append(handoffs, h)
				}
				check := func(at time.Time) {
					// The last hand-off at or before at starts its shift
					// (skipping shifts that last no time).
					k := sort.Search(len(handoffs), func(i int) bool { return handoffs[i].After(at) }) - 1
					if k < 0 {
						checkOnCall(t, s, onCallCase{at, nil, "", time.Time{}, time.Time{}})
						return
					}
					checkOnCall(t, s, onCallCase{at, []string{people[k%3]}, "l", handoffs[k], handoffs[k+1]})
				}
				check(handoffs[0].Add(-time.Nanosecond))
				for k := 0; k+1 < len(handoffs); k++ {
					from, until := handoffs[k], handoffs[k+1]
					irregular := until.Sub(from) != shift || (k > 0 && from.Sub(handoffs[k-1]) != shift)
					if until.After(from) && (irregular || k%97 == 0) {
						check(from)
						check(from.Add(until.Sub(from) / 2))
						check(until.Add(-time.Nanosecond))
					}
				}
				for _, change := range changes {
					for m := -36; m <= 36; m++ {
						check(change.Add(time.Duration(m) * 5 * time.Minute))
					}
				}
				if t.Failed() {
					return
				}
			}
		}
	}
}

func TestScheduleFirstReading(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		zone string
		wall string
		want time.Time
	}{
		{"UTC", "2026-03-29T02:30", time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-03-29T01:59", time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-03-29T02:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)}, // skipped: the jump
		{"Europe/Berlin", "2026-03-29T02:30", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-03-29T03:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-03-29T03:30", time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-10-25T01:59", time.Date(2026, 10, 24, 23, 59, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-10-25T02:00", time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)}, // twice: the first
		{"Europe/Berlin", "2026-10-25T02:30", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"Europe/Berlin", "2026-10-25T03:00", time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)},
		{"America/New_York", "2026-03-08T02:30", time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)},
		{"America/New_York", "2026-03-08T03:00", time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)},
		{"America/New_York", "2026-11-01T01:30", time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)},
		{"America/New_York", "2026-11-01T02:00", time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", "2026-04-05T01:45", time.Date(2026, 4, 4, 14, 45, 0, 0, time.UTC)},
		{"Australia/Lord_Howe", "2026-10-04T02:15", time.Date(2026, 10, 3, 15, 30, 0, 0, time.UTC)},
		// Samoa skipped 30 December 2011 altogether.
		{"Pacific/Apia", "2011-12-30T12:00", time.Date(2011, 12, 30, 10, 0, 0, 0, time.UTC)},
	} {
		w, err := time.Parse(LocalTimeLayout, c.wall)
		if err != nil {
			t.Fatal(err)
		}
		if got := firstReading(w, mustLoc(t, c.zone)); !got.Equal(c.want) {
			t.Errorf("%s %s: first read at %v, want %v", c.zone, c.wall, got.UTC(), c.want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	t.Parallel()
	contacts := map[string]bool{"ana": true, "ben": true}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := Duration(24 * time.Hour)
	for _, c := range []struct {
		name string
		s    Schedule
		want []string
	}{
		{"valid", Schedule{ID: "ok", Timezone: "Europe/Berlin", Layers: []Layer{
			{Name: "base", Participants: []string{"ana", "ben"}, Shift: day, Start: "2026-01-01T08:00"},
			{Name: "office", Participants: []string{"ben"}, Shift: Duration(time.Hour), Start: "2026-01-01T09:00",
				Restrict: &Recurrence{Days: []string{"mon"}, From: "09:00", To: "17:00", Timezone: "UTC"}},
			{Name: "long", Participants: []string{"ana"}, Shift: Duration(2160 * time.Hour), Start: "2026-01-01T09:00"},
		}, Overrides: []Override{{Contact: "ana", Start: t0, End: t0.Add(time.Hour)}}}, nil},
		{"overrides only", Schedule{ID: "ok", Timezone: "UTC", Overrides: []Override{{Contact: "ana", Start: t0, End: t0.Add(time.Hour)}}}, nil},
		{"empty", Schedule{}, []string{
			".id: must match [a-z0-9-]{1,64}",
			".timezone: is required: hand-offs happen at local times",
			".layers: must have at least one layer or override",
		}},
		{"everything wrong", Schedule{ID: "Bad ID", Timezone: "Mars/Olympus",
			Layers: []Layer{
				{Shift: Duration(30 * time.Minute), Start: "2026-13-01T08:00"},
				{Name: "primary", Participants: []string{"ana", "ghost", ""}, Shift: Duration(2161 * time.Hour),
					Restrict: &Recurrence{Days: []string{"mon", "funday"}, From: "9am", To: "25:00", Timezone: "Nowhere/Else"}},
				{Name: "primary", Participants: []string{"ben"}, Shift: day, Start: "2026-01-01 08:00"},
				{Name: "override", Participants: []string{"ben"}, Shift: day, Start: "2026-01-01T08:00"},
			},
			Overrides: []Override{
				{Contact: "ghost", Start: t0.Add(time.Hour), End: t0},
				{},
				{Contact: "ben", Start: t0, End: t0},
			}}, []string{
			".id: must match [a-z0-9-]{1,64}",
			`.timezone: unknown time zone "Mars/Olympus"`,
			".layers[0].name: is required",
			".layers[0].participants: must have at least one participant",
			".layers[0].shift: must be between 1h and 2160h (90 days)",
			".layers[0].start: must be a local date and time like 2026-11-02T08:00",
			`.layers[1].participants[1]: unknown contact "ghost"`,
			`.layers[1].participants[2]: unknown contact ""`,
			".layers[1].shift: must be between 1h and 2160h (90 days)",
			".layers[1].start: is required",
			".layers[1].restrict.from: must be a time of day like 22:00",
			".layers[1].restrict.to: must be a time of day like 06:00",
			".layers[1].restrict.days[1]: must be one of [sun mon tue wed thu fri sat]",
			`.layers[1].restrict.timezone: unknown time zone "Nowhere/Else"`,
			`.layers[2].name: layer "primary" is defined twice`,
			".layers[2].start: must be a local date and time like 2026-11-02T08:00",
			`.layers[3].name: "override" is reserved for overrides`,
			`.overrides[0].contact: unknown contact "ghost"`,
			".overrides[0].end: must be after start",
			".overrides[1].contact: is required",
			".overrides[1].start: is required",
			".overrides[1].end: is required",
			".overrides[2].end: must be after start",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			c.s.validate(func(path, format string, args ...any) {
				got = append(got, path+": "+fmt.Sprintf(format, args...))
			}, contacts)
			if !slices.Equal(got, c.want) {
				t.Errorf("problems:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(c.want, "\n\t"))
			}
		})
	}
}

// TestScheduleValidateInConfig checks the paths Config.Validate gives a
// schedule's problems, and that suppressions, which share the recurrence
// check with restrictions, keep theirs.
func TestScheduleValidateInConfig(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := Config{
		Contacts: []Contact{{ID: "ana", Name: "Ana", Methods: []Method{{ID: "mail", Type: MethodEmail, Address: "ana@example.org"}}}},
		Schedules: []Schedule{
			{ID: "ok", Timezone: "UTC", Layers: []Layer{{Name: "l", Participants: []string{"ana"}, Shift: Duration(time.Hour), Start: "2026-01-01T00:00"}}},
			{ID: "bad", Timezone: "UTC", Layers: []Layer{{Name: "l", Participants: []string{"ghost"}, Shift: Duration(time.Hour), Start: "2026-01-01T00:00",
				Restrict: &Recurrence{From: "9", To: "17:00"}}}},
		},
		Suppressions: []Suppression{{ID: "quiet", StartsAt: t0, CreatedBy: "ops", Reason: "drill",
			Recurring: &Recurrence{Days: []string{"mon", "xyz"}, From: "x", To: "y", Timezone: "Bad/Zone"}}},
	}
	var got []string
	for _, p := range c.Validate() {
		got = append(got, p.String())
	}
	want := []string{
		`$.schedules[1].layers[0].participants[0]: unknown contact "ghost"`,
		"$.schedules[1].layers[0].restrict.from: must be a time of day like 22:00",
		"$.suppressions[0].recurring.from: must be a time of day like 22:00",
		"$.suppressions[0].recurring.to: must be a time of day like 06:00",
		"$.suppressions[0].recurring.days[1]: must be one of [sun mon tue wed thu fri sat]",
		`$.suppressions[0].recurring.timezone: unknown time zone "Bad/Zone"`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func BenchmarkOnCall(b *testing.B) {
	at := time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC) // in Berlin's repeated hour
	base := Layer{Name: "base", Participants: []string{"ana", "ben", "cem"}, Shift: Duration(7 * 24 * time.Hour), Start: "2016-01-04T09:00"}
	for _, c := range []struct {
		name string
		s    Schedule
	}{
		{"layer", Schedule{ID: "s", Timezone: "Europe/Berlin", Layers: []Layer{base}}},
		{"restricted", Schedule{ID: "s", Timezone: "Europe/Berlin", Layers: []Layer{base,
			{Name: "office", Participants: []string{"desk"}, Shift: Duration(24 * time.Hour), Start: "2016-01-04T09:00",
				Restrict: &Recurrence{Days: []string{"mon", "tue", "wed", "thu", "fri"}, From: "09:00", To: "17:00"}}}}},
		{"override", Schedule{ID: "s", Timezone: "Europe/Berlin", Layers: []Layer{base},
			Overrides: []Override{{Contact: "dia", Start: at.Add(-time.Hour), End: at.Add(time.Hour)}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.s.OnCall(at)
			}
		})
	}
}
