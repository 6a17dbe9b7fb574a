package alerting

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// ReportingDay is the reporting period of a day, the way monitoring missions
// count: from the cut-off hour of the day before to the cut-off hour of the
// day, in a time zone ("from 19:30 on 22 November to 19:30 on 23
// November"). With cut-off 0 it is the calendar day.
type ReportingDay struct {
	Day    string    `json:"day"` // 2026-11-23
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Cutoff int       `json:"cutoff_hour"`
	Zone   string    `json:"timezone"`
}

// NewReportingDay returns the reporting period of day (YYYY-MM-DD) with a
// cut-off hour (0–23) in loc.
func NewReportingDay(day string, cutoff int, loc *time.Location) (ReportingDay, error) {
	d, err := time.ParseInLocation(time.DateOnly, day, loc)
	if err != nil {
		return ReportingDay{}, err
	}
	to := time.Date(d.Year(), d.Month(), d.Day(), cutoff, 0, 0, 0, loc)
	if cutoff == 0 {
		to = to.AddDate(0, 0, 1)
	}
	from := to.AddDate(0, 0, -1)
	return ReportingDay{Day: day, From: from.UTC(), To: to.UTC(), Cutoff: cutoff, Zone: loc.String()}, nil
}

// Previous is the reporting day before.
func (d ReportingDay) Previous() ReportingDay {
	loc, err := time.LoadLocation(d.Zone)
	if err != nil {
		loc = time.UTC
	}
	day, _ := time.ParseInLocation(time.DateOnly, d.Day, loc)
	p, _ := NewReportingDay(day.AddDate(0, 0, -1).Format(time.DateOnly), d.Cutoff, loc)
	return p
}

// Tally counts reports and what they describe.
type Tally struct {
	Reports int `json:"reports"`
	// Events sums the reports' counts: one report may describe forty
	// explosions.
	Events  int `json:"events"`
	Killed  int `json:"killed"`
	Injured int `json:"injured"`
}

func (t *Tally) add(r *Report) {
	t.Reports++
	t.Events += max(r.Count, 1)
	if c := r.Casualties; c != nil {
		t.Killed += c.Killed
		t.Injured += c.Injured
	}
}

// SummaryRow is one category, severity, party or regime of a day, beside
// the day before and the seven days before.
type SummaryRow struct {
	Key string `json:"key"`
	// Name is a party's or a regime's name, when the configuration has it.
	Name     string `json:"name,omitempty"`
	Tally    Tally  `json:"today"`
	Previous Tally  `json:"previous"`
	// Week sums the seven reporting days before the day (the day before
	// among them): a seventh of it is the day's usual figure.
	Week Tally `json:"last_7_days"`
	// Change is today's events less the previous day's.
	Change int `json:"change"`
}

// DailySummary is a zone's reporting day: reports by category, severity,
// alleged perpetrator and regime, beside the day before and the week
// before. Reports against excluded parties are counted apart, as the
// centre does not count them as violations.
type DailySummary struct {
	Zone        string       `json:"zone"`
	ZoneName    string       `json:"zone_name"`
	Day         ReportingDay `json:"day"`
	PreviousDay ReportingDay `json:"previous_day"`
	Total       SummaryRow   `json:"total"`
	ByCategory  []SummaryRow `json:"by_category"`
	BySeverity  []SummaryRow `json:"by_severity"`
	// ByParty counts, per party, the violations its reports allege it
	// committed (attributed_to), party ids in order; Key "" is the reports
	// that allege nobody.
	ByParty []SummaryRow `json:"by_party"`
	// ByRegime counts the violations observed under each regime (its id)
	// and outside any (OutsideRegimeKey).
	ByRegime      []SummaryRow `json:"by_regime"`
	NotApplicable SummaryRow   `json:"not_applicable"`
	// Compliance is each party's record from its zone's alerts
	// (CountCompliance), by party id.
	Compliance []PartyCompliance `json:"compliance_by_party"`
	Exercise   bool              `json:"exercise,omitempty"` // every report counted was an exercise
	// Truncated says a day held more reports than were read.
	Truncated bool `json:"truncated,omitempty"`
}

