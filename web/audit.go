package web

import (
	"context"
	"math"
	"net/http"

	"github.com/truceline/truceline/alerting"
)

// AuditLog reads the audit log.
type AuditLog interface {
	AuditEntries(ctx context.Context, afterSeq int64, limit int) ([]alerting.AuditEntry, error)
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
}

// listAudit answers GET /api/v1/audit?after=SEQ&limit=N: entries oldest
// first, with the head the store recorded, so a client can verify the
// chain itself (trucectl audit verify).
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) {
	if h.opts.AuditLog == nil {
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "this server keeps no audit log"))
		return
	}
	var problems []alerting.FieldProblem
	after := int64(intParam(r, "after", 0, 0, math.MaxInt, &problems))
	limit := intParam(r, "limit", 100, 1, 1000, &problems)
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	// The head first: entries appended meanwhile are past it, and the
	// client reads them on its next page.
	seq, hash, err := h.opts.AuditLog.AuditHead(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	entries, err := h.opts.AuditLog.AuditEntries(r.Context(), after, limit)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if entries == nil {
		entries = []alerting.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "head": map[string]any{"seq": seq, "hash": hash}})
}
