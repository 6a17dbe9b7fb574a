package app_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// scrape reads /metrics with the test admin's token and parses it.
func scrape(t *testing.T, a *app.App) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v", err)
	}
	return families
}

// sample sums the values of a family's series whose labels include want:
// counters and gauges by value, histograms by sample count. ok is false when
// no series matches.
func sample(families map[string]*dto.MetricFamily, name string, want ...string) (v float64, ok bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			match = match && labels[want[i]] == want[i+1]
		}
		if !match {
			continue
		}
		ok = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// TestMetrics drives every stage once (reports over HTTP and NATS, good and
// bad, an alert, its escalation and webhook, a WebSocket client, an
// acknowledgement) and checks that /metrics shows each, with labels from
// small fixed sets only.
func TestMetrics(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx := context.Background()
	in := newReceiver(t)
	// The board at once, ops by webhook a second later: an escalation.
	if err := a.ApplyConfig(ctx, alerting.Config{
		Contacts: []alerting.Contact{webhookContact("ops", "", in.URL+"/ops")},
		Policies: []alerting.Policy{{ID: "p", Steps: []alerting.Step{
			{After: 0, Notify: []string{"board"}},
			{After: alerting.Duration(time.Second), Notify: []string{"ops"}},
		}}},
		Rules:    []alerting.Rule{{ID: "all", Policy: "p"}},
		Monitors: []alerting.Monitor{{ID: "op", Zones: []string{"latakia"}, Interval: alerting.Duration(time.Hour)}},
	}); err != nil {
		t.Fatal(err)
	}
	ws := dial(t, a)
	ws.subscribe(t, []string{"aleppo", "idlib"}, nil)

	if status, body := post(t, a, "/api/v1/reports", reportJSON("metrics-http-1", "aleppo", "shelling")); status != http.StatusAccepted {
		t.Fatalf("POST report: %d %v", status, body)
	}
	if status, body := post(t, a, "/api/v1/reports", []byte(`{"zone":"aleppo","category":"shelling"}`)); status != http.StatusBadRequest {
		t.Fatalf("POST an invalid report: %d %v, want 400", status, body)
	}
	js, err := jetstream.New(d.nats.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "violations.idlib.shelling", reportJSON("metrics-nats-1", "idlib", "shelling")); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "violations.idlib.shelling", []byte(`{"zone":"idlib","category":"shelling"}`)); err != nil {
		t.Fatal(err)
	}
	ws.until(t, "the HTTP report's alert", func(f frame) bool { return hasReport(f, "metrics-http-1") })
	ws.until(t, "the NATS report's alert", func(f frame) bool { return hasReport(f, "metrics-nats-1") })
	// Acknowledge the idlib alert once both webhooks are out, and leave
	// aleppo's open.
	alertingtest.Eventually(t, 15*time.Second, "a webhook per alert", func() bool { return len(in.rc.Received()) >= 2 })
	idlib := firstAlert(t, a, "idlib")
	if status, body := post(t, a, "/api/v1/alerts/"+idlib.ID+"/ack", nil); status != http.StatusOK {
		t.Fatalf("ack: %d %v", status, body)
	}
	ws.until(t, "the acknowledgement", func(f frame) bool { return f.Event == "acknowledged" })

	var m map[string]*dto.MetricFamily
	alertingtest.Eventually(t, 15*time.Second, "the work counted", func() bool {
		m = scrape(t, a)
		lag, _ := sample(m, "truceline_engine_lag_seconds")
		sent, _ := sample(m, "truceline_notification_delay_seconds", "kind", "webhook")
		acked, _ := sample(m, "truceline_alert_changes_total", "event", "acknowledged")
		return lag >= 3 && sent >= 2 && acked >= 1
	})

	type check struct {
		name   string
		labels []string // label=value pairs the series must have
		min    float64
		max    float64 // -1: no upper bound
	}
	for _, c := range []check{
		{"truceline_http_reports_total", []string{"outcome", "accepted"}, 1, -1},
		{"truceline_http_reports_total", []string{"outcome", "rejected"}, 1, 1},
		{"truceline_http_reports_rejected_total", []string{"reason", "invalid"}, 1, 1},
		{"truceline_http_reports_rejected_total", []string{"reason", "too_large"}, 0, 0},
		{"truceline_http_reports_rejected_total", []string{"reason", "unauthenticated"}, 0, 0},
		{"truceline_http_request_duration_seconds", []string{"route", "POST /api/v1/reports", "status", "202"}, 1, -1},
		{"truceline_http_request_duration_seconds", []string{"route", "POST /api/v1/reports", "status", "400"}, 1, 1},
		{"truceline_engine_reports_total", []string{"outcome", "processed"}, 2, -1},
		{"truceline_engine_reports_total", []string{"outcome", "rejected"}, 1, 1},
		{"truceline_engine_reports_rejected_total", []string{"reason", "invalid"}, 1, 1},
		{"truceline_engine_reports_rejected_total", []string{"reason", "too_large"}, 0, 0},
		{"truceline_engine_report_duration_seconds", nil, 3, -1},
		{"truceline_engine_lag_seconds", nil, 3, -1},
		{"truceline_engine_pending_reports", nil, 0, -1},
		{"truceline_alerts", []string{"state", "open"}, 1, -1},
		{"truceline_alerts", []string{"state", "acknowledged"}, 1, -1},
		{"truceline_alert_changes_total", []string{"event", "opened"}, 2, -1},
		{"truceline_alert_changes_total", []string{"event", "escalated"}, 2, -1},
		{"truceline_alert_changes_total", []string{"event", "acknowledged"}, 1, -1},
		{"truceline_alert_changes_total", []string{"event", "reopened"}, 0, 0},
		{"truceline_notification_attempt_duration_seconds", []string{"kind", "webhook", "outcome", "sent"}, 2, -1},
		{"truceline_notification_delay_seconds", []string{"kind", "webhook"}, 2, -1},
		{"truceline_notification_queued_deliveries", []string{"lane", "normal"}, 0, -1},
		{"truceline_notification_queued_deliveries", []string{"lane", "urgent"}, 0, -1},
		{"truceline_ws_clients", nil, 1, 1},
		{"truceline_ws_frames_sent_total", nil, 4, -1},
		{"truceline_ws_subscriptions_total", []string{"start", "snapshot"}, 2, -1},
		{"truceline_ws_slow_disconnects_total", nil, 0, 0},
		{"truceline_ws_credential_disconnects_total", nil, 0, 0},
		{"truceline_sign_ins_total", []string{"outcome", "refused"}, 0, 0},
		{"truceline_ws_dropped_frames_total", nil, 0, 0},
		{"truceline_ws_gap_fills_total", nil, 0, -1},
		{"truceline_dependency_up", []string{"dependency", "nats"}, 1, 1},
		{"truceline_dependency_up", []string{"dependency", "redis"}, 1, 1},
		{"truceline_zones_healing", nil, 0, 0},
		{"truceline_zone_heals_total", nil, 0, 0},
		{"truceline_healed_changes_total", nil, 0, 0},
		{"truceline_reports_recovered_total", nil, 0, 0},
		{"truceline_sources", []string{"state", "waiting"}, 1, 1},
		{"truceline_sources", []string{"state", "silent"}, 0, 0},
		{"truceline_sources", []string{"state", "heard"}, 0, 0},
	} {
		v, ok := sample(m, c.name, c.labels...)
		if !ok || v < c.min || (c.max >= 0 && v > c.max) {
			t.Errorf("%s%v = %v (present %v), want %v to %v", c.name, c.labels, v, ok, c.min, c.max)
		}
	}
	if open, _ := sample(m, "truceline_alerts", "state", "open", "severity", string(idlib.Severity)); open < 1 {
		t.Errorf("no open alert of severity %s counted", idlib.Severity)
	}

	// Every family has exactly its labels, with values from small fixed
	// sets: no report or alert id, no error text.
	labelNames := map[string][]string{
		"truceline_http_request_duration_seconds":         {"route", "status"},
		"truceline_http_reports_total":                    {"outcome"},
		"truceline_http_reports_rejected_total":           {"reason"},
		"truceline_engine_reports_total":                  {"outcome"},
		"truceline_engine_reports_rejected_total":         {"reason"},
		"truceline_engine_report_duration_seconds":        nil,
		"truceline_engine_lag_seconds":                    nil,
		"truceline_engine_pending_reports":                nil,
		"truceline_alerts":                                {"severity", "state"},
		"truceline_alert_changes_total":                   {"event"},
		"truceline_notification_attempt_duration_seconds": {"kind", "outcome"},
		"truceline_notification_delay_seconds":            {"kind"},
		"truceline_notification_queued_deliveries":        {"lane"},
		"truceline_ws_clients":                            nil,
		"truceline_ws_frames_sent_total":                  nil,
		"truceline_ws_slow_disconnects_total":             nil,
		"truceline_ws_credential_disconnects_total":       nil,
		"truceline_sign_ins_total":                        {"outcome"},
		"truceline_rule_failures_total":                   nil,
		"truceline_ws_dropped_frames_total":               nil,
		"truceline_ws_gap_fills_total":                    nil,
		"truceline_ws_subscriptions_total":                {"start"},
		"truceline_dependency_up":                         {"dependency"},
		"truceline_zones_healing":                         nil,
		"truceline_zone_heals_total":                      nil,
		"truceline_healed_changes_total":                  nil,
		"truceline_reports_recovered_total":               nil,
		"truceline_sources":                               {"state"},
	}
	values := map[string][]string{
		"reason":     {"invalid", "unauthenticated", "forbidden", "too_large", "rate_limited", "unavailable", "internal"},
		"outcome":    {"accepted", "rejected", "refused", "rate_limited", "unavailable", "processed", "retried", "sent", "failed", "gave_up"},
		"state":      {"open", "acknowledged", "heard", "waiting", "late", "silent", "paused"},
		"severity":   {"minor", "moderate", "severe", "extreme"},
		"event":      {"opened", "updated", "escalated", "acknowledged", "resolved", "reopened"},
		"kind":       {"webhook", "email", "nats"},
		"lane":       {"normal", "urgent"},
		"start":      {"snapshot", "resumed", "resume_failed"},
		"dependency": {"nats", "redis"},
	}
	for name, mf := range m {
		if !strings.HasPrefix(name, "truceline_") {
			continue
		}
		want, known := labelNames[name]
		if !known {
			t.Errorf("%s is not checked by this test (nor, likely, documented in docs/API.md)", name)
			continue
		}
		for _, metric := range mf.GetMetric() {
			var got []string
			for _, l := range metric.GetLabel() {
				got = append(got, l.GetName())
				if allowed, fixed := values[l.GetName()]; fixed && !slices.Contains(allowed, l.GetValue()) {
					t.Errorf("%s{%s=%q}: a value outside the fixed set", name, l.GetName(), l.GetValue())
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s has labels %v, want %v", name, got, want)
			}
		}
	}
	for name := range labelNames {
		if m[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}

	// Only roles that see every zone read /metrics.
	resp, err := (&http.Client{}).Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/metrics without credentials: %d, want 401", resp.StatusCode)
	}
	for _, tc := range []struct {
		user alerting.User
		want int
	}{
		{alerting.User{Name: "metrics-liaison", FullName: "liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}}, http.StatusForbidden},
		{alerting.User{Name: "metrics-reporter", FullName: "reporter", Role: alerting.RoleReporter, Zones: []string{"aleppo"}}, http.StatusForbidden},
		{alerting.User{Name: "prometheus", FullName: "Prometheus", Role: alerting.RoleViewer}, http.StatusOK},
	} {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+userToken(t, a, tc.user))
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("/metrics as a %s: %d, want %d", tc.user.Role, resp.StatusCode, tc.want)
		}
	}
	m = scrape(t, a)
	if v, _ := sample(m, "truceline_http_reports_rejected_total", "reason", "unauthenticated"); v != 0 {
		t.Errorf("a refused /metrics counted as a rejected report: %v", v)
	}

	t.Run("MetricsDashboard", func(t *testing.T) { checkDashboard(t, m) })
}

