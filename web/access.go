package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
)

// access is what a route asks of the caller; zone and party checks come
// on top, in the handlers.
type access int

const (
	anyone      access = iota // no credentials needed (health, sign-in, ack links)
	signedIn                  // any user
	readsConfig               // admin, duty officer, viewer: they see every zone
	adminOnly
)

type principalKey struct{}

// principal is the request's caller; nil on routes open to anyone.
func principal(r *http.Request) *alerting.Principal {
	p, _ := r.Context().Value(principalKey{}).(*alerting.Principal)
	return p
}

// Auditor records changes in the audit log.
type Auditor interface {
	RecordAudit(ctx context.Context, e alerting.AuditEntry)
}

// audit records a change made by the request's caller.
func (h *Handler) audit(r *http.Request, action, object, zone, detail string) {
	actor, via := "anonymous", ""
	if p := principal(r); p != nil {
		actor, via = p.User, p.Via
	}
	h.auditAs(r, actor, via, action, object, zone, detail)
}

// auditAs records a change made by actor, reached by via.
func (h *Handler) auditAs(r *http.Request, actor, via, action, object, zone, detail string) {
	if h.opts.Audit == nil {
		return
	}
	h.opts.Audit.RecordAudit(r.Context(), alerting.AuditEntry{At: time.Now().UTC(), Actor: actor, Via: via, Action: action,
		Object: object, Zone: zone, Detail: detail, Address: clientAddress(r)})
}

// guard authenticates the request, checks the route's access and, for a
// board's change, its CSRF token, then runs next with the principal in the
// context.
func (h *Handler) guard(need access, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if need == anyone {
			next(w, r) // health, sign-in and ack links read no credentials
			return
		}
		id, err := h.opts.Auth.Authenticate(r)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		p := id.Principal
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="truceline"`)
			h.writeError(w, r, alerting.Errorf(auth.EUNAUTHENTICATED, "sign in, or send an API token as \"Authorization: Bearer <token>\""))
			return
		}
		if err := auth.CheckCSRF(r, id); err != nil {
			h.writeError(w, r, err)
			return
		}
		switch {
		case need == readsConfig && !p.ReadsConfig(), need == adminOnly && !p.Administers():
			h.writeError(w, r, alerting.Errorf(alerting.EFORBIDDEN, "a %s may not do this", strings.ReplaceAll(string(p.Role), "_", " ")))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	}
}
