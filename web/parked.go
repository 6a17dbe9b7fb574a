package web

import (
	"context"
	"net/http"
	"strconv"

	"github.com/truceline/truceline/alerting"
)

// ParkedReports are the reports that failed every try.
type ParkedReports interface {
	Parked(ctx context.Context) ([]alerting.ParkedReport, error)
	ReplayParked(ctx context.Context, seq uint64) (subject string, err error)
}

// listParked answers GET /api/v1/parked.
func (h *Handler) listParked(w http.ResponseWriter, r *http.Request) {
	list, err := h.opts.Parked.Parked(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []alerting.ParkedReport{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"parked": list})
}

// replayParked answers POST /api/v1/parked/{seq}/replay.
func (h *Handler) replayParked(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad parked report",
			Fields: []alerting.FieldProblem{{Field: "seq", Problem: "must be the positive number that GET /api/v1/parked shows"}}})
		return
	}
	subject, err := h.opts.Parked.ReplayParked(r.Context(), seq)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, "report.replay", "parked "+strconv.FormatUint(seq, 10), "", "replayed on "+subject)
	writeJSON(w, http.StatusOK, map[string]any{"replayed": seq, "subject": subject})
}
