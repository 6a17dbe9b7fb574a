package alerting

import (
	"slices"
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

// SummaryRow is one category or severity of a day, with the day before.
type SummaryRow struct {
	Key      string `json:"key"`
	Tally    Tally  `json:"today"`
	Previous Tally  `json:"previous"`
	// Change is today's events less the previous day's.
	Change int `json:"change"`
}

// DailySummary is a zone's reporting day: reports by category and by
// severity, beside the day before. Reports against excluded parties are
// counted apart, as the centre does not count them as violations.
type DailySummary struct {
	Zone          string       `json:"zone"`
	ZoneName      string       `json:"zone_name"`
	Day           ReportingDay `json:"day"`
	PreviousDay   ReportingDay `json:"previous_day"`
	Total         SummaryRow   `json:"total"`
	ByCategory    []SummaryRow `json:"by_category"`
	BySeverity    []SummaryRow `json:"by_severity"`
	NotApplicable SummaryRow   `json:"not_applicable"`
	Exercise      bool         `json:"exercise,omitempty"` // every report counted was an exercise
	// Truncated says a day held more reports than were read.
	Truncated bool `json:"truncated,omitempty"`
}

// Summarize tallies a zone's reports of a day and of the day before.
func Summarize(zone Zone, day ReportingDay, today, previous []*StoredReport) DailySummary {
	s := DailySummary{Zone: zone.ID, ZoneName: zone.Name, Day: day, PreviousDay: day.Previous(),
		Total: SummaryRow{Key: "total"}, NotApplicable: SummaryRow{Key: "not_applicable"}}
	cats, sevs := map[string]*SummaryRow{}, map[string]*SummaryRow{}
	row := func(m map[string]*SummaryRow, key string) *SummaryRow {
		if m[key] == nil {
			m[key] = &SummaryRow{Key: key}
		}
		return m[key]
	}
	exercise := len(today) > 0
	// An incident is counted once, as its sender last told it: a report
	// its sender updated gives way to the update, and a withdrawn one and
	// its withdrawal are not counted at all.
	amended := map[string]bool{}
	for _, reports := range [][]*StoredReport{today, previous} {
		for _, r := range reports {
			if r.Amends != "" {
				amended[r.Amends] = true
			}
		}
	}
	for i, reports := range [][]*StoredReport{today, previous} {
		for _, r := range reports {
			if r.Withdraws || amended[r.ID] {
				continue
			}
			pick := func(sr *SummaryRow) *Tally {
				if i == 0 {
					return &sr.Tally
				}
				return &sr.Previous
			}
			if r.Classification.NotApplicable {
				pick(&s.NotApplicable).add(&r.Report)
				continue
			}
			if i == 0 && !r.Exercise {
				exercise = false
			}
			pick(&s.Total).add(&r.Report)
			pick(row(cats, string(r.Category))).add(&r.Report)
			pick(row(sevs, string(r.EffectiveSeverity()))).add(&r.Report)
		}
	}
	s.Exercise = exercise
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
	for _, rows := range [][]SummaryRow{s.ByCategory, s.BySeverity} {
		for i := range rows {
			rows[i].Change = rows[i].Tally.Events - rows[i].Previous.Events
		}
	}
	s.Total.Change = s.Total.Tally.Events - s.Total.Previous.Events
	s.NotApplicable.Change = s.NotApplicable.Tally.Events - s.NotApplicable.Previous.Events
	return s
}
