package alerting

import (
	"maps"
	"testing"
	"time"
)

func TestReportingDayWithACutOff(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	at := day.From.Add(time.Hour)
	rep := func(cat Category, sev Severity, count, killed int, na bool) *StoredReport {
		r := &StoredReport{Report: Report{Category: cat, Severity: sev, Count: count, ObservedAt: at}}
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
	at = day.From.Add(-time.Hour)
	today = append(today, rep(CategoryShelling, SeveritySevere, 10, 0, false)) // the day before
	s := Summarize(Zone{ID: "aleppo", Name: "Aleppo"}, day, today)
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
	t.Parallel()
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	rep := func(id, amends string, withdraws bool, killed int) *StoredReport {
		return &StoredReport{Report: Report{ID: id, Category: CategoryShelling, Severity: SeveritySevere, ObservedAt: day.From,
			Casualties: &Casualties{Killed: killed}, Amends: amends, Withdraws: withdraws}}
	}
	today := []*StoredReport{
		rep("a1", "", false, 1), rep("u1", "a1", false, 2), rep("u2", "u1", false, 3), // told three times
		rep("b1", "", false, 5), rep("c1", "b1", true, 0), // told, then taken back
		rep("d1", "", false, 7),
	}
	s := Summarize(Zone{ID: "aleppo", Name: "Aleppo"}, day, today)
	if s.Total.Tally.Reports != 2 || s.Total.Tally.Killed != 10 {
		t.Errorf("total %+v, want 2 reports and 10 killed (u2 and d1)", s.Total.Tally)
	}
}

// TestSummarizeCountsPerPartyAndRegime: compliance as the missions counted
// it, each party's alleged violations and those under each regime, beside
// the day before and the week before; reports outside the eight days are
// not counted.
func TestSummarizeCountsPerPartyAndRegime(t *testing.T) {
	t.Parallel()
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	rep := func(daysBefore int, party, regime string) *StoredReport {
		r := &StoredReport{Report: Report{Category: CategoryShelling, Count: 2, AttributedTo: party,
			ObservedAt: day.From.AddDate(0, 0, -daysBefore).Add(time.Hour)}}
		r.Classification.Regime = regime
		r.Classification.OutsideRegime = regime == ""
		return r
	}
	reports := []*StoredReport{
		rep(0, "party-a", "silence"), rep(0, "party-a", ""), rep(0, "party-b", "silence"), rep(0, "", "silence"),
		rep(1, "party-a", "silence"),
		rep(3, "party-b", ""), rep(7, "party-b", ""),
		rep(8, "party-b", ""),  // before the week
		rep(-1, "party-b", ""), // after the day
	}
	s := Summarize(Zone{ID: "aleppo"}, day, reports)
	want := map[string][3]int{"party-a": {2, 1, 1}, "party-b": {1, 0, 2}, "": {1, 0, 0}} // reports today, previous, week
	if len(s.ByParty) != 3 || s.ByParty[2].Key != "" {
		t.Fatalf("by party %+v, want party-a, party-b, then nobody", s.ByParty)
	}
	for _, row := range s.ByParty {
		if got := [3]int{row.Tally.Reports, row.Previous.Reports, row.Week.Reports}; got != want[row.Key] {
			t.Errorf("party %q: today, day before, week = %v, want %v", row.Key, got, want[row.Key])
		}
	}
	if s.ByParty[0].Change != 2 || s.ByParty[0].Tally.Events != 4 {
		t.Errorf("party-a %+v: want 4 events today, 2 more than the day before", s.ByParty[0])
	}
	regimes := map[string][3]int{}
	for _, row := range s.ByRegime {
		regimes[row.Key] = [3]int{row.Tally.Reports, row.Previous.Reports, row.Week.Reports}
	}
	if want := map[string][3]int{"silence": {3, 1, 1}, OutsideRegimeKey: {1, 0, 2}}; !maps.Equal(regimes, want) {
		t.Errorf("by regime %v, want %v", regimes, want)
	}
	if s.Total.Week.Reports != 3 || s.Total.Tally.Reports != 4 {
		t.Errorf("total %+v", s.Total)
	}
}

// TestCountCompliancePerParty: a party's incidents by when each was first
// seen, those whose allegation against it every judging party, the required
// ones among them, found substantiated, and the requests for information
// it was sent, answered and let run overdue, each by when it happened.
func TestCountCompliancePerParty(t *testing.T) {
	t.Parallel()
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	at := func(daysBefore int) time.Time { return day.From.AddDate(0, 0, -daysBefore).Add(time.Hour) }
	alert := func(daysBefore int, attributions ...Attribution) *Alert {
		return &Alert{FirstSeen: at(daysBefore), RequireAckFrom: []string{"party-a", "party-b"},
			Alleged: []Allegation{{Party: "gov", Reports: 2}}, Attributions: attributions}
	}
	judge := func(party string, status AttributionStatus) Attribution {
		return Attribution{Party: party, Alleged: "gov", Status: status}
	}
	asked := alert(1)
	overdue := at(1).Add(2 * time.Hour)
	asked.InfoRequests = []InfoRequest{
		{Party: "gov", AskedAt: at(1), OverdueAt: &overdue, Answer: &InfoAnswer{At: at(0), Late: true}}, // asked, overdue the day before; answered today
		{Party: "gov", AskedAt: at(0)},
		{Party: "party-b", AskedAt: at(9)}, // before the week
	}
	s := Summarize(Zone{ID: "aleppo"}, day, nil)
	s.CountCompliance([]*Alert{
		alert(0, judge("party-a", Substantiated), judge("party-b", Substantiated)),
		alert(0, judge("party-a", Substantiated)),                                  // B has not judged
		alert(0, judge("party-a", Substantiated), judge("party-b", Undetermined)),  // not jointly
		alert(1, judge("party-a", Substantiated), judge("party-b", Substantiated)), // the day before
		alert(5), // the week before
		alert(8, judge("party-a", Substantiated), judge("party-b", Substantiated)),                    // before it
		{FirstSeen: day.From, Rule: RegimeEndRule, Alleged: []Allegation{{Party: "gov", Reports: 1}}}, // a notice
		asked,
	})
	if len(s.Compliance) != 1 {
		t.Fatalf("compliance %+v", s.Compliance)
	}
	gov := s.Compliance[0]
	if gov.Party != "gov" || gov.Today != (ComplianceCounts{Alleged: 3, Substantiated: 1, RequestsSent: 1, RequestsAnswered: 1}) ||
		gov.Previous != (ComplianceCounts{Alleged: 2, Substantiated: 1, RequestsSent: 1, RequestsOverdue: 1}) ||
		gov.Week != (ComplianceCounts{Alleged: 3, Substantiated: 1, RequestsSent: 1, RequestsOverdue: 1}) {
		t.Errorf("gov: %+v", gov)
	}
}
