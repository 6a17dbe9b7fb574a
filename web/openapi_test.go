package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
	"github.com/truceline/truceline/web/openapitest"
)

// The OpenAPI document (openapi.json) is held to the handler here: it must
// be a valid OpenAPI 3.0 document, list exactly the routes the handler
// serves, say truly which of them need credentials and which role, and
// describe every answer the handler gives, with stand-ins for the stores,
// to callers without credentials, a reporter, a viewer and an admin.
// cmd/truceline/app holds the answers of a real server to it.

func init() {
	// Pages, CAP messages and feeds are described as strings.
	for _, mt := range []string{"text/html", "application/cap+xml", "application/atom+xml"} {
		openapi3filter.RegisterBodyDecoder(mt, openapi3filter.PlainBodyDecoder)
	}
}

// loadOpenAPI loads and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDocument)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// operations calls fn for every operation of the document, with its route
// pattern ("GET /api/v1/alerts/{id}").
func operations(doc *openapi3.T, fn func(pattern string, o *openapi3.Operation)) {
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, o := range doc.Paths.Value(path).Operations() {
			fn(method+" "+path, o)
		}
	}
}

func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.0.3" || doc.Info.Title != "truceline" || doc.Info.Version != APIVersion {
		t.Errorf("openapi %q, title %q, version %q; want 3.0.3, truceline, %s (APIVersion)", doc.OpenAPI, doc.Info.Title, doc.Info.Version, APIVersion)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want the relative /", doc.Servers)
	}
	for name, want := range map[string][3]string{
		"bearerToken":   {"http", "", ""},
		"sessionCookie": {"apiKey", "cookie", auth.CookieName},
		"csrfToken":     {"apiKey", "header", auth.CSRFHeader},
	} {
		s := doc.Components.SecuritySchemes[name]
		if s == nil || s.Value.Type != want[0] || s.Value.In != want[1] || s.Value.Name != want[2] {
			t.Errorf("security scheme %s is %+v, want type %s in %q named %q", name, s, want[0], want[1], want[2])
		}
	}
	ids := map[string]string{}
	operations(doc, func(pattern string, o *openapi3.Operation) {
		if other, ok := ids[o.OperationID]; ok || o.OperationID == "" {
			t.Errorf("%s: operationId %q is empty or used by %s too", pattern, o.OperationID, other)
		}
		ids[o.OperationID] = pattern
		access, _ := o.Extensions["x-truceline-access"].(string)
		if !slices.Contains([]string{"anyone", "signedIn", "readsConfig", "adminOnly"}, access) {
			t.Errorf("%s: x-truceline-access %q is not anyone, signedIn, readsConfig or adminOnly", pattern, access)
		}
		security := doc.Security
		if o.Security != nil {
			security = *o.Security
		}
		change := !strings.HasPrefix(pattern, "GET ")
		switch {
		case access == "anyone" && len(security) != 0:
			t.Errorf("%s is public but asks for %v", pattern, security)
		case access != "anyone" && !slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool { return len(r) == 1 && r["bearerToken"] != nil }):
			t.Errorf("%s does not take a bearer token: %v", pattern, security)
		case access != "anyone" && !slices.ContainsFunc(security, func(r openapi3.SecurityRequirement) bool {
			_, csrf := r["csrfToken"]
			return r["sessionCookie"] != nil && csrf == change
		}):
			t.Errorf("%s: the session cookie must come with the CSRF token exactly on changes: %v", pattern, security)
		}
		success := false
		for code := range o.Responses.Map() {
			success = success || code == "101" || strings.HasPrefix(code, "2")
		}
		if !success {
			t.Errorf("%s documents no success", pattern)
		}
		if access != "anyone" && o.Responses.Status(http.StatusUnauthorized) == nil {
			t.Errorf("%s needs credentials but documents no 401", pattern)
		}
		if (access == "readsConfig" || access == "adminOnly") && o.Responses.Status(http.StatusForbidden) == nil {
			t.Errorf("%s is for some roles only but documents no 403", pattern)
		}
	})
}

