// Package web is truceline's HTTP face: the JSON API under /api/v1
// (documented in docs/API.md), health and readiness, Prometheus metrics, the
// WebSocket gateway at /ws and the embedded live alert board at /.
package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
)

// Intake admits reports and stores them durably.
type Intake interface {
	Admit(data []byte, a alerting.Arrival) (alerting.Report, error)
}

// ReportStore stores an admitted report in the report stream.
type ReportStore interface {
	PublishReport(ctx context.Context, r *alerting.Report) (duplicate bool, err error)
}

// Alerts reads alerts and reports.
type Alerts interface {
	Alert(ctx context.Context, id string) (*alerting.Alert, error)
	Alerts(ctx context.Context, f alerting.AlertFilter) ([]*alerting.Alert, error)
	AlertReports(ctx context.Context, id string, offset, limit int) ([]string, int, error)
	Report(ctx context.Context, id string) (*alerting.StoredReport, error)
	ZoneReports(ctx context.Context, zone string, from, to time.Time, limit int) ([]*alerting.StoredReport, bool, error)
}

// Actions changes alerts on people's behalf.
type Actions interface {
	Acknowledge(ctx context.Context, id string, actor alerting.Actor, note string) (*alerting.Alert, error)
	Resolve(ctx context.Context, id string, actor alerting.Actor, note string) (*alerting.Alert, error)
	Verify(ctx context.Context, id string, actor alerting.Actor, status alerting.Verification, reason string) (*alerting.Alert, error)
	Attribute(ctx context.Context, id string, actor alerting.Actor, alleged string, status alerting.AttributionStatus, reason string) (*alerting.Alert, error)
	Comment(ctx context.Context, id string, actor alerting.Actor, text string) (*alerting.Alert, error)
	Snooze(ctx context.Context, id string, actor alerting.Actor, until time.Time, note string) (*alerting.Alert, error)
	AskInfo(ctx context.Context, id string, actor alerting.Actor, q alerting.InfoQuestion) (*alerting.Alert, error)
	AnswerInfo(ctx context.Context, id string, actor alerting.Actor, request, text string, attachments []string) (*alerting.Alert, error)
	WithdrawInfo(ctx context.Context, id string, actor alerting.Actor, request, reason string) (*alerting.Alert, error)
}

// Gateway serves WebSocket clients that may follow only the zones sees
// allows.
type Gateway interface {
	ServeViewer(w http.ResponseWriter, r *http.Request, sees func(zone string) bool, viewer func(ctx context.Context) (func(zone string) bool, error))
	// Recheck asks every connection's viewer again now: credentials or
	// zones changed.
	Recheck()
}

// Check is one readiness check: a dependency that must answer.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Options configures the HTTP handler. Every interface is required.
type Options struct {
	Intake  Intake
	Reports ReportStore
	Alerts  Alerts
	Actions Actions
	Catalog alerting.CatalogSource
	Config  ConfigStore
	Gateway Gateway
	Ready   []Check
	// Healing, when set, lists the zones being restored from the streams;
	// /readyz names them.
	Healing func() []string
	// Healer, when set, checks Redis against the streams on demand
	// (POST /api/v1/heal).
	Healer Healer
	// Gatherer serves /metrics; Registerer takes the HTTP metrics.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	// NewReportID names reports that arrive without an id.
	NewReportID func() string
	// Auth identifies callers; Users keeps users and tokens. Required.
	Auth  *auth.Authenticator
	Users UserStore
	// Audit records every change and AuditLog reads them; nil records
	// nothing.
	Audit    Auditor
	AuditLog AuditLog
	// Limits are the accepted request rates.
	Limits Limits
	// AckLinks checks notifications' acknowledge links; nil disables them.
	AckLinks AckLinks
	// SummaryCutoff and SummaryTimezone define the daily summary's
	// reporting day by default.
	SummaryCutoff   int
	SummaryTimezone string
	// RuleFaults lists and dismisses rules' failures; required.
	RuleFaults RuleFaults
	// Parked lists and replays the reports that failed every try; required.
	Parked ParkedReports
	// Mount adds handlers by pattern (the demo's webhook inbox).
	Mount map[string]http.Handler
	// Sources takes heartbeats and tells sources' states; nil answers
	// 503 there.
	Sources Sources
	// PublicURL is where people reach truceline, for links and the sender
	// of CAP messages; "" makes links relative.
	PublicURL string
}

