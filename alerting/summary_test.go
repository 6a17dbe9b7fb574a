package alerting

import (
	"testing"
	"time"
)

func TestReportingDayWithACutOff(t *testing.T) {
	kyiv, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		t.Skip("no time zone database")
	}
	d, err := NewReportingDay("2026-11-23", 19, kyiv)
	if err != nil {
		t.Fatal(err)
	}
	// 19:00 in Kyiv (UTC+2 in November) on the 22nd to the same on the 23rd.
	if want := time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC); !d.From.Equal(want) || !d.To.Equal(want.Add(24*time.Hour)) {
		t.Errorf("day %+v", d)
	}
	if p := d.Previous(); p.Day != "2026-11-22" || !p.To.Equal(d.From) {
		t.Errorf("previous %+v", p)
	}
	c, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	if !c.From.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) || !c.To.Equal(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("calendar day %+v", c)
	}
}

func TestSummarize(t *testing.T) {
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	rep := func(cat Category, sev Severity, count, killed int, na bool) *StoredReport {
		r := &StoredReport{Report: Report{Category: cat, Severity: sev, Count: count}}
		if killed > 0 {
			r.Casualties = &Casualties{Killed: killed}
		}
		r.Classification.NotApplicable = na
		return r
	}
	today := []*StoredReport{
		rep(CategoryShelling, SeveritySevere, 40, 0, false),
		rep(CategoryShelling, SeverityModerate, 2, 1, false), // a death makes it at least severe
		rep(CategorySmallArms, SeverityExtreme, 0, 0, false),
		rep(CategoryAirstrike, SeveritySevere, 1, 0, true), // against an excluded party
	}
	previous := []*StoredReport{rep(CategoryShelling, SeveritySevere, 10, 0, false)}
	s := Summarize(Zone{ID: "aleppo", Name: "Aleppo"}, day, today, previous)
	if s.Total.Tally != (Tally{Reports: 3, Events: 43, Killed: 1}) || s.Total.Previous.Events != 10 || s.Total.Change != 33 {
		t.Errorf("total %+v", s.Total)
	}
	if len(s.ByCategory) != 2 || s.ByCategory[0].Key != "shelling" || s.ByCategory[0].Tally.Events != 42 || s.ByCategory[0].Change != 32 {
		t.Errorf("by category %+v", s.ByCategory)
	}
	if len(s.BySeverity) != 2 || s.BySeverity[0].Key != "extreme" || s.BySeverity[0].Tally.Reports != 1 || s.BySeverity[1].Tally.Reports != 2 {
		t.Errorf("by severity %+v", s.BySeverity)
	}
	if s.NotApplicable.Tally.Reports != 1 {
		t.Errorf("not applicable %+v", s.NotApplicable)
	}
}

// TestSummarizeCountsAnIncidentOnceAsLastTold: an updated report gives way
// to its update, and a withdrawn one is not counted, nor its withdrawal.
func TestSummarizeCountsAnIncidentOnceAsLastTold(t *testing.T) {
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	rep := func(id, amends string, withdraws bool, killed int) *StoredReport {
		return &StoredReport{Report: Report{ID: id, Category: CategoryShelling, Severity: SeveritySevere,
			Casualties: &Casualties{Killed: killed}, Amends: amends, Withdraws: withdraws}}
	}
	today := []*StoredReport{
		rep("a1", "", false, 1), rep("u1", "a1", false, 2), rep("u2", "u1", false, 3), // told three times
		rep("b1", "", false, 5), rep("c1", "b1", true, 0), // told, then taken back
		rep("d1", "", false, 7),
	}
	s := Summarize(Zone{ID: "aleppo", Name: "Aleppo"}, day, today, nil)
	if s.Total.Tally.Reports != 2 || s.Total.Tally.Killed != 10 {
		t.Errorf("total %+v, want 2 reports and 10 killed (u2 and d1)", s.Total.Tally)
	}
}