// TestOpenAPIRoutes: every route the handler serves (but the board's
// files) is documented, and every documented operation is a route.
func TestOpenAPIRoutes(t *testing.T) {
	t.Parallel()
	documented, err := DocumentedOperations()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newFakeHandler(t)
	routes := h.Routes()
	for _, r := range routes {
		if !slices.Contains(documented, r) {
			t.Errorf("route %q is not in web/openapi.json", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(routes, d) {
			t.Errorf("web/openapi.json documents %q, which the handler does not serve", d)
		}
	}
	if len(documented) < 60 {
		t.Errorf("only %d operations documented", len(documented))
	}
}

// TestOpenAPIAnswers sends every documented operation, without credentials
// and as a reporter, a viewer and an admin, to a handler over stand-in
// stores: the access the document states must hold, and every answer must
// be one the document describes (status, content type and body).
func TestOpenAPIAnswers(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	openapitest.CloseObjects(doc)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	h, f := newFakeHandler(t)
	callers := []struct{ role, token string }{{"", ""}}
	for _, role := range []alerting.Role{alerting.RoleReporter, alerting.RoleViewer, alerting.RoleAdmin} {
		callers = append(callers, struct{ role, token string }{string(role), f.addUser(t, role)})
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	operations(doc, func(pattern string, o *openapi3.Operation) {
		method, path, _ := strings.Cut(pattern, " ")
		access := o.Extensions["x-truceline-access"].(string)
		for _, c := range callers {
			req := httptest.NewRequest(method, param.ReplaceAllString(path, "x"), nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			resp := rec.Result()
			who := "without credentials"
			if c.role != "" {
				who = "as role " + c.role
			}
			body, _ := io.ReadAll(resp.Body)
			var e errorBody
			_ = json.Unmarshal(body, &e)
			guarded := resp.StatusCode == http.StatusForbidden && strings.HasSuffix(e.Error.Message, " may not do this")
			switch {
			case c.role == "" && access != "anyone" && resp.StatusCode != http.StatusUnauthorized:
				t.Errorf("%s %s: %d, want 401 (access %s)", pattern, who, resp.StatusCode, access)
			case c.role == "" && access == "anyone" && resp.StatusCode == http.StatusUnauthorized:
				t.Errorf("%s %s: 401, but the document says anyone may call it", pattern, who)
			case c.role != "" && resp.StatusCode == http.StatusUnauthorized:
				t.Errorf("%s %s: 401: %s", pattern, who, body)
			case c.role != "" && guarded != mayNot(access, alerting.Role(c.role)):
				t.Errorf("%s %s: %d %s, but the document says access %s", pattern, who, resp.StatusCode, body, access)
			}
			validateAnswer(t, router, req, resp, body, pattern+" "+who)
		}
	})
}

// mayNot reports whether the route's access check refuses role.
func mayNot(access string, role alerting.Role) bool {
	switch access {
	case "readsConfig":
		return role == alerting.RoleReporter || role == alerting.RoleLiaison
	case "adminOnly":
		return role != alerting.RoleAdmin
	}
	return false
}

// validateAnswer checks one answer against the document.
func validateAnswer(t *testing.T, router routers.Router, req *http.Request, resp *http.Response, body []byte, what string) {
	t.Helper()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Errorf("%s: %s %s is no documented operation: %v", what, req.Method, req.URL.Path, err)
		return
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	opts.WithCustomSchemaErrorFunc(openapitest.SchemaProblem)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header, Options: opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: the answer %d %s does not match web/openapi.json: %v\nbody: %.600s", what, resp.StatusCode,
			resp.Header.Get("Content-Type"), err, body)
	}
}

// fake stands in for every store the handler needs: it knows some users
// and tokens, no alerts, reports or audit log, and an empty configuration.
type fake struct {
	users  map[string]*alerting.User
	tokens map[string]*alerting.Token
}

func newFakeHandler(t *testing.T) (*Handler, *fake) {
	t.Helper()
	f := &fake{users: map[string]*alerting.User{}, tokens: map[string]*alerting.Token{}}
	authn, err := auth.New(auth.Options{Store: f})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHandler(Options{Intake: f, Reports: f, Alerts: f, Actions: f, Catalog: f, Config: f, Gateway: f, Auth: authn, Users: f, RuleFaults: f, Parked: f})
	if err != nil {
		t.Fatal(err)
	}
	return h, f
}

// addUser makes a user with the role and returns an API token of it.
func (f *fake) addUser(t *testing.T, role alerting.Role) string {
	t.Helper()
	name := "test-" + string(role)
	u := &alerting.User{Name: name, Role: role, CreatedAt: time.Now().UTC()}
	if role == alerting.RoleReporter {
		u.Zones = []string{"nowhere"}
	}
	f.users[name] = u
	tok, secret, err := auth.NewToken(name, "test", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.tokens[tok.ID] = tok
	return secret
}

func notFound(what string) error { return alerting.Errorf(alerting.ENOTFOUND, "%s not found", what) }

func (f *fake) Admit([]byte, alerting.Arrival) (alerting.Report, error) {
	return alerting.Report{}, &alerting.Error{Code: alerting.EINVALID, Message: "report is invalid",
		Fields: []alerting.FieldProblem{{Field: "zone", Problem: "is required"}}}
}

func (f *fake) PublishReport(ctx context.Context, r *alerting.Report) (bool, error) {
	return false, nil
}

func (f *fake) Alert(ctx context.Context, id string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Alerts(ctx context.Context, _ alerting.AlertFilter) ([]*alerting.Alert, error) {
	return []*alerting.Alert{}, nil
}

func (f *fake) AlertReports(ctx context.Context, id string, offset, limit int) ([]string, int, error) {
	return nil, 0, notFound("alert " + id)
}

func (f *fake) Report(ctx context.Context, id string) (*alerting.StoredReport, error) {
	return nil, notFound("report " + id)
}

func (f *fake) ZoneReports(ctx context.Context, zone string, from, to time.Time, limit int) ([]*alerting.StoredReport, bool, error) {
	return nil, false, nil
}

func (f *fake) Acknowledge(ctx context.Context, id string, _ alerting.Actor, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Resolve(ctx context.Context, id string, _ alerting.Actor, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Verify(ctx context.Context, id string, _ alerting.Actor, _ alerting.Verification, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Attribute(ctx context.Context, id string, _ alerting.Actor, _ string, _ alerting.AttributionStatus, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Comment(ctx context.Context, id string, _ alerting.Actor, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Snooze(ctx context.Context, id string, _ alerting.Actor, _ time.Time, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) AskInfo(ctx context.Context, id string, _ alerting.Actor, _ alerting.InfoQuestion) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) AnswerInfo(ctx context.Context, id string, _ alerting.Actor, _, _ string, _ []string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) WithdrawInfo(ctx context.Context, id string, _ alerting.Actor, _, _ string) (*alerting.Alert, error) {
	return nil, notFound("alert " + id)
}

func (f *fake) Catalog() *alerting.Catalog { return alerting.MustCatalog(1, alerting.Config{}) }

func (f *fake) LoadConfig(ctx context.Context) (alerting.Config, int64, error) {
	return alerting.Config{}, 1, nil
}

func (f *fake) ApplyConfig(ctx context.Context, cfg alerting.Config, dryRun bool) (int64, []alerting.Problem, error) {
	return 2, nil, nil
}

func (f *fake) DeleteConfig(ctx context.Context, kind, id string) (int64, []alerting.Problem, error) {
	return 0, nil, notFound(kind + "/" + id)
}

// ServeViewer answers like the gateway does a request that is no
// WebSocket upgrade.
func (f *fake) ServeViewer(w http.ResponseWriter, r *http.Request, _ func(zone string) bool, _ func(context.Context) (func(string) bool, error)) {
	http.Error(w, `WebSocket subprotocol "truceline.v1" is required`, http.StatusBadRequest)
}

func (f *fake) Recheck() {}

func (f *fake) User(ctx context.Context, name string) (*alerting.User, error) {
	if u, ok := f.users[name]; ok {
		return u, nil
	}
	return nil, notFound("user " + name)
}

func (f *fake) Users(ctx context.Context) ([]*alerting.User, error) {
	out := []*alerting.User{}
	for _, u := range f.users {
		out = append(out, u)
	}
	return out, nil
}

func (f *fake) PutUser(ctx context.Context, u *alerting.User, create bool) error { return nil }

func (f *fake) DeleteUser(ctx context.Context, name string, now time.Time) error { return nil }

func (f *fake) CountAdmins(ctx context.Context) (int, error) { return 1, nil }

func (f *fake) PutToken(ctx context.Context, t *alerting.Token) error { return nil }

func (f *fake) Token(ctx context.Context, id string) (*alerting.Token, error) {
	if t, ok := f.tokens[id]; ok {
		c := *t
		return &c, nil
	}
	return nil, notFound("token " + id)
}

func (f *fake) UserTokens(ctx context.Context, user string) ([]*alerting.Token, error) {
	out := []*alerting.Token{}
	for _, t := range f.tokens {
		if t.User == user {
			c := *t
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fake) RevokeToken(ctx context.Context, id string, now time.Time) error { return nil }

func (f *fake) PutSession(ctx context.Context, hash string, s *alerting.Session) error { return nil }

func (f *fake) Session(ctx context.Context, hash string) (*alerting.Session, error) {
	return nil, notFound("session")
}

func (f *fake) DeleteSession(ctx context.Context, hash string) error { return nil }

// TestOpenAPIServed: the document is public, JSON, and the embedded file.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	h, _ := newFakeHandler(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/openapi.json", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /api/v1/openapi.json without credentials: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec.Body.String() != string(OpenAPI()) {
		t.Error("GET /api/v1/openapi.json does not serve web/openapi.json")
	}
}

func (f *fake) RuleFaults(context.Context) ([]alerting.RuleFault, error) { return nil, nil }

func (f *fake) ClearRuleFault(context.Context, string) (bool, error) { return false, nil }

func (f *fake) Parked(context.Context) ([]alerting.ParkedReport, error) { return nil, nil }

func (f *fake) ReplayParked(_ context.Context, seq uint64) (string, error) {
	return "", alerting.Errorf(alerting.ENOTFOUND, "no parked report %d", seq)
}