// Handler serves truceline's HTTP endpoints.
type Handler struct {
	opts    Options
	routes  []string // the API's patterns, for the OpenAPI check
	mux     *http.ServeMux
	logger  *slog.Logger
	metrics httpMetrics
	limits  limiters
}

// NewHandler returns the handler with every route registered.
func NewHandler(o Options) (*Handler, error) {
	if o.Intake == nil || o.Reports == nil || o.Alerts == nil || o.Actions == nil || o.Catalog == nil || o.Config == nil || o.Gateway == nil ||
		o.Auth == nil || o.Users == nil || o.RuleFaults == nil || o.Parked == nil {
		return nil, errors.New("web: Intake, Reports, Alerts, Actions, Catalog, Config, Gateway, Auth, Users, RuleFaults and Parked are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.SummaryTimezone == "" {
		o.SummaryTimezone = "UTC"
	}
	if o.NewReportID == nil {
		o.NewReportID = alerting.NewReportID
	}
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	h := &Handler{opts: o, mux: http.NewServeMux(), logger: o.Logger.With("component", "http"), metrics: newHTTPMetrics(o.Registerer),
		limits: newLimiters(o.Limits)}
	h.route("POST /api/v1/reports", signedIn, h.postReport)
	h.route("GET /api/v1/reports/{id}", signedIn, h.getReport)
	h.route("GET /api/v1/alerts", signedIn, h.listAlerts)
	h.route("GET /api/v1/alerts/{id}", signedIn, h.getAlert)
	h.route("GET /api/v1/alerts/{id}/reports", signedIn, h.alertReports)
	h.route("POST /api/v1/alerts/{id}/ack", signedIn, h.ackAlert)
	h.route("POST /api/v1/alerts/{id}/resolve", signedIn, h.resolveAlert)
	h.route("POST /api/v1/alerts/{id}/verify", signedIn, h.verifyAlert)
	h.route("POST /api/v1/alerts/{id}/attribution", signedIn, h.attributeAlert)
	h.route("POST /api/v1/alerts/{id}/comment", signedIn, h.commentAlert)
	h.route("POST /api/v1/alerts/{id}/snooze", signedIn, h.snoozeAlert)
	h.routeInfoRequests()
	h.route("GET /api/v1/alerts/{id}/cap", signedIn, h.alertCAP)
	h.route("GET /api/v1/zones/{zone}/cap.atom", signedIn, h.zoneCAPFeed)
	h.routeConfig()
	h.routeMonitors()
	h.routeUsers()
	h.route("GET /api/v1/audit", adminOnly, h.listAudit)
	h.route("POST /api/v1/heal", adminOnly, h.heal)
	h.route("GET /api/v1/rule-failures", readsConfig, h.listRuleFaults)
	h.route("DELETE /api/v1/rule-failures/{rule}", adminOnly, h.dismissRuleFault)
	h.route("GET /api/v1/parked", adminOnly, h.listParked)
	h.route("POST /api/v1/parked/{seq}/replay", adminOnly, h.replayParked)
	h.route("GET /api/v1/zones.geojson", signedIn, h.zonesGeoJSON)
	h.route("POST /api/v1/zones.geojson", adminOnly, h.importZonesGeoJSON)
	h.route("GET /api/v1/reports.geojson", signedIn, h.reportsGeoJSON)
	h.route("GET /api/v1/summary", signedIn, h.summary)
	h.route("GET /api/v1/bulletins/daily", signedIn, h.bulletin)
	h.route("GET /api/v1/schedules/{id}/oncall", readsConfig, h.onCall)
	h.route("GET /api/v1/oncall", readsConfig, h.onCallAll)
	h.route("GET /ack/{alert}/{token}", anyone, h.ackLink)
	h.route("POST /ack/{alert}/{token}", anyone, h.ackLink)
	for pattern, handler := range o.Mount {
		h.mux.Handle(pattern, handler)
	}
	h.route("GET /healthz", anyone, h.healthz)
	h.route("GET /api/v1/openapi.json", anyone, h.openAPI)
	h.route("GET /readyz", anyone, h.readyz)
	h.mux.Handle("GET /metrics", h.guard(readsConfig, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}).ServeHTTP))
	h.mux.Handle("GET /ws", h.guard(signedIn, h.webSocket))
	registerBoard(h.mux)
	h.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "no endpoint %s %s", r.Method, r.URL.Path))
	})
	return h, nil
}

