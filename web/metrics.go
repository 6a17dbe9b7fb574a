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
}

func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	m := httpMetrics{
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "truceline_http_request_seconds",
			Help:    "HTTP API requests by route and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"route", "status"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "truceline_http_reports_total",
			Help: "Reports submitted over HTTP by outcome: accepted, rejected, unavailable.",
		}, []string{"outcome"}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.reports)
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

// instrument times a route and logs failures; it never logs bodies.
func (h *Handler) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		elapsed := time.Since(start)
		h.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Observe(elapsed.Seconds())
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		h.logger.Log(r.Context(), level, "request", "method", r.Method, "path", logPath(r), "status", rec.status, "duration", elapsed)
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
