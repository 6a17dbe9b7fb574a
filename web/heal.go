package web

import (
	"context"
	"fmt"
	"net/http"

	"github.com/truceline/truceline/alerting"
)

// Healer checks the state store against the streams and heals what it
// lacks; alerting.Healer is one.
type Healer interface {
	Heal(ctx context.Context) (alerting.HealResult, error)
}

// heal answers POST /api/v1/heal: check Redis against the streams now, and
// heal what it lacks (after loading an older dataset into Redis in place,
// which truceline cannot notice by itself).
func (h *Handler) heal(w http.ResponseWriter, r *http.Request) {
	if h.opts.Healer == nil {
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "this server heals nothing"))
		return
	}
	res, err := h.opts.Healer.Heal(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, "store.heal", "redis", "", fmt.Sprintf("%d zones healed, %d changes redone, %d reports recovered",
		len(res.ZonesHealed), res.ChangesRedone, res.ReportsRecovered))
	writeJSON(w, http.StatusOK, res)
}
