package web

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/truceline/truceline/alerting"
)

// Rate limits: a token bucket per address, user or token.

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

// limited answers 429 with Retry-After when ok is false.
func (h *Handler) limited(w http.ResponseWriter, r *http.Request, ok bool) bool {
	if ok {
		return false
	}
	w.Header().Set("Retry-After", "10")
	h.writeError(w, r, errRateLimited)
	return true
}

var errRateLimited = alerting.Errorf(alerting.ERATELIMITED, "too many requests; slow down and try again shortly")
