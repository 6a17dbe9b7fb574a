package demo

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/webhook"
)

// NewInbox is the demo's webhook receiver: each demo contact's webhook
// arrives at /demo/inbox/<contact> and is checked with that contact's
// secret, as a liaison team's own receiver would.
func NewInbox(catalog alerting.CatalogSource) *webhook.Receiver {
	return webhook.NewReceiver(func(r *http.Request) (string, bool) {
		c, ok := catalog.Catalog().Contact(r.PathValue("contact"))
		if !ok {
			return "", false
		}
		for _, m := range c.Methods {
			if m.Type == alerting.MethodWebhook && strings.HasSuffix(m.URL, r.URL.Path) {
				return m.Secret, true
			}
		}
		return "", false
	}, 200)
}

var inboxTemplate = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10"><title>Demo inbox · truceline</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2rem;color:#17202a}h1{font-size:1.3rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #dde3ea;vertical-align:top}
th{font-size:.8rem;text-transform:uppercase;color:#5d6d7e}.sev{font-weight:700;text-transform:uppercase}
.extreme{color:#922b21}.severe{color:#c0392b}.moderate{color:#b9770e}.fb{color:#922b21;font-weight:700}.muted{color:#5d6d7e}</style>
</head><body><h1>Demo inbox: webhooks the demo contacts received</h1>
<p class="muted">Every webhook here passed its Standard Webhooks signature check. EXERCISE DATA. This page refreshes every 10 s;
<a href="/">back to the board</a>. JSON: <code>curl -H 'Accept: application/json' …/demo/inbox/</code>.</p>
<table><thead><tr><th>Received (UTC)</th><th>Contact</th><th>Alert</th><th>Step</th><th>Key</th><th>Acknowledge</th></tr></thead><tbody>
{{range .}}<tr><td>{{.At.UTC.Format "15:04:05"}}</td><td>{{.Payload.Contact}}{{if .Payload.Fallback}} <span class="fb">fallback: nobody on call in {{.Payload.Target}}</span>{{end}}</td>
<td><span class="sev {{.Payload.Alert.Severity}}">{{.Payload.Alert.Severity}}</span> {{.Payload.Alert.Zone}}: {{.Payload.Alert.Title}}</td>
<td>{{.Payload.Step}}{{if .Payload.Repeat}} (repeat {{.Payload.Repeat}}){{end}} via {{.Payload.Target}}</td><td class="muted">{{.ID}}</td>
<td>{{if .Payload.AckURL}}<a href="{{.Payload.AckURL}}" rel="noreferrer">acknowledge</a>{{end}}</td></tr>
{{else}}<tr><td colspan="6" class="muted">Nothing yet: escalation steps reach contacts minutes after an alert opens (see the demo policies).</td></tr>{{end}}
</tbody></table></body></html>`))

// InboxPage lists what the demo inbox received, newest first.
func InboxPage(rc *webhook.Receiver) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := rc.Received()
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			h.Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"received": got, "duplicates": rc.Duplicates()})
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		_ = inboxTemplate.Execute(w, got)
	})
}
