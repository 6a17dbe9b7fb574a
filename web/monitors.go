package web

import (
	"context"
	"net/http"
	"time"

	"github.com/truceline/truceline/alerting"
)

// Sources takes monitored sources' heartbeats and tells their states
// (alerting.SourceWatch).
type Sources interface {
	Heartbeat(ctx context.Context, p *alerting.Principal, monitor string, now time.Time) error
	Statuses(ctx context.Context, sees func(zone string) bool, now time.Time) ([]alerting.SourceStatus, error)
	Silences(ctx context.Context, zones []string, from, to, now time.Time) ([]alerting.SourceDay, error)
}

func (h *Handler) routeMonitors() {
	h.route("POST /api/v1/monitors/{id}/heartbeat", signedIn, h.heartbeat)
	h.route("GET /api/v1/sources", signedIn, h.listSources)
}

// heartbeat records that a monitored source is alive.
func (h *Handler) heartbeat(w http.ResponseWriter, r *http.Request) {
	if h.opts.Sources == nil {
		h.writeError(w, r, alerting.Errorf(alerting.EUNAVAILABLE, "monitors are not served here"))
		return
	}
	now := time.Now().UTC()
	id := r.PathValue("id")
	if err := h.opts.Sources.Heartbeat(r.Context(), principal(r), id, now); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"monitor": id, "heard_at": now})
}

// listSources lists the monitored sources of the zones the caller sees,
// with their states.
func (h *Handler) listSources(w http.ResponseWriter, r *http.Request) {
	if h.opts.Sources == nil {
		h.writeError(w, r, alerting.Errorf(alerting.EUNAVAILABLE, "monitors are not served here"))
		return
	}
	now := time.Now().UTC()
	out, err := h.opts.Sources.Statuses(r.Context(), principal(r).SeesZone, now)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"at": now, "sources": out})
}

// daySources are the silent periods of the monitored sources of zones in
// a reporting day, for the daily summary; none when monitors are not
// served here.
func (h *Handler) daySources(ctx context.Context, zones []alerting.Zone, day alerting.ReportingDay) ([]alerting.SourceDay, error) {
	if h.opts.Sources == nil {
		return []alerting.SourceDay{}, nil
	}
	ids := make([]string, len(zones))
	for i, z := range zones {
		ids[i] = z.ID
	}
	return h.opts.Sources.Silences(ctx, ids, day.From, day.To, time.Now().UTC())
}
