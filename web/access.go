package web

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

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

// clientAddress is the address a request came from (the proxy's, behind
// one: truceline does not trust forwarded headers).
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limiter is a token bucket per key (an address, a user, a token), forgetting
// keys idle for ten minutes.
type limiter struct {
	every rate.Limit
	burst int

	mu     sync.Mutex
	keys   map[string]*limited
	swept  time.Time
	maxLen int
}

type limited struct {
	l    *rate.Limiter
	seen time.Time
}

// newLimiter allows perMinute events a minute per key, in bursts of burst.
func newLimiter(perMinute float64, burst int) *limiter {
	return &limiter{every: rate.Limit(perMinute / 60), burst: burst, keys: map[string]*limited{}, maxLen: 100_000}
}

// allow takes one event for key; false when over the limit.
func (l *limiter) allow(key string, now time.Time) bool {
	if l == nil || l.every <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.keys) > l.maxLen {
		for k, e := range l.keys {
			if now.Sub(e.seen) > 10*time.Minute {
				delete(l.keys, k)
			}
		}
		l.swept = now
	}
	e, ok := l.keys[key]
	if !ok {
		e = &limited{l: rate.NewLimiter(l.every, l.burst)}
		l.keys[key] = e
	}
	e.seen = now
	return e.l.AllowN(now, 1)
}

// Limits are the request rates the server accepts; zero means unlimited.
type Limits struct {
	// ReportsPerMinute bounds report submission per caller (token or
	// user) and, four times over, per address.
	ReportsPerMinute float64
	// LoginsPerMinute bounds sign-in attempts per address, and per user
	// name from one address.
	LoginsPerMinute float64
	// WebSocketsPerMinute bounds WebSocket connections per address.
	WebSocketsPerMinute float64
	// Now is the clock the limits refill by; nil means time.Now. Tests
	// stop it, so that what a limit lets through does not depend on how
	// fast the machine answers.
	Now func() time.Time
}

type limiters struct {
	reportsByCaller, reportsByAddress *limiter
	loginsByAddress, loginsByUser     *limiter
	websockets                        *limiter
	ackLinks                          *limiter
	now                               func() time.Time
}

func newLimiters(l Limits) limiters {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	mk := func(perMinute float64) *limiter {
		if perMinute <= 0 {
			return nil
		}
		return newLimiter(perMinute, max(5, int(perMinute/6))) // bursts of ten seconds' worth, at least 5

	}
	return limiters{
		reportsByCaller: mk(l.ReportsPerMinute), reportsByAddress: mk(4 * l.ReportsPerMinute),
		loginsByAddress: mk(l.LoginsPerMinute), loginsByUser: mk(l.LoginsPerMinute),
		websockets: mk(l.WebSocketsPerMinute),
		ackLinks:   mk(6 * l.LoginsPerMinute), // links are followed in bursts (a team opening a mail)
		now:        now,
	}
}

var errRateLimited = alerting.Errorf(alerting.ERATELIMITED, "too many requests; slow down and try again shortly")

// limited answers 429 with Retry-After when ok is false.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, ok bool) bool {
	if ok {
		return false
	}
	w.Header().Set("Retry-After", "10")
	h.writeError(w, r, errRateLimited)
	return true
}
