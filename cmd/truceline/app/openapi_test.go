package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/web"
	"github.com/truceline/truceline/web/auth"
	"github.com/truceline/truceline/web/openapitest"
)

// The OpenAPI document against a real server: every answer below (status,
// content type, body) must be one web/openapi.json describes, and every
// request the test means to be right must be one it accepts. web's own
// tests hold the document to the routes and to their access checks.

func init() {
	// CAP messages and feeds are described as strings; they must at least
	// be well-formed XML. Pages are strings.
	for _, mt := range []string{"application/cap+xml", "application/atom+xml"} {
		openapi3filter.RegisterBodyDecoder(mt, openAPIXMLDecoder)
	}
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

func openAPIXMLDecoder(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := dec.Token(); err == io.EOF {
			return string(data), nil
		} else if err != nil {
			return nil, fmt.Errorf("not well-formed XML: %w", err)
		}
	}
}

// openAPIChecker sends requests to a server and holds them and the answers
// to the document it serves.
type openAPIChecker struct {
	t      *testing.T
	a      *app.App
	doc    *openapi3.T
	router routers.Router
	seen   map[string]bool // operations answered, by pattern
}

// apiCall is one request and the status it must get.
type apiCall struct {
	method, path string
	body         string
	contentType  string // default application/json with a body
	header       map[string]string
	token        string // a user's token; "" is the test admin
	anonymous    bool   // no credentials at all
	want         int
	// bad: the request breaks the document on purpose (the answer is
	// still checked).
	bad bool
}

// newOpenAPIChecker reads the document the server serves, without
// credentials, and checks that it is web/openapi.json and valid.
func newOpenAPIChecker(t *testing.T, a *app.App) *openAPIChecker {
	t.Helper()
	resp, err := (&http.Client{Transport: http.DefaultTransport}).Get("http://" + a.HTTPAddr() + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json without credentials: %d %q %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), data)
	}
	if !bytes.Equal(data, web.OpenAPI()) {
		t.Fatal("GET /api/v1/openapi.json is not web/openapi.json")
	}
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		t.Fatalf("the OpenAPI document does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	openapitest.CloseObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &openAPIChecker{t: t, a: a, doc: doc, router: router, seen: map[string]bool{}}
}

func (c apiCall) request(addr string) *http.Request {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, _ := http.NewRequest(c.method, "http://"+addr+c.path, body)
	if c.body != "" {
		ct := c.contentType
		if ct == "" {
			ct = "application/json"
		}
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req
}

// do sends the call and checks its status, its request (unless bad) and
// its answer against the document; it returns the answer's headers and
// body.
func (v *openAPIChecker) do(c apiCall) (http.Header, []byte) {
	t := v.t
	t.Helper()
	client := adminClient // the test admin's token, unless the call has credentials
	if c.anonymous {
		client = &http.Client{Transport: http.DefaultTransport}
	}
	req := c.request(v.a.HTTPAddr())
	what := c.method + " " + c.path
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != c.want {
		t.Errorf("%s: %d, want %d: %.500s", what, resp.StatusCode, c.want, body)
	}
	check := c.request(v.a.HTTPAddr()) // a fresh body for the checks
	route, params, err := v.router.FindRoute(check)
	if err != nil {
		t.Errorf("%s is no operation of the OpenAPI document: %v", what, err)
		return resp.Header, body
	}
	pattern := strings.ToUpper(route.Method) + " " + route.Path
	v.seen[pattern] = true
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true, IncludeResponseStatus: true}
	opts.WithCustomSchemaErrorFunc(openapitest.SchemaProblem)
	in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
	if !c.bad {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s (operation %s): the request does not match the OpenAPI document: %v", what, pattern, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s (operation %s): the answer %d %s does not match the OpenAPI document: %v\nbody: %.800s",
			what, pattern, resp.StatusCode, resp.Header.Get("Content-Type"), err, body)
	}
	return resp.Header, body
}

// json sends the call and decodes its JSON answer into out.
func (v *openAPIChecker) json(c apiCall, out any) {
	v.t.Helper()
	_, body := v.do(c)
	if err := json.Unmarshal(body, out); err != nil {
		v.t.Fatalf("%s %s: %v: %.300s", c.method, c.path, err, body)
	}
}

