package web

import (
	"net/http"
	"time"

	"github.com/truceline/truceline/alerting"
)

// Who is on call: GET /api/v1/schedules/{id}/oncall and /api/v1/oncall.

// onCallAnswer is who is on call in a schedule, with the contacts' names.
type onCallAnswer struct {
	alerting.OnCall
	Name   string          `json:"name,omitempty"`
	People []onCallContact `json:"people"`
}

type onCallContact struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Party string `json:"party,omitempty"`
}

// atParam reads the ?at= time (RFC 3339), now when absent.
func atParam(r *http.Request) (time.Time, error) {
	raw := r.URL.Query().Get("at")
	if raw == "" {
		return time.Now().UTC(), nil
	}
	at, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return at, &alerting.Error{Code: alerting.EINVALID, Message: "bad query",
			Fields: []alerting.FieldProblem{{Field: "at", Problem: "must be an RFC 3339 time like 2026-11-23T08:00:00Z"}}}
	}
	return at, nil
}

func answerOnCall(c *alerting.Catalog, s *alerting.Schedule, at time.Time) onCallAnswer {
	oc := s.OnCall(at)
	for _, t := range []*time.Time{oc.From, oc.Until} {
		if t != nil {
			*t = t.UTC()
		}
	}
	out := onCallAnswer{OnCall: oc, Name: s.Name, People: []onCallContact{}}
	for _, id := range oc.Contacts {
		ct, _ := c.Contact(id)
		out.People = append(out.People, onCallContact{ID: id, Name: ct.Name, Party: ct.Party})
	}
	return out
}

// onCall answers GET /api/v1/schedules/{id}/oncall?at=TIME.
func (h *Handler) onCall(w http.ResponseWriter, r *http.Request) {
	at, err := atParam(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c := h.opts.Catalog.Catalog()
	s, ok := c.Schedule(r.PathValue("id"))
	if !ok {
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "no schedule %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, answerOnCall(c, s, at))
}

// onCallAll answers GET /api/v1/oncall?at=TIME: every schedule.
func (h *Handler) onCallAll(w http.ResponseWriter, r *http.Request) {
	at, err := atParam(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	c := h.opts.Catalog.Catalog()
	out := []onCallAnswer{}
	for _, s := range c.Config().Schedules {
		s, _ := c.Schedule(s.ID)
		out = append(out, answerOnCall(c, s, at))
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": at, "schedules": out})
}
