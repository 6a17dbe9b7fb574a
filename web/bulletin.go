package web

import (
	_ "embed"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

// The daily bulletin: GET /api/v1/bulletins/daily as JSON, as a printable
// HTML page, or as an Atom feed whose entries link each incident's CAP
// message.

// bulletinAlerts is the most alerts read per zone for a bulletin: those
// changed since the day began, newest first.
const bulletinAlerts = 5000

//go:embed bulletin.html
var bulletinPage string

var bulletinTemplate = template.Must(template.New("bulletin").Funcs(template.FuncMap{
	"label": func(v any) string {
		s := strings.ReplaceAll(toString(v), "_", " ")
		if s == "" {
			return "—"
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"clock": func(t time.Time) string { return t.UTC().Format("15:04") },
	"when":  func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04") + " UTC" },
}).Parse(bulletinPage))

func toString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case alerting.Verification:
		return string(s)
	case alerting.Category:
		return s.Label()
	case alerting.Severity:
		return string(s)
	case alerting.State:
		return string(s)
	case alerting.RegimeKind:
		return string(s)
	case alerting.AttributionStatus:
		return string(s)
	}
	return ""
}

// bulletin answers GET /api/v1/bulletins/daily?date=&zone=&cutoff=&tz=&format=json|html|atom.
func (h *Handler) bulletin(w http.ResponseWriter, r *http.Request) {
	zones, problems := h.visibleZones(r)
	day := h.reportingDay(r, "date", &problems)
	format := r.URL.Query().Get("format")
	if format == "" {
		format = negotiate(r.Header.Get("Accept"))
	}
	switch format {
	case "json", "html", "atom":
	default:
		problems = append(problems, alerting.FieldProblem{Field: "format", Problem: "must be json, html or atom"})
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	byZone := map[string][]*alerting.Alert{}
	truncated := false
	for _, z := range zones {
		alerts, err := h.opts.Alerts.Alerts(r.Context(), alerting.AlertFilter{Zones: []string{z.ID}, Since: day.From, Limit: bulletinAlerts})
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		byZone[z.ID] = alerts
		truncated = truncated || len(alerts) >= bulletinAlerts
	}
	b := alerting.BuildBulletin(day, zones, byZone, h.opts.Catalog.Catalog())
	switch format {
	case "html":
		h.bulletinHTML(w, r, b, truncated)
	case "atom":
		h.bulletinAtom(w, r, b)
	default:
		writeJSON(w, http.StatusOK, struct {
			alerting.Bulletin
			Truncated bool `json:"truncated,omitempty"`
		}{b, truncated})
	}
}

// negotiate picks the bulletin's format from an Accept header: HTML for a
// browser, Atom for a feed reader, JSON otherwise.
func negotiate(accept string) string {
	switch {
	case strings.Contains(accept, "text/html"):
		return "html"
	case strings.Contains(accept, cap.AtomMediaType):
		return "atom"
	}
	return "json"
}

// bulletinQuery is the query of the bulletin of day in format, keeping the
// request's zone, cutoff and tz.
func bulletinQuery(r *http.Request, day, format string) string {
	q := url.Values{}
	for _, k := range []string{"zone", "cutoff", "tz"} {
		if v := r.URL.Query().Get(k); v != "" {
			q.Set(k, v)
		}
	}
	q.Set("date", day)
	q.Set("format", format)
	return "/api/v1/bulletins/daily?" + q.Encode()
}

func (h *Handler) bulletinHTML(w http.ResponseWriter, r *http.Request, b alerting.Bulletin, truncated bool) {
	d, _ := time.Parse(time.DateOnly, b.Day.Day)
	data := struct {
		alerting.Bulletin
		Truncated                bool
		Title, Prev, Next, Atom  string
		JSON, Generated, Heading string
	}{Bulletin: b, Truncated: truncated,
		Heading:   d.Format("Monday 2 January 2006"),
		Title:     "Daily bulletin " + b.Day.Day,
		Prev:      bulletinQuery(r, d.AddDate(0, 0, -1).Format(time.DateOnly), "html"),
		Next:      bulletinQuery(r, d.AddDate(0, 0, 1).Format(time.DateOnly), "html"),
		Atom:      bulletinQuery(r, b.Day.Day, "atom"),
		JSON:      bulletinQuery(r, b.Day.Day, "json"),
		Generated: time.Now().UTC().Format("2 Jan 2006 15:04") + " UTC"}
	var out strings.Builder
	if err := bulletinTemplate.Execute(&out, data); err != nil {
		h.writeError(w, r, err)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(out.String()))
}

// bulletinAtom writes the bulletin as an Atom feed: an entry per zone with
// its text, linking the HTML bulletin and each incident's CAP message.
func (h *Handler) bulletinAtom(w http.ResponseWriter, r *http.Request, b alerting.Bulletin) {
	base := strings.TrimRight(h.opts.PublicURL, "/")
	host := senderHost(h.opts.PublicURL, r)
	now := time.Now().UTC().Format(time.RFC3339)
	feed := cap.AtomFeed{ID: cap.NameURN("bulletin " + host + " " + b.Day.Day), Title: "truceline: daily bulletin " + b.Day.Day,
		Updated: now, Author: cap.AtomPerson{Name: "truceline " + host},
		Links: []cap.AtomLink{{Rel: "self", Type: cap.AtomMediaType, Href: base + bulletinQuery(r, b.Day.Day, "atom")},
			{Rel: "alternate", Type: "text/html", Href: base + bulletinQuery(r, b.Day.Day, "html")}}}
	for _, z := range b.Zones {
		var text strings.Builder
		text.WriteString(z.Statement)
		links := []cap.AtomLink{{Rel: "alternate", Type: "text/html", Href: base + bulletinQuery(r, b.Day.Day, "html") + "#zone-" + url.PathEscape(z.Zone)}}
		for _, in := range z.Incidents {
			text.WriteString("\n" + in.FirstSeen.UTC().Format("15:04") + "–" + in.LastSeen.UTC().Format("15:04") + " UTC: " + in.Statement)
			links = append(links, cap.AtomLink{Rel: "related", Type: cap.MediaType, Href: base + "/api/v1/alerts/" + url.PathEscape(in.Alert) + "/cap"})
		}
		for _, q := range z.Requests {
			text.WriteString("\n" + q.Statement)
		}
		for _, p := range z.Parties {
			text.WriteString("\n" + p.Statement)
		}
		feed.Entries = append(feed.Entries, cap.AtomEntry{ID: cap.NameURN("bulletin " + host + " " + b.Day.Day + " " + z.Zone),
			Title: z.ZoneName + ", " + b.Day.Day, Updated: now, Summary: z.Statement, Links: links,
			Content: cap.AtomContent{Type: "text", Text: text.String()}})
	}
	doc, err := feed.Marshal()
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeXML(w, cap.AtomMediaType, doc)
}
