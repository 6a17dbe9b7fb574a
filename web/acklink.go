package web

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
)

// AckLinks checks the acknowledge links notifications carry.
type AckLinks interface {
	Check(token, alert string, now time.Time) (*alerting.AckClaims, error)
}

// ackPage is the page an acknowledge link opens: following the link only
// shows it (mail scanners follow links); the button acknowledges.
var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Heading}} · truceline</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#17202a}
h1{font-size:1.4rem}.box{border:1px solid #c8d0d8;border-radius:8px;padding:1rem 1.25rem;background:#f7f9fb}
.sev{font-weight:700;text-transform:uppercase}.err{border-color:#c0392b;background:#fdf0ee}
button{font:inherit;font-weight:600;padding:.6rem 1.2rem;border:0;border-radius:6px;background:#1d5fa7;color:#fff;cursor:pointer}</style>
</head><body><h1>{{.Heading}}</h1>
<div class="box{{if .Error}} err{{end}}">
{{with .Alert}}<p><span class="sev">{{.Severity}}</span> · {{.Zone}} · {{.State}}</p><p><strong>{{.Title}}</strong></p>{{end}}
<p>{{.Message}}</p>
{{if .Form}}<form method="post"><button type="submit">Acknowledge on behalf of {{.Who}}</button></form>{{end}}
</div>
{{if .Board}}<p><a href="{{.Board}}">Open the board</a></p>{{end}}
</body></html>`))

type ackView struct {
	Heading, Message, Who, Board string
	Alert                        *alerting.Alert
	Form, Error                  bool
}

// ackLink serves GET and POST /ack/{alert}/{token}: the acknowledge link
// of a notification. GET shows what the link would do; POST does it, on
// behalf of the party of the contact the notification went to.
func (h *Handler) ackLink(w http.ResponseWriter, r *http.Request) {
	id, token := r.PathValue("alert"), r.PathValue("token")
	wantsJSON := strings.Contains(r.Header.Get("Accept"), "application/json")
	fail := func(err error) {
		if wantsJSON {
			h.writeError(w, r, err)
			return
		}
		status, ok := statuses[alerting.ErrorCode(err)]
		if !ok {
			status = http.StatusInternalServerError
		}
		h.renderAck(w, status, ackView{Heading: "This link cannot acknowledge", Message: alerting.ErrorMessage(err), Error: true, Board: "/"})
	}
	if h.opts.AckLinks == nil {
		fail(alerting.Errorf(alerting.ENOTFOUND, "acknowledge links are not enabled on this server"))
		return
	}
	if h.limited(w, r, h.limits.ackLinks.allow(clientAddress(r), h.limits.now())) {
		return
	}
	claims, err := h.opts.AckLinks.Check(token, id, time.Now())
	if err != nil {
		fail(err)
		return
	}
	who := claims.Name
	if claims.Party != "" {
		who = claims.Party
		if p, ok := h.opts.Catalog.Catalog().Party(claims.Party); ok {
			who = p.Name
		}
	}
	a, err := h.opts.Alerts.Alert(r.Context(), id)
	if err != nil {
		fail(err)
		return
	}
	if r.Method == http.MethodGet {
		h.renderAck(w, http.StatusOK, ackView{Heading: "Acknowledge this alert?", Alert: a, Who: who, Form: true, Board: "/?alert=" + a.ID,
			Message: "Acknowledging tells the centre that " + who + " has taken this alert in hand and stops its escalation to you."})
		return
	}
	a, err = h.opts.Actions.Acknowledge(r.Context(), id, claims.Actor(), "by the link in notification "+claims.Key)
	if err != nil {
		fail(err)
		return
	}
	h.logger.Info("alert acknowledged by notification link", "alert", id, "contact", claims.Contact, "party", claims.Party,
		"request_id", RequestID(r.Context()))
	h.auditAs(r, "contact "+claims.Contact, "ack link", "alert.ack", "alert "+id, a.Zone, "notification "+claims.Key)
	if wantsJSON {
		writeJSON(w, http.StatusOK, a)
		return
	}
	msg := "Acknowledged on behalf of " + who + "."
	if waiting := a.AwaitingAck(); a.State == alerting.StateOpen && len(waiting) > 0 {
		msg += " The alert still waits for " + strings.Join(waiting, ", ") + "."
	}
	h.renderAck(w, http.StatusOK, ackView{Heading: "Acknowledged", Alert: a, Message: msg, Board: "/?alert=" + a.ID})
}

func (h *Handler) renderAck(w http.ResponseWriter, status int, v ackView) {
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	hd.Set("Referrer-Policy", "no-referrer") // the token must not leak to the board's links
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = ackPage.Execute(w, v)
}
