package web

import (
	"context"
	"net/http"

	"github.com/truceline/truceline/alerting"
)

// RuleFaults are the failures of rules' conditions, for admins.
type RuleFaults interface {
	RuleFaults(ctx context.Context) ([]alerting.RuleFault, error)
	ClearRuleFault(ctx context.Context, rule string) (bool, error)
}

// listRuleFaults answers GET /api/v1/rule-failures: each rule whose
// condition failed on a report since the rule was last written or its
// failures dismissed.
func (h *Handler) listRuleFaults(w http.ResponseWriter, r *http.Request) {
	faults, err := h.opts.RuleFaults.RuleFaults(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if faults == nil {
		faults = []alerting.RuleFault{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"failures": faults})
}

// dismissRuleFault answers DELETE /api/v1/rule-failures/{rule}.
func (h *Handler) dismissRuleFault(w http.ResponseWriter, r *http.Request) {
	rule := r.PathValue("rule")
	had, err := h.opts.RuleFaults.ClearRuleFault(r.Context(), rule)
	if err == nil && !had {
		err = alerting.Errorf(alerting.ENOTFOUND, "rule %s has no failures", rule)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, "rule.failures.dismiss", "rules/"+rule, "", "")
	w.WriteHeader(http.StatusNoContent)
}
