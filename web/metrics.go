package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type httpMetrics struct {
	requests *prometheus.HistogramVec
	reports  *prometheus.CounterVec
	rejected *prometheus.CounterVec
	signIns  *prometheus.CounterVec
}

// Outcomes of a sign-in, the values of truceline_sign_ins_total's label.
const (
	signInAccepted = "accepted"
	signInRefused  = "refused"      // wrong user name or password, or a disabled user
	signInLimited  = "rate_limited" // too many attempts from the address, or for the name from it
)

// reportsRoute is the route whose answers truceline_http_reports_rejected_total
// counts.
const reportsRoute = "POST /api/v1/reports"

// Reasons a report sent over HTTP is not accepted, the values of the label
// reason: a fixed set, never error text or anything the caller sent.
const (
	reasonInvalid         = "invalid"         // 400: not JSON, not schema v1, unknown zone, wrong Content-Type
	reasonUnauthenticated = "unauthenticated" // 401
	reasonForbidden       = "forbidden"       // 403: the caller may not submit for the zone
	reasonTooLarge        = "too_large"       // 413
	reasonRateLimited     = "rate_limited"    // 429
	reasonUnavailable     = "unavailable"     // 503: JetStream did not confirm
	reasonInternal        = "internal"        // any other 5xx
)

var rejectReasons = []string{reasonInvalid, reasonUnauthenticated, reasonForbidden, reasonTooLarge, reasonRateLimited, reasonUnavailable, reasonInternal}

// rejectReason names why a report answered with status was not accepted.
func rejectReason(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return reasonUnauthenticated
	case status == http.StatusForbidden:
		return reasonForbidden
	case status == http.StatusRequestEntityTooLarge:
		return reasonTooLarge
	case status == http.StatusTooManyRequests:
		return reasonRateLimited
	case status == http.StatusServiceUnavailable:
		return reasonUnavailable
	case status >= 500:
		return reasonInternal
	default:
		return reasonInvalid
	}
}

func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "truceline_http_request_duration_seconds",
			Help:    "HTTP API requests by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route", "status"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_http_reports_total",
			Help: "Reports submitted over HTTP by outcome: accepted, rejected, rate_limited, unavailable.",
		}, []string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_http_reports_rejected_total",
			Help: "Reports submitted over HTTP and not accepted, by reason: invalid, unauthenticated, forbidden, too_large, rate_limited, unavailable, internal.",
		}, []string{"reason"}),
		signIns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_sign_ins_total",
			Help: "Sign-in attempts by outcome: accepted, refused (wrong user name or password), rate_limited. Refused attempts are not audited.",
		}, []string{"outcome"}),
	}
	for _, reason := range rejectReasons {
		m.rejected.WithLabelValues(reason) // every reason is exposed from the start, at 0
	}
	for _, outcome := range []string{signInAccepted, signInRefused, signInLimited} {
		m.signIns.WithLabelValues(outcome)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.reports, m.rejected, m.signIns)
	}
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// instrument gives the request its id, times the route, counts rejected
// reports and logs the request with its id; it never logs bodies.
func (h *Handler) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		r = identify(w, r)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)
		h.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Observe(elapsed.Seconds())
		if route == reportsRoute && rec.status >= 400 {
			h.metrics.rejected.WithLabelValues(rejectReason(rec.status)).Inc()
		}
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		h.logger.Log(r.Context(), level, "request", "request_id", RequestID(r.Context()), "method", r.Method, "path", logPath(r),
			"status", rec.status, "duration", elapsed)
	})
}

// logPath is the request's path as logs show it: an acknowledge link's
// token is a bearer capability and is never logged.
func logPath(r *http.Request) string {
	if tok := r.PathValue("token"); tok != "" {
		return strings.Replace(r.URL.Path, tok, "(token)", 1)
	}
	return r.URL.Path
}