// metricName finds the metric names in PromQL.
var metricName = regexp.MustCompile(`\btruceline_[a-zA-Z0-9_]+`)

// checkDashboard reads the Grafana dashboard and checks that every query
// names only metrics that the scrape exposes.
func checkDashboard(t *testing.T, m map[string]*dto.MetricFamily) {
	data, err := os.ReadFile("../../../configs/grafana/truceline.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		ID      int    `json:"id"`
		Type    string `json:"type"`
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		Inputs []struct {
			Name string `json:"name"`
		} `json:"__inputs"`
		SchemaVersion int               `json:"schemaVersion"`
		UID           string            `json:"uid"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("configs/grafana/truceline.json: %v", err)
	}
	if len(dash.Inputs) != 1 || dash.Inputs[0].Name != "DS_PROMETHEUS" || dash.SchemaVersion < 36 || dash.UID == "" {
		t.Errorf("dashboard: inputs %+v, schemaVersion %d, uid %q", dash.Inputs, dash.SchemaVersion, dash.UID)
	}
	exposed := func(name string) bool {
		if m[name] != nil {
			return true
		}
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && m[base] != nil && m[base].GetType() == dto.MetricType_HISTOGRAM {
				return true
			}
		}
		return false
	}
	checkExpr := func(where, expr string) {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no truceline metric", where, expr)
		}
		for _, name := range names {
			if !exposed(name) {
				t.Errorf("%s: %s is not in /metrics", where, name)
			}
		}
	}
	ids, queries := map[int]bool{}, 0
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatal(err)
			}
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, target := range p.Targets {
				checkExpr("panel "+p.Title, target.Expr)
				queries++
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		checkExpr("variable", v.Definition)
	}
	if queries < 12 {
		t.Errorf("the dashboard has %d queries; every stage should have a panel", queries)
	}
}

// TestRequestID checks that every answer carries a request id, the
// caller's when it is a short safe token and a new one otherwise, and that
// the request's log line carries it too.
func TestRequestID(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	logs := &logBuffer{}
	a := startWithLogger(t, d.config(t), slogTo(logs))
	valid := regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	get := func(path, id string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+path, nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("X-Request-Id")
		if !valid.MatchString(got) {
			t.Errorf("GET %s with X-Request-Id %q: answered with X-Request-Id %q", path, id, got)
		}
		return got
	}
	for _, path := range []string{"/healthz", "/api/v1/alerts", "/metrics", "/api/v1/nope", "/"} {
		if got := get(path, "trace-4bf92f35.77_b"); got != "trace-4bf92f35.77_b" {
			t.Errorf("GET %s: X-Request-Id %q, want the caller's echoed", path, got)
		}
		first, second := get(path, ""), get(path, "")
		if first == second {
			t.Errorf("GET %s: two requests without an id both got %q", path, first)
		}
	}
	for _, bad := range []string{"has spaces", `quote"d`, "a=b;c", strings.Repeat("x", 65), "ünïcode"} {
		if got := get("/healthz", bad); got == bad || strings.Contains(got, bad) {
			t.Errorf("X-Request-Id %q was kept (%q)", bad, got)
		}
	}

	// The request's log line names it.
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/reports", strings.NewReader(`{"zone":"aleppo"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", "req-invalid-report-1")
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("X-Request-Id") != "req-invalid-report-1" {
		t.Errorf("invalid report: %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	alertingtest.Eventually(t, 5*time.Second, "the request's log line", func() bool {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			if strings.Contains(line, "msg=request ") && strings.Contains(line, "request_id=req-invalid-report-1") &&
				strings.Contains(line, "status=400") {
				return true
			}
		}
		return false
	})
}

// TestMetricsPassPromtool: /metrics, with every truceline metric present,
// passes Prometheus's own lint (promtool check metrics: names, units,
// help texts). Without promtool it is skipped, except in CI.
func TestMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is needed (apt-get install prometheus): %v", err)
		}
		t.Skip("no promtool: install prometheus to lint the metrics (with CI=true this is a failure)")
	}
	d := startDeps(t)
	a := start(t, d.config(t))
	post(t, a, "/api/v1/reports", reportJSON("lint-1", "aleppo", "shelling"))
	firstAlert(t, a, "aleppo")
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cmd := exec.Command(tool, "check", "metrics")
	cmd.Stdin = resp.Body
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
