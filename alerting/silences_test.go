package alerting_test

import (
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestSilentDaysCountTheSilencesWithinTheDay: each opening or reopening of
// a source's silent alert is a silent period, counted in a day it
// overlaps, for its time within the day (up to now while it lasts), in
// each zone of the monitor; a source never silent counts zero, and a
// monitor no longer configured still counts in its alert's zone.
func TestSilentDaysCountTheSilencesWithinTheDay(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	c, err := alerting.NewCatalog(1, alerting.Config{
		Zones: []alerting.Zone{{ID: "idlib", Name: "Idlib"}, {ID: "aleppo", Name: "Aleppo"}},
		Monitors: []alerting.Monitor{
			{ID: "op-a", Name: "OP A", Zones: []string{"idlib", "aleppo"}, Interval: alerting.Duration(time.Minute)},
			{ID: "op-b", Name: "OP B", Zones: []string{"aleppo"}, Interval: alerting.Duration(time.Minute)},
		},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(ev alerting.Event, t time.Time) alerting.Entry { return alerting.Entry{At: t, Action: ev} }
	silent := func(id, monitor, zone string, entries ...alerting.Entry) *alerting.Alert {
		return &alerting.Alert{ID: id, Zone: zone, Category: alerting.CategorySourceSilent, GroupKey: alerting.SourceKey(monitor), Timeline: entries}
	}
	alerts := []*alerting.Alert{
		// op-a is silent from its interval (a minute) before its alert
		// opens. From the day before until 00:10 (10 min), then
		// flapping: 05:59 to 06:05 (6 min, an acknowledgement between),
		// and from 23:49 on, still silent at the day's end (11 min).
		silent("a1", "op-a", "idlib",
			entry(alerting.EventOpened, day.Add(-time.Hour)), entry(alerting.EventResolved, at(0, 10)),
			entry(alerting.EventReopened, at(6, 0)), entry(alerting.EventAcknowledged, at(6, 1)), entry(alerting.EventResolved, at(6, 5)),
			entry(alerting.EventReopened, at(23, 50))),
		// Silent the day before only: not counted.
		silent("a2", "op-a", "idlib", entry(alerting.EventOpened, day.Add(-3*time.Hour)), entry(alerting.EventResolved, day.Add(-2*time.Hour))),
		// A monitor since removed, in aleppo: from its alert's opening,
		// 12:00 to 12:30.
		silent("a3", "op-gone", "aleppo", entry(alerting.EventOpened, at(12, 0)), entry(alerting.EventResolved, at(12, 30))),
		// Not a silent alert.
		{ID: "x", Zone: "aleppo", Category: "shelling", GroupKey: "source-silent:op-b", Timeline: []alerting.Entry{entry(alerting.EventOpened, at(1, 0))}},
	}
	got := alerting.SilentDays(c, []string{"aleppo", "idlib"}, alerts, day, day.Add(24*time.Hour), day.Add(48*time.Hour))
	want := []alerting.SourceDay{
		{Zone: "aleppo", Monitor: "op-a", Name: "OP A", SilentPeriods: 3, SilentSeconds: 27 * 60},
		{Zone: "aleppo", Monitor: "op-b", Name: "OP B"},
		{Zone: "aleppo", Monitor: "op-gone", Name: "op-gone", SilentPeriods: 1, SilentSeconds: 30 * 60},
		{Zone: "idlib", Monitor: "op-a", Name: "OP A", SilentPeriods: 3, SilentSeconds: 27 * 60},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}

	// The day in progress: the last silence counts up to now.
	now := at(23, 55)
	got = alerting.SilentDays(c, []string{"idlib"}, alerts, day, day.Add(24*time.Hour), now)
	if len(got) != 1 || got[0].SilentPeriods != 3 || got[0].SilentSeconds != 22*60 {
		t.Errorf("at 23:55: %+v", got)
	}
	// The day after: the silence still running since 23:50 counts.
	got = alerting.SilentDays(c, []string{"idlib"}, alerts, day.Add(24*time.Hour), day.Add(48*time.Hour), day.Add(25*time.Hour))
	if len(got) != 1 || got[0].SilentPeriods != 1 || got[0].SilentSeconds != 3600 {
		t.Errorf("the day after: %+v", got)
	}
}
