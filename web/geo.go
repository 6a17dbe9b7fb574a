package web

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
)

// GeoJSON (RFC 7946) and the daily summary.

type feature struct {
	Type       string          `json:"type"` // "Feature"
	ID         string          `json:"id,omitempty"`
	Geometry   json.RawMessage `json:"geometry"` // null when unknown
	Properties any             `json:"properties"`
}

type featureCollection struct {
	Type     string    `json:"type"` // "FeatureCollection"
	Features []feature `json:"features"`
	// Truncated is a foreign member: more reports matched than limit.
	Truncated bool `json:"truncated,omitempty"`
}

const geoJSONType = "application/geo+json"

func writeGeoJSON(w http.ResponseWriter, fc featureCollection) {
	if fc.Features == nil {
		fc.Features = []feature{}
	}
	w.Header().Set("Content-Type", geoJSONType)
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(fc)
}

// visibleZones reads ?zone= (comma-separated) against what the caller may
// see: every visible zone when absent; a hidden zone is an unknown one.
func (h *Handler) visibleZones(r *http.Request) ([]alerting.Zone, []alerting.FieldProblem) {
	c, p := h.opts.Catalog.Catalog(), principal(r)
	var out []alerting.Zone
	var problems []alerting.FieldProblem
	if q := r.URL.Query().Get("zone"); q != "" {
		for id := range strings.SplitSeq(q, ",") {
			z, ok := c.Zone(id)
			if !ok || !p.SeesZone(id) {
				problems = append(problems, alerting.FieldProblem{Field: "zone", Problem: "unknown zone " + strconv.Quote(id)})
				continue
			}
			out = append(out, z)
		}
		return out, problems
	}
	for _, z := range c.Zones() {
		if p.SeesZone(z.ID) {
			out = append(out, z)
		}
	}
	return out, nil
}

// zonesGeoJSON answers GET /api/v1/zones.geojson: the zones the caller may
// see as Features with their outlines.
func (h *Handler) zonesGeoJSON(w http.ResponseWriter, r *http.Request) {
	zones, _ := h.visibleZones(r)
	fc := featureCollection{Type: "FeatureCollection"}
	for _, z := range zones {
		geom := z.Geometry
		if len(geom) == 0 {
			geom = json.RawMessage("null")
		}
		fc.Features = append(fc.Features, feature{Type: "Feature", ID: z.ID, Geometry: geom,
			Properties: map[string]any{"id": z.ID, "name": z.Name, "tags": z.Tags}})
	}
	writeGeoJSON(w, fc)
}