// openAPICAPReport is a CAP 1.2 message as a partner's system sends one.
const openAPICAPReport = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.1.760.0.2026.77</identifier>
  <sender>ops@party-a.example.org</sender>
  <sent>%[1]s</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Restricted</scope>
  <restriction>joint centre</restriction>
  <info>
    <category>Security</category>
    <event>Ceasefire violation – Shelling</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <onset>%[1]s</onset>
    <senderName>Party A liaison</senderName>
    <headline>Shelling near the bakery</headline>
    <area><areaDesc>Idlib</areaDesc></area>
  </info>
</alert>`

// TestOpenAPIAnswers drives a real server through every kind of operation,
// with right and wrong requests, and holds each answer to the document.
func TestOpenAPIAnswers(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx := context.Background()
	now := time.Now().UTC()
	// A policy that shows alerts on the board and calls a webhook nobody
	// answers (failed deliveries), a schedule, a regime and a suppression
	// elsewhere, so that every kind has an object.
	cfg := notifyAtOnce([]alerting.Contact{webhookContact("ops", "party-a", "http://127.0.0.1:1/hook")}, "ops", "party-a", "party-b")
	cfg.Schedules = []alerting.Schedule{{ID: "duty", Name: "Duty desk", Timezone: "Asia/Damascus",
		Layers: []alerting.Layer{{Name: "week", Participants: []string{"ops"}, Shift: alerting.Duration(24 * time.Hour), Start: "2026-01-01T08:00"}}}}
	cfg.Regimes = []alerting.Regime{{ID: "coh", Name: "Cessation of hostilities", Zones: []string{"*"}, Kind: alerting.CessationOfHostilities,
		StartsAt: now.Add(-24 * time.Hour)}}
	cfg.Suppressions = []alerting.Suppression{{ID: "drill", Zones: []string{"latakia"}, StartsAt: now.Add(-time.Hour),
		EndsAt: new(now.Add(time.Hour)), CreatedBy: "test", Reason: "a drill"}}
	cfg.Monitors = []alerting.Monitor{{ID: "op-north", Name: "OP North", Kind: "observation_post", Zones: []string{"aleppo"},
		Interval: alerting.Duration(time.Hour), Policy: "at-once", Reports: &alerting.HeardBy{Accounts: []string{"reporter"}}}}
	if err := a.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	v := newOpenAPIChecker(t, a)
	duty := userToken(t, a, alerting.User{Name: "duty-a", FullName: "Duty A", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	viewer := userToken(t, a, alerting.User{Name: "viewer", Role: alerting.RoleViewer})
	reporter := userToken(t, a, alerting.User{Name: "reporter", Role: alerting.RoleReporter, Zones: []string{"aleppo"}})

	// Reports: accepted, a duplicate, CAP, invalid, too large, forbidden.
	report := string(reportJSON("oa-1", "aleppo", "shelling"))
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: report, want: 202})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: report, want: 202})
	full := fmt.Sprintf(`{"id":"oa-2","zone":"aleppo","category":"shelling","observed_at":%q,"reported_by":"team north",
		"source_type":"own_monitor","certainty":"observed","weapon":"aircraft","attributed_to":"party-a","target":"infrastructure",
		"casualties":{"killed":1,"injured":3},"location":{"lat":36.2,"lon":37.15,"precision_m":500},"count":2,
		"description":"Two strikes.","references":["oa-1"],"exercise":true,"severity":"extreme"}`, now.Add(-2*time.Minute).Format(time.RFC3339))
	_, answer := v.do(apiCall{method: "POST", path: "/api/v1/reports", body: full, want: 202})
	var oa2 struct{ ID string }
	if err := json.Unmarshal(answer, &oa2); err != nil || sentID(oa2.ID) != "oa-2" {
		t.Fatalf("the answer to report oa-2: %s", answer)
	}
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: fmt.Sprintf(openAPICAPReport, now.Add(-time.Minute).Format(time.RFC3339)),
		contentType: "application/cap+xml", want: 202})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: `{"zone":"Aleppo","category":"mortar","observed_at":"2016-05-04 10:30","colour":"red","count":-1}`,
		want: 400, bad: true})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: `[1]`, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: report, contentType: "text/plain", want: 400, bad: true})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: `{"description":"` + strings.Repeat("x", 17000) + `"}`, want: 413, bad: true})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: report, token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/reports", body: report, anonymous: true, want: 401})

	// Alerts, and what the engine stored.
	var al alerting.Alert
	alertingtest.Eventually(t, 10*time.Second, "the aleppo alert with its failed webhook", func() bool {
		al = firstAlert(t, a, "aleppo")
		for _, n := range al.Notifications {
			if n.Kind == alerting.MethodWebhook && n.Attempts > 0 {
				return al.ReportCount == 2
			}
		}
		return false
	})
	id := al.ID
	v.do(apiCall{method: "GET", path: "/api/v1/reports/" + oa2.ID, want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/reports/nope", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts?zone=aleppo,idlib&state=open&limit=10", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts?zone=kyiv&state=closed&limit=0", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts", anonymous: true, want: 401})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts", token: "tlt_000000000000_" + strings.Repeat("x", 43), want: 401})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id, want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/al-nope", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id + "/reports?offset=0&limit=10", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id + "/reports?limit=0", want: 400, bad: true})

	// CAP.
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id, header: map[string]string{"Accept": "application/cap+xml"}, want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id + "/cap", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id + "/cap?message=nope", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/zones/aleppo/cap.atom?limit=5", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/zones/kyiv/cap.atom", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/zones/aleppo/cap.atom?limit=0", want: 400, bad: true})

	// Actions: as a viewer (403), for another party (403), right, twice
	// (409), with bad bodies (400, 413).
	act := "/api/v1/alerts/" + id + "/"
	v.do(apiCall{method: "POST", path: act + "ack", body: `{}`, token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: act + "ack", body: `{"party":"party-b"}`, token: duty, want: 403})
	v.do(apiCall{method: "POST", path: act + "ack", body: `{"colour":"red"}`, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: act + "comment", body: `{"note":"` + strings.Repeat("x", 9000) + `"}`, want: 413, bad: true})
	v.do(apiCall{method: "POST", path: act + "comment", body: `{"note":"team on its way"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "verify", body: `{"status":"confirmed","note":"seen by team north"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "attribution", body: `{"alleged":"party-a","status":"not_substantiated","note":"no unit of ours fired"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "attribution", body: `{"alleged":"party-a","status":"substantiated","note":"x"}`, token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: act + "attribution", body: `{"alleged":"nobody","status":"guilty"}`, token: duty, want: 400, bad: true})
	// Requests for information: asked by party-a, answered on party-b's
	// behalf by the admin, withdrawn by party-a.
	v.do(apiCall{method: "POST", path: act + "info-requests", body: `{"to":"party-b","question":"Which unit fired?","within":"24h"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "info-requests", body: `{"to":"party-a","question":"","within":"-1h"}`, token: duty, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: act + "info-requests", body: `{"to":"party-b","question":"?","within":"1h"}`, token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/alerts/al-nope/info-requests", body: `{"to":"party-b","question":"?","within":"1h"}`, want: 404})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-1/answer", body: `{"text":"not us"}`, token: duty, want: 403})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-1/answer", body: `{"text":"","attachments":["ftp://x"]}`, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-1/answer", body: `{"text":"By the hotline: a mortar crew","attachments":["doc:B-1"]}`, want: 200})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-1/answer", body: `{"text":"again"}`, want: 409})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-9/answer", body: `{"text":"to what?"}`, want: 404})
	v.do(apiCall{method: "POST", path: act + "info-requests", body: `{"to":"party-b","question":"Where was the crew?","deadline":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-2/withdraw", body: `{"reason":"x"}`, token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-2/withdraw", body: `{}`, token: duty, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-2/withdraw", body: `{"reason":"established at the site"}`, token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-2/withdraw", body: `{"reason":"again"}`, token: duty, want: 409})
	v.do(apiCall{method: "POST", path: act + "info-requests/ir-9/withdraw", body: `{"reason":"x"}`, want: 404})
	// A party's duty officer may not snooze a joint alert; the admin,
	// acting for no party, may.
	v.do(apiCall{method: "POST", path: act + "snooze", body: `{"for":"30m","note":"waiting"}`, token: duty, want: 403})
	v.do(apiCall{method: "POST", path: act + "snooze", body: `{"for":"30m","note":"waiting"}`, want: 200})
	v.do(apiCall{method: "POST", path: act + "snooze", body: `{"until":"` + now.Add(time.Hour).Format(time.RFC3339) + `"}`, want: 200})
	v.do(apiCall{method: "POST", path: act + "snooze", body: `{"note":"no time"}`, want: 400, bad: true})
	v.do(apiCall{method: "POST", path: act + "ack", token: duty, want: 200})
	v.do(apiCall{method: "POST", path: act + "ack", body: `{"note":"again"}`, token: duty, want: 409})
	v.do(apiCall{method: "POST", path: act + "resolve", body: `{"note":"done"}`, token: duty, want: 200}) // party-a agrees
	v.do(apiCall{method: "POST", path: act + "resolve", token: duty, want: 409})
	v.do(apiCall{method: "POST", path: "/api/v1/alerts/al-nope/ack", token: duty, want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/alerts/" + id, want: 200})

	// Acknowledge links that are no good.
	v.do(apiCall{method: "GET", path: "/ack/" + id + "/not-a-token", anonymous: true, want: 403})
	v.do(apiCall{method: "POST", path: "/ack/" + id + "/not-a-token", anonymous: true, header: map[string]string{"Accept": "application/json"}, want: 403})

	// Configuration.
	for _, kind := range alerting.Kinds {
		v.do(apiCall{method: "GET", path: "/api/v1/" + kind, want: 200})
	}
	v.do(apiCall{method: "GET", path: "/api/v1/contacts", token: reporter, want: 403})
	v.do(apiCall{method: "GET", path: "/api/v1/zones", token: reporter, want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/contacts/ops", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/schedules/duty", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/policies/at-once", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/regimes/coh", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/suppressions/drill", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/rules/all", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/monitors/op-north", want: 200})
	v.do(apiCall{method: "POST", path: "/api/v1/monitors/op-north/heartbeat", token: reporter, want: 200})
	v.do(apiCall{method: "POST", path: "/api/v1/monitors/op-north/heartbeat", token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/monitors/nope/heartbeat", want: 404})
	v.do(apiCall{method: "POST", path: "/api/v1/monitors/op-north/heartbeat", anonymous: true, want: 401})
	v.do(apiCall{method: "GET", path: "/api/v1/sources", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/sources", anonymous: true, want: 401})
	v.do(apiCall{method: "GET", path: "/api/v1/parties/party-a", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/zones/nowhere", want: 404})
	h, _ := v.do(apiCall{method: "PUT", path: "/api/v1/zones/test-zone", want: 200,
		body: `{"name":"Test zone","tags":["test"],"geometry":{"type":"Polygon","coordinates":[[[36,36],[37,36],[37,37],[36,36]]]}}`})
	if h.Get("Truceline-Config-Version") == "" {
		t.Error("PUT /api/v1/zones/test-zone: no Truceline-Config-Version")
	}
	v.do(apiCall{method: "PUT", path: "/api/v1/rules/broken", body: `{"policy":"nowhere","window":"10m"}`, want: 400})
	v.do(apiCall{method: "PUT", path: "/api/v1/zones/test-zone", body: `{"name":"Test zone"}`, token: viewer, want: 403})
	v.do(apiCall{method: "DELETE", path: "/api/v1/parties/party-a", want: 409})
	v.do(apiCall{method: "DELETE", path: "/api/v1/zones/test-zone", want: 204})
	v.do(apiCall{method: "DELETE", path: "/api/v1/zones/test-zone", want: 404})
	v.do(apiCall{method: "POST", path: "/api/v1/config?dry_run=true", want: 200,
		body: `{"parties":[{"id":"party-c","name":"Party C","status":"observer"}],"rules":[{"id":"r2","categories":["shelling"],"window":"5m","threshold":2}]}`})
	v.do(apiCall{method: "POST", path: "/api/v1/config", body: `{"rules":[{"id":"r3","policy":"nowhere"}]}`, want: 400})
	v.do(apiCall{method: "POST", path: "/api/v1/rules/validate", body: `{"rules":[{"id":"r3","policy":"nowhere"}]}`, want: 200})
	v.do(apiCall{method: "POST", path: "/api/v1/rules/validate?file=rules.yaml", contentType: "application/yaml", want: 200,
		body: "rules:\n  - id: r4\n    policy: nowhere\n"})
	v.do(apiCall{method: "GET", path: "/api/v1/schedules/duty/oncall?at=" + now.Format(time.RFC3339), want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/schedules/nope/oncall", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/oncall", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/oncall?at=yesterday", want: 400, bad: true})

	// Users, tokens and sessions.
	v.do(apiCall{method: "GET", path: "/api/v1/users", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/users", token: duty, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/users", want: 201,
		body: `{"name":"liaison-c","full_name":"Liaison C","role":"liaison","party":"party-a","zones":["aleppo"],"password":"a-long-password-here"}`})
	v.do(apiCall{method: "POST", path: "/api/v1/users", body: `{"name":"liaison-c","role":"viewer","password":"a-long-password-here"}`, want: 409})
	v.do(apiCall{method: "POST", path: "/api/v1/users", body: `{"name":"x","role":"boss","password":"short"}`, want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/users/liaison-c", want: 200})
	v.do(apiCall{method: "PUT", path: "/api/v1/users/liaison-c", body: `{"role":"liaison","party":"party-a","zones":["aleppo","idlib"],"disabled":true}`, want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/users/nobody", want: 404})
	v.do(apiCall{method: "DELETE", path: "/api/v1/users/liaison-c", want: 204})
	v.do(apiCall{method: "DELETE", path: "/api/v1/users/test-admin", want: 409})
	var tok struct {
		ID string `json:"id"`
	}
	v.json(apiCall{method: "POST", path: "/api/v1/tokens", body: `{"name":"ingest","expires_in":"24h","user":"reporter"}`, want: 201}, &tok)
	v.do(apiCall{method: "GET", path: "/api/v1/tokens?user=reporter", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/tokens?user=test-admin", token: reporter, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/tokens", body: `{"name":""}`, want: 400, bad: true})
	v.do(apiCall{method: "DELETE", path: "/api/v1/tokens/" + tok.ID, want: 204})
	v.do(apiCall{method: "DELETE", path: "/api/v1/tokens/000000000000", want: 404})
	v.do(apiCall{method: "GET", path: "/api/v1/session", token: duty, want: 200})
	if err := a.Store.PutUser(ctx, passwordUser(t, "oa-duty", "oa-duty-password"), true); err != nil {
		t.Fatal(err)
	}
	v.do(apiCall{method: "POST", path: "/api/v1/session", body: `{"user":"oa-duty","password":"wrong-password!"}`, anonymous: true, want: 401})
	h, body := v.do(apiCall{method: "POST", path: "/api/v1/session", body: `{"user":"oa-duty","password":"oa-duty-password"}`, anonymous: true, want: 200})
	cookie := strings.Split(h.Get("Set-Cookie"), ";")[0]
	var session struct{ CSRF string }
	_ = json.Unmarshal(body, &session)
	v.do(apiCall{method: "GET", path: "/api/v1/session", header: map[string]string{"Cookie": cookie}, want: 200})
	v.do(apiCall{method: "DELETE", path: "/api/v1/session", header: map[string]string{"Cookie": cookie}, want: 403})
	v.do(apiCall{method: "DELETE", path: "/api/v1/session", header: map[string]string{"Cookie": cookie, "X-CSRF-Token": session.CSRF}, want: 204})

	// GeoJSON, the summary, the audit log.
	v.do(apiCall{method: "GET", path: "/api/v1/zones.geojson", want: 200})
	v.do(apiCall{method: "POST", path: "/api/v1/zones.geojson?dry_run=true", contentType: "application/geo+json", want: 200,
		body: `{"type":"FeatureCollection","features":[{"type":"Feature","id":"new-zone","geometry":null,"properties":{"name":"New zone","tags":["x"]}}]}`})
	v.do(apiCall{method: "POST", path: "/api/v1/zones.geojson", contentType: "application/geo+json", want: 400,
		body: `{"type":"FeatureCollection","features":[{"type":"Feature","geometry":null,"properties":{}}]}`})
	v.do(apiCall{method: "GET", path: "/api/v1/reports.geojson?zone=aleppo,idlib&from=" + now.Add(-2*time.Hour).Format(time.RFC3339) + "&limit=1", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/reports.geojson?zone=kyiv&limit=0", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/summary?zone=aleppo,idlib&cutoff=19&tz=Europe/Kyiv", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/summary?format=csv", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/summary?day=yesterday&tz=Mars/Olympus", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/bulletins/daily?zone=aleppo", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/bulletins/daily?format=html", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/bulletins/daily?format=atom", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/bulletins/daily?date=yesterday&format=pdf", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/audit?after=0&limit=50", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/audit", token: viewer, want: 403})

	// Operations: rules' failures and parked reports (none here).
	v.do(apiCall{method: "GET", path: "/api/v1/rule-failures", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/rule-failures", token: viewer, want: 200})
	v.do(apiCall{method: "DELETE", path: "/api/v1/rule-failures/nope", want: 404})
	v.do(apiCall{method: "DELETE", path: "/api/v1/rule-failures/nope", token: viewer, want: 403})
	v.do(apiCall{method: "GET", path: "/api/v1/parked", want: 200})
	v.do(apiCall{method: "GET", path: "/api/v1/parked", token: viewer, want: 403})
	v.do(apiCall{method: "POST", path: "/api/v1/parked/42/replay", want: 404})
	v.do(apiCall{method: "POST", path: "/api/v1/parked/x/replay", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/api/v1/audit?limit=5000", want: 400, bad: true})
	v.do(apiCall{method: "POST", path: "/api/v1/heal", want: 200})
	v.do(apiCall{method: "POST", path: "/api/v1/heal", token: viewer, want: 403})

	// Operations.
	v.do(apiCall{method: "GET", path: "/healthz", anonymous: true, want: 200})
	v.do(apiCall{method: "GET", path: "/readyz", anonymous: true, want: 200})
	v.do(apiCall{method: "GET", path: "/metrics", want: 200})
	v.do(apiCall{method: "GET", path: "/metrics", token: reporter, want: 403})
	v.do(apiCall{method: "GET", path: "/ws", want: 400, bad: true})
	v.do(apiCall{method: "GET", path: "/ws", anonymous: true, header: map[string]string{"Sec-WebSocket-Protocol": "truceline.v1"}, want: 401})
	v.do(apiCall{method: "GET", path: "/api/v1/openapi.json", anonymous: true, want: 200})
	// Headers over the server's limit (32 KiB) get Go's plain-text 431
	// before any handler: the one 4XX these operations answer.
	big := map[string]string{"X-Padding": strings.Repeat("x", 40<<10)}
	for _, path := range []string{"/healthz", "/readyz", "/api/v1/openapi.json"} {
		v.do(apiCall{method: "GET", path: path, anonymous: true, header: big, want: 431})
	}

	// Most operations were answered; the rest are the same handlers for
	// other kinds of configuration.
	var missed []string
	for _, path := range v.doc.Paths.InMatchingOrder() {
		for method := range v.doc.Paths.Value(path).Operations() {
			if !v.seen[method+" "+path] {
				missed = append(missed, method+" "+path)
			}
		}
	}
	slices.Sort(missed)
	for _, m := range missed {
		if !strings.Contains(m, "/api/v1/") || !slices.ContainsFunc(alerting.Kinds, func(k string) bool { return strings.Contains(m, "/api/v1/"+k+"/{id}") }) {
			t.Errorf("no request to %s: test it here", m)
		}
	}
}

// passwordUser is a duty officer who signs in with a password.
func passwordUser(t *testing.T, name, password string) *alerting.User {
	t.Helper()
	hash, err := auth.HashPasswordCost(password, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &alerting.User{Name: name, Role: alerting.RoleDutyOfficer, PasswordHash: hash, CreatedAt: time.Now().UTC()}
}