// route registers an API handler with its metrics, logging and access
// check.
func (h *Handler) route(pattern string, need access, fn http.HandlerFunc) {
	h.routes = append(h.routes, pattern)
	h.mux.Handle(pattern, h.instrument(pattern, h.guard(need, fn)))
}

// Routes lists the patterns ("GET /api/v1/alerts/{id}") of the routes the
// handler serves besides the board's static files.
func (h *Handler) Routes() []string {
	return append(slices.Clone(h.routes), "GET /metrics", "GET /ws")
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// errorBody is the JSON error contract of the API.
type errorBody struct {
	Error struct {
		Code    string                  `json:"code"`
		Message string                  `json:"message"`
		Fields  []alerting.FieldProblem `json:"fields,omitempty"`
	} `json:"error"`
}

// statuses maps application error codes to HTTP statuses, here at the edge
// and nowhere else.
var statuses = map[string]int{
	alerting.EINVALID:     http.StatusBadRequest,
	alerting.ENOTFOUND:    http.StatusNotFound,
	alerting.ECONFLICT:    http.StatusConflict,
	alerting.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	alerting.EUNAVAILABLE: http.StatusServiceUnavailable,
	alerting.EFORBIDDEN:   http.StatusForbidden,
	alerting.ERATELIMITED: http.StatusTooManyRequests,
	auth.EUNAUTHENTICATED: http.StatusUnauthorized,
	alerting.EINTERNAL:    http.StatusInternalServerError,
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := alerting.ErrorCode(err)
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		h.logger.Error("request failed", "method", r.Method, "path", logPath(r), "request_id", RequestID(r.Context()), "err", err)
	}
	var body errorBody
	body.Error.Code, body.Error.Message, body.Error.Fields = code, alerting.ErrorMessage(err), alerting.ErrorFields(err)
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

var errTrailing = errors.New("data after the JSON value")

// webSocket hands a signed-in client to the gateway, which lets it follow
// only the zones it may see.
func (h *Handler) webSocket(w http.ResponseWriter, r *http.Request) {
	if h.limited(w, r, h.limits.websockets.allow(clientAddress(r), h.limits.now())) {
		return
	}
	creds := auth.CredentialsOf(r) // the connection keeps these, not the request
	h.opts.Gateway.ServeViewer(w, r, principal(r).SeesZone, func(ctx context.Context) (func(string) bool, error) {
		// The credentials of the upgrade request, checked again: a
		// revoked token, a disabled or deleted user or a new password
		// closes the connection; a liaison's zones follow the user.
		id, err := h.opts.Auth.AuthenticateCredentials(ctx, creds)
		switch {
		case alerting.ErrorCode(err) == auth.EUNAUTHENTICATED:
			return nil, err
		case err != nil:
			return nil, nil // the store is away: cannot say now
		case id.Principal == nil:
			return nil, alerting.Errorf(auth.EUNAUTHENTICATED, "the credentials are gone")
		}
		return id.Principal.SeesZone, nil
	})
}

// intParam reads an integer query parameter in [lo, hi]: def when absent,
// and a problem added (naming the parameter and its range) when bad.
func intParam(r *http.Request, name string, def, lo, hi int, problems *[]alerting.FieldProblem) int {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		problem := fmt.Sprintf("must be an integer from %d to %d", lo, hi)
		if lo == 0 && hi == math.MaxInt {
			problem = "must be a non-negative integer"
		}
		*problems = append(*problems, alerting.FieldProblem{Field: name, Problem: problem})
	}
	return n
}