// importZonesGeoJSON answers POST /api/v1/zones.geojson (admins): each
// Feature becomes a zone (properties id, name, tags; its geometry the
// outline), added or replaced in one transaction like POST /api/v1/config.
func (h *Handler) importZonesGeoJSON(w http.ResponseWriter, r *http.Request) {
	if mt := r.Header.Get("Content-Type"); strings.HasPrefix(mt, geoJSONType) {
		r.Header.Set("Content-Type", "application/json") // readBody takes JSON
	}
	data, err := readBody(w, r, maxConfigBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Type       string          `json:"type"`
			ID         any             `json:"id"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties struct {
				ID   string   `json:"id"`
				Name string   `json:"name"`
				Tags []string `json:"tags"`
			} `json:"properties"`
		} `json:"features"`
	}
	bad := func(field, problem string) {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad GeoJSON", Fields: []alerting.FieldProblem{{Field: field, Problem: problem}}})
	}
	if err := json.Unmarshal(data, &fc); err != nil {
		bad("(body)", err.Error())
		return
	}
	if fc.Type != "FeatureCollection" {
		bad("type", `must be "FeatureCollection"`)
		return
	}
	var cfg alerting.Config
	var problems []alerting.FieldProblem
	for i, f := range fc.Features {
		id := f.Properties.ID
		if s, ok := f.ID.(string); ok && id == "" {
			id = s
		}
		if f.Type != "Feature" {
			problems = append(problems, alerting.FieldProblem{Field: fmt.Sprintf("features[%d].type", i), Problem: `must be "Feature"`})
		}
		if id == "" {
			problems = append(problems, alerting.FieldProblem{Field: fmt.Sprintf("features[%d].properties.id", i), Problem: "is required (or a string Feature id)"})
		}
		geom := f.Geometry
		if string(geom) == "null" {
			geom = nil
		}
		name := f.Properties.Name
		if name == "" {
			name = id
		}
		cfg.Zones = append(cfg.Zones, alerting.Zone{ID: id, Name: name, Tags: f.Properties.Tags, Geometry: geom})
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad GeoJSON", Fields: problems})
		return
	}
	version, ps, err := h.opts.Config.ApplyConfig(r.Context(), cfg, r.URL.Query().Get("dry_run") == "true")
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(ps) > 0 {
		for i := range ps {
			ps[i].Path = strings.Replace(ps[i].Path, "$.zones[", "$.features[", 1)
		}
		h.writeError(w, r, problemsError(alerting.EINVALID, "the zones are invalid", ps, ""))
		return
	}
	h.audit(r, "config.import", "zones", "", fmt.Sprintf("%d zones from GeoJSON, version %d", len(cfg.Zones), version))
	writeJSON(w, http.StatusOK, map[string]any{"version": version, "applied": map[string]int{"zones": len(cfg.Zones)}})
}

// timeParam reads an RFC 3339 query parameter.
func timeParam(r *http.Request, name string, def time.Time, problems *[]alerting.FieldProblem) time.Time {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		*problems = append(*problems, alerting.FieldProblem{Field: name, Problem: "must be an RFC 3339 time like 2026-11-23T08:00:00Z"})
	}
	return t
}

// reportsGeoJSON answers GET /api/v1/reports.geojson?zone=&from=&to=&limit=:
// the stored reports observed in [from, to) (default: the last 24 hours)
// as Point features (null geometry when a report has no location).
func (h *Handler) reportsGeoJSON(w http.ResponseWriter, r *http.Request) {
	zones, problems := h.visibleZones(r)
	now := time.Now().UTC()
	from := timeParam(r, "from", now.Add(-24*time.Hour), &problems)
	to := timeParam(r, "to", now.Add(time.Minute), &problems)
	limit := intParam(r, "limit", 1000, 1, 10000, &problems)
	if !to.After(from) {
		problems = append(problems, alerting.FieldProblem{Field: "to", Problem: "must be after from"})
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	fc := featureCollection{Type: "FeatureCollection"}
	for _, z := range zones {
		reports, more, err := h.opts.Alerts.ZoneReports(r.Context(), z.ID, from, to, limit-len(fc.Features))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		fc.Truncated = fc.Truncated || more
		for _, sr := range reports {
			geom := json.RawMessage("null")
			if l := sr.Location; l != nil {
				geom, _ = json.Marshal(map[string]any{"type": "Point",
					"coordinates": []float64{alerting.RoundCoordinate(l.Lon), alerting.RoundCoordinate(l.Lat)}})
			}
			fc.Features = append(fc.Features, feature{Type: "Feature", ID: sr.ID, Geometry: geom, Properties: sr})
		}
		if len(fc.Features) >= limit {
			fc.Truncated = fc.Truncated || len(zones) > 1
			break
		}
	}
	writeGeoJSON(w, fc)
}

// summary answers GET /api/v1/summary?day=&zone=&cutoff=&tz=&format=csv:
// each visible zone's reporting day beside the day before.
func (h *Handler) summary(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	zones, problems := h.visibleZones(r)
	tz := q.Get("tz")
	if tz == "" {
		tz = h.opts.SummaryTimezone
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		problems = append(problems, alerting.FieldProblem{Field: "tz", Problem: "unknown time zone " + strconv.Quote(tz)})
		loc = time.UTC
	}
	cutoff := h.opts.SummaryCutoff
	if v := q.Get("cutoff"); v != "" {
		if cutoff, err = strconv.Atoi(v); err != nil || cutoff < 0 || cutoff > 23 {
			problems = append(problems, alerting.FieldProblem{Field: "cutoff", Problem: "must be an hour from 0 to 23"})
		}
	}
	dayName := q.Get("day")
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
		problems = append(problems, alerting.FieldProblem{Field: "day", Problem: "must be a date like 2026-11-23"})
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		problems = append(problems, alerting.FieldProblem{Field: "format", Problem: "must be json or csv"})
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	const perDay = 50_000
	out := []alerting.DailySummary{}
	for _, z := range zones {
		today, more, err := h.opts.Alerts.ZoneReports(r.Context(), z.ID, day.From, day.To, perDay)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		prev := day.Previous()
		before, more2, err := h.opts.Alerts.ZoneReports(r.Context(), z.ID, prev.From, prev.To, perDay)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		s := alerting.Summarize(z, day, today, before)
		s.Truncated = more || more2
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
	_ = cw.Write([]string{"day", "from", "to", "zone", "zone_name", "group", "key", "reports", "events", "killed", "injured",
		"previous_reports", "previous_events", "change_events"})
	for _, s := range summaries {
		line := func(group string, row alerting.SummaryRow) {
			_ = cw.Write([]string{s.Day.Day, s.Day.From.Format(time.RFC3339), s.Day.To.Format(time.RFC3339), s.Zone, s.ZoneName, group, row.Key,
				strconv.Itoa(row.Tally.Reports), strconv.Itoa(row.Tally.Events), strconv.Itoa(row.Tally.Killed), strconv.Itoa(row.Tally.Injured),
				strconv.Itoa(row.Previous.Reports), strconv.Itoa(row.Previous.Events), strconv.Itoa(row.Change)})
		}
		line("total", s.Total)
		for _, row := range s.ByCategory {
			line("category", row)
		}
		for _, row := range s.BySeverity {
			line("severity", row)
		}
		line("not_applicable", s.NotApplicable)
	}
	cw.Flush()
}