// OutsideRegimeKey is the ByRegime row of the reports observed outside any
// regime.
const OutsideRegimeKey = "outside"

// SummaryWeek is how many reporting days before the day a summary compares
// it with.
const SummaryWeek = 7

// WeekBefore is the start of the SummaryWeek reporting days before day:
// Summarize wants the reports observed from there to day.To.
func (d ReportingDay) WeekBefore() time.Time {
	p := d
	for range SummaryWeek {
		p = p.Previous()
	}
	return p.From
}

// Summarize tallies a zone's reports of a day beside the day before and the
// week before; reports holds those observed from day.WeekBefore() to
// day.To (others are ignored).
func Summarize(zone Zone, day ReportingDay, reports []*StoredReport) DailySummary {
	prev := day.Previous()
	s := DailySummary{Zone: zone.ID, ZoneName: zone.Name, Day: day, PreviousDay: prev,
		Total: SummaryRow{Key: "total"}, NotApplicable: SummaryRow{Key: "not_applicable"}}
	cats, sevs, parties, regimes := map[string]*SummaryRow{}, map[string]*SummaryRow{}, map[string]*SummaryRow{}, map[string]*SummaryRow{}
	row := func(m map[string]*SummaryRow, key string) *SummaryRow {
		if m[key] == nil {
			m[key] = &SummaryRow{Key: key}
		}
		return m[key]
	}
	// An incident is counted once, as its sender last told it: a report
	// its sender updated gives way to the update, and a withdrawn one and
	// its withdrawal are not counted at all.
	amended := map[string]bool{}
	for _, r := range reports {
		if r.Amends != "" {
			amended[r.Amends] = true
		}
	}
	weekFrom := day.WeekBefore()
	// Exercise: the day had reports, and every one that is not against an
	// excluded party was an exercise.
	today, real := 0, false
	for _, r := range reports {
		if r.Withdraws || amended[r.ID] {
			continue
		}
		at := r.ObservedAt
		var tallies []func(*SummaryRow) *Tally
		switch {
		case !at.Before(day.From) && at.Before(day.To):
			tallies = append(tallies, func(sr *SummaryRow) *Tally { return &sr.Tally })
			today++
			real = real || !r.Classification.NotApplicable && !r.Exercise
		case !at.Before(prev.From) && at.Before(prev.To):
			tallies = append(tallies, func(sr *SummaryRow) *Tally { return &sr.Previous })
		case at.Before(weekFrom) || !at.Before(day.To):
			continue
		}
		if at.Before(day.From) {
			tallies = append(tallies, func(sr *SummaryRow) *Tally { return &sr.Week })
		}
		for _, pick := range tallies {
			if r.Classification.NotApplicable {
				pick(&s.NotApplicable).add(&r.Report)
				continue
			}
			pick(&s.Total).add(&r.Report)
			pick(row(cats, string(r.Category))).add(&r.Report)
			pick(row(sevs, string(r.EffectiveSeverity()))).add(&r.Report)
			pick(row(parties, r.AttributedTo)).add(&r.Report)
			regime := r.Classification.Regime
			if regime == "" {
				regime = OutsideRegimeKey
			}
			pick(row(regimes, regime)).add(&r.Report)
		}
	}
	s.Exercise = today > 0 && !real
	for _, c := range Categories {
		if r := cats[string(c)]; r != nil {
			s.ByCategory = append(s.ByCategory, *r)
		}
	}
	for _, sev := range slices.Backward(Severities) {
		if r := sevs[string(sev)]; r != nil {
			s.BySeverity = append(s.BySeverity, *r)
		}
	}
	s.ByParty = sortedRows(parties)
	s.ByRegime = sortedRows(regimes)
	for _, rows := range [][]SummaryRow{s.ByCategory, s.BySeverity, s.ByParty, s.ByRegime} {
		for i := range rows {
			rows[i].Change = rows[i].Tally.Events - rows[i].Previous.Events
		}
	}
	s.Total.Change = s.Total.Tally.Events - s.Total.Previous.Events
	s.NotApplicable.Change = s.NotApplicable.Tally.Events - s.NotApplicable.Previous.Events
	return s
}

