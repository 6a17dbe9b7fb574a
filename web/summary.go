package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/truceline/truceline/alerting"
)

// The daily summary: each zone's reporting day counted the way monitoring
// missions report it.

// reportingDay reads the reporting day a query asks for: the date in
// parameter param (default: the day in progress), cutoff= (0–23, default
// the summary_cutoff_hour) and tz= (default summary_timezone).
func (h *Handler) reportingDay(r *http.Request, param string, problems *[]alerting.FieldProblem) alerting.ReportingDay {
	q := r.URL.Query()
	tz := q.Get("tz")
	if tz == "" {
		tz = h.opts.SummaryTimezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		*problems = append(*problems, alerting.FieldProblem{Field: "tz", Problem: "unknown time zone " + strconv.Quote(tz)})
		loc = time.UTC
	}
	cutoff := h.opts.SummaryCutoff
	if v := q.Get("cutoff"); v != "" {
		if cutoff, err = strconv.Atoi(v); err != nil || cutoff < 0 || cutoff > 23 {
			*problems = append(*problems, alerting.FieldProblem{Field: "cutoff", Problem: "must be an hour from 0 to 23"})
			cutoff = 0
		}
	}
	dayName := q.Get(param)
	if dayName == "" {
		// The reporting day still running.
		now := time.Now().In(loc)
		if cutoff > 0 && now.Hour() >= cutoff {
			now = now.AddDate(0, 0, 1)
		}
		dayName = now.Format(time.DateOnly)
	}
	day, err := alerting.NewReportingDay(dayName, cutoff, loc)
	if err != nil {
		*problems = append(*problems, alerting.FieldProblem{Field: param, Problem: "must be a date like 2026-11-23"})
	}
	return day
}

// summaryAlerts is the most alerts of a zone a summary reads: those changed
// since the week before the day began, newest first.
const summaryAlerts = 5000

// summary answers GET /api/v1/summary?day=&zone=&cutoff=&tz=&format=csv:
// each visible zone's reporting day beside the day before.
func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	zones, problems := h.visibleZones(r)
	day := h.reportingDay(r, "day", &problems)
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" && format != "csv" {
		problems = append(problems, alerting.FieldProblem{Field: "format", Problem: "must be json or csv"})
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	// The day, the day before and the week before, read at once.
	const perDay = 50_000
	out := []alerting.DailySummary{}
	catalog := h.opts.Catalog.Catalog()
	for _, z := range zones {
		reports, more, err := h.opts.Alerts.ZoneReports(r.Context(), z.ID, day.WeekBefore(), day.To, perDay*(alerting.SummaryWeek+1))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		alerts, err := h.opts.Alerts.Alerts(r.Context(), alerting.AlertFilter{Zones: []string{z.ID}, Since: day.WeekBefore(), Limit: summaryAlerts})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		s := alerting.Summarize(z, day, reports)
		s.CountCompliance(alerts)
		s.Name(catalog)
		s.Truncated = more || len(alerts) >= summaryAlerts
		out = append(out, s)
	}
	if format == "csv" {
		writeSummaryCSV(w, out)
		return
	}
	sources, err := h.daySources(r.Context(), zones, day)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"day": day, "zones": out, "sources": sources})
}

// writeSummaryCSV writes one line per zone and row: the way a mission's
// daily report is tabulated.
func writeSummaryCSV(w http.ResponseWriter, summaries []alerting.DailySummary) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="truceline-summary.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"day", "from", "to", "zone", "zone_name", "group", "key", "name", "reports", "events", "killed", "injured",
		"previous_reports", "previous_events", "change_events", "last_7_days_reports", "last_7_days_events"})
	for _, s := range summaries {
		line := func(group string, row alerting.SummaryRow) {
			_ = cw.Write([]string{s.Day.Day, s.Day.From.Format(time.RFC3339), s.Day.To.Format(time.RFC3339), s.Zone, s.ZoneName, group, row.Key, row.Name,
				strconv.Itoa(row.Tally.Reports), strconv.Itoa(row.Tally.Events), strconv.Itoa(row.Tally.Killed), strconv.Itoa(row.Tally.Injured),
				strconv.Itoa(row.Previous.Reports), strconv.Itoa(row.Previous.Events), strconv.Itoa(row.Change),
				strconv.Itoa(row.Week.Reports), strconv.Itoa(row.Week.Events)})
		}
		line("total", s.Total)
		for _, group := range []struct {
			name string
			rows []alerting.SummaryRow
		}{{"category", s.ByCategory}, {"severity", s.BySeverity}, {"party", s.ByParty}, {"regime", s.ByRegime}} {
			for _, row := range group.rows {
				line(group.name, row)
			}
		}
		line("not_applicable", s.NotApplicable)
		// Compliance: a line per party and measure, its counts where the
		// report counts go.
		for _, p := range s.Compliance {
			for _, m := range []struct {
				name string
				of   func(alerting.ComplianceCounts) int
			}{
				{"alleged", func(c alerting.ComplianceCounts) int { return c.Alleged }},
				{"substantiated", func(c alerting.ComplianceCounts) int { return c.Substantiated }},
				{"requests_sent", func(c alerting.ComplianceCounts) int { return c.RequestsSent }},
				{"requests_answered", func(c alerting.ComplianceCounts) int { return c.RequestsAnswered }},
				{"requests_overdue", func(c alerting.ComplianceCounts) int { return c.RequestsOverdue }},
			} {
				today, previous := m.of(p.Today), m.of(p.Previous)
				_ = cw.Write([]string{s.Day.Day, s.Day.From.Format(time.RFC3339), s.Day.To.Format(time.RFC3339), s.Zone, s.ZoneName,
					"compliance_" + m.name, p.Party, p.Name, strconv.Itoa(today), "", "", "", strconv.Itoa(previous), "",
					strconv.Itoa(today - previous), strconv.Itoa(m.of(p.Week)), ""})
			}
		}
	}
	cw.Flush()
}
