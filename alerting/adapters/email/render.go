package email

import (
	"fmt"
	"html/template"
	"strings"
	"time"
	"unicode"

	"github.com/truceline/truceline/alerting"
)

// timeLayout is how a message shows times, always in UTC.
const timeLayout = "2 Jan 2006 15:04 UTC"

// view is what a message says, for both of its bodies.
type view struct {
	Subject    string
	AlertID    string
	Severity   string
	Zone       string
	Title      string
	Category   string
	Reports    int
	FirstSeen  string
	LastSeen   string
	Step       int
	Repeat     int
	Fallback   bool
	Target     string
	AckURL     string
	AckFor     string
	AckExpires string
	AlertURL   string
	Key        string
}

func newView(m *alerting.Message) view {
	a := m.Alert
	v := view{
		Subject:   oneLine(m.Subject()),
		AlertID:   oneLine(a.ID),
		Severity:  oneLine(string(a.Severity)),
		Zone:      oneLine(a.Zone),
		Title:     oneLine(a.Title),
		Category:  oneLine(a.Category.Label()),
		Reports:   a.ReportCount,
		FirstSeen: formatTime(a.FirstSeen),
		LastSeen:  formatTime(a.LastSeen),
		Step:      m.Step,
		Repeat:    m.Repeat,
		Fallback:  m.Fallback,
		Target:    oneLine(m.Target),
		AlertURL:  oneLine(m.AlertURL),
		Key:       oneLine(m.Key),
	}
	if m.AckURL != "" {
		v.AckURL = oneLine(m.AckURL)
		v.AckFor = oneLine(ackFor(m.Contact))
		if !m.AckExpires.IsZero() {
			v.AckExpires = formatTime(m.AckExpires)
		}
	}
	return v
}

// ackFor names on whose behalf the message's link acknowledges: the
// contact's party, or the contact itself.
func ackFor(c alerting.Contact) string {
	switch {
	case c.Party != "":
		return c.Party
	case c.Name != "":
		return c.Name
	}
	return c.ID
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format(timeLayout)
}

// oneLine returns s with control characters (line breaks among them) made
// spaces, so that no field can break a header or a body's layout.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// render returns the plain-text and HTML bodies of m.
func render(m *alerting.Message) (text, html string, err error) {
	v := newView(m)
	var b strings.Builder
	if err := htmlBody.Execute(&b, v); err != nil {
		return "", "", fmt.Errorf("rendering the HTML body: %w", err)
	}
	return textBody(v), b.String(), nil
}

// textBody returns the plain-text body of v.
func textBody(v view) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("%s", v.Subject)
	line("")
	line("Severity:    %s", v.Severity)
	line("Zone:        %s", v.Zone)
	line("Title:       %s", v.Title)
	line("Category:    %s", v.Category)
	line("Reports:     %d", v.Reports)
	line("First seen:  %s", v.FirstSeen)
	line("Last seen:   %s", v.LastSeen)
	line("Escalation:  step %d, repeat %d", v.Step, v.Repeat)
	line("Alert:       %s", v.AlertID)
	if v.Fallback {
		line("")
		line("You are receiving this because nobody was on call in %s.", v.Target)
	}
	if v.AckURL != "" {
		line("")
		if v.AckExpires != "" {
			line("Acknowledge on behalf of %s: %s (valid until %s)", v.AckFor, v.AckURL, v.AckExpires)
		} else {
			line("Acknowledge on behalf of %s: %s", v.AckFor, v.AckURL)
		}
	}
	if v.AlertURL != "" {
		line("")
		line("On the board: %s", v.AlertURL)
	}
	line("")
	line("-- ")
	line("truceline, notification %s", v.Key)
	return b.String()
}

// htmlBody is the HTML alternative; html/template escapes every field, and
// the links' URLs as URLs.
var htmlBody = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
<table cellpadding="2">
<tr><th align="left">Severity</th><td>{{.Severity}}</td></tr>
<tr><th align="left">Zone</th><td>{{.Zone}}</td></tr>
<tr><th align="left">Title</th><td>{{.Title}}</td></tr>
<tr><th align="left">Category</th><td>{{.Category}}</td></tr>
<tr><th align="left">Reports</th><td>{{.Reports}}</td></tr>
<tr><th align="left">First seen</th><td>{{.FirstSeen}}</td></tr>
<tr><th align="left">Last seen</th><td>{{.LastSeen}}</td></tr>
<tr><th align="left">Escalation</th><td>step {{.Step}}, repeat {{.Repeat}}</td></tr>
<tr><th align="left">Alert</th><td>{{.AlertID}}</td></tr>
</table>
{{- if .Fallback}}
<p>You are receiving this because nobody was on call in {{.Target}}.</p>
{{- end}}
{{- if .AckURL}}
<p>Acknowledge on behalf of {{.AckFor}}: <a href="{{.AckURL}}">{{.AckURL}}</a>{{if .AckExpires}} (valid until {{.AckExpires}}){{end}}</p>
{{- end}}
{{- if .AlertURL}}
<p>On the board: <a href="{{.AlertURL}}">{{.AlertURL}}</a></p>
{{- end}}
<p style="color: #666">truceline, notification {{.Key}}</p>
</body>
</html>
`))