// sortedRows are m's rows by key, "" last.
func sortedRows(m map[string]*SummaryRow) []SummaryRow {
	out := make([]SummaryRow, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b SummaryRow) int {
		if (a.Key == "") != (b.Key == "") {
			if a.Key == "" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Key, b.Key)
	})
	if len(out) == 0 {
		return nil
	}
	return out
}

// PartyCompliance is a party's record in the day, the day before and the
// seven days before: the incidents alleged against it and found, and the
// requests for information it was sent, answered and let run overdue.
type PartyCompliance struct {
	Party    string           `json:"party"`
	Name     string           `json:"name,omitempty"`
	Today    ComplianceCounts `json:"today"`
	Previous ComplianceCounts `json:"previous"`
	Week     ComplianceCounts `json:"last_7_days"`
}

// ComplianceCounts are a party's figures in a period.
type ComplianceCounts struct {
	// Alleged: incidents (alerts) first seen in the period whose standing
	// reports allege the party did it.
	Alleged int `json:"alleged"`
	// Substantiated: those of them whose allegation against the party is
	// jointly substantiated (Alert.Substantiated).
	Substantiated int `json:"substantiated"`
	// RequestsSent, RequestsAnswered and RequestsOverdue count the
	// requests for information asked of the party, answered by it, and
	// gone overdue unanswered, in the period.
	RequestsSent     int `json:"requests_sent"`
	RequestsAnswered int `json:"requests_answered"`
	RequestsOverdue  int `json:"requests_overdue"`
}

// CountCompliance counts the parties' records among alerts (those of the
// zone changed since s.Day.WeekBefore(); what happened outside the eight
// days is ignored): incidents by when each was first seen, requests for
// information by when each was asked, answered or went overdue.
func (s *DailySummary) CountCompliance(alerts []*Alert) {
	by := map[string]*PartyCompliance{}
	weekFrom := s.Day.WeekBefore()
	// periods are the counts of party that at falls in.
	periods := func(party string, at time.Time) []*ComplianceCounts {
		if at.Before(weekFrom) || !at.Before(s.Day.To) {
			return nil
		}
		p := by[party]
		if p == nil {
			p = &PartyCompliance{Party: party}
			by[party] = p
		}
		switch {
		case !at.Before(s.Day.From):
			return []*ComplianceCounts{&p.Today}
		case !at.Before(s.PreviousDay.From):
			return []*ComplianceCounts{&p.Previous, &p.Week}
		}
		return []*ComplianceCounts{&p.Week}
	}
	for _, a := range alerts {
		if a.Rule == RegimeEndRule {
			continue
		}
		for _, al := range a.Alleged {
			for _, c := range periods(al.Party, a.FirstSeen) {
				c.Alleged++
				if a.Substantiated(al.Party) {
					c.Substantiated++
				}
			}
		}
		for _, r := range a.InfoRequests {
			for _, c := range periods(r.Party, r.AskedAt) {
				c.RequestsSent++
			}
			if r.Answer != nil {
				for _, c := range periods(r.Party, r.Answer.At) {
					c.RequestsAnswered++
				}
			}
			if r.OverdueAt != nil {
				for _, c := range periods(r.Party, *r.OverdueAt) {
					c.RequestsOverdue++
				}
			}
		}
	}
	s.Compliance = nil
	for _, id := range slices.Sorted(maps.Keys(by)) {
		s.Compliance = append(s.Compliance, *by[id])
	}
}

// Name gives the party and regime rows the names the catalog has for them.
func (s *DailySummary) Name(c *Catalog) {
	for i := range s.Compliance {
		s.Compliance[i].Name = partyName(c, s.Compliance[i].Party)
	}
	for i := range s.ByParty {
		if p, ok := c.Party(s.ByParty[i].Key); ok {
			s.ByParty[i].Name = p.Name
		}
	}
	for i := range s.ByRegime {
		for _, r := range c.Config().Regimes {
			if r.ID == s.ByRegime[i].Key {
				s.ByRegime[i].Name = r.Name
			}
		}
	}
}
