package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// testServer is a server a test started, and its demo admin's token,
// which trucectl gives every command for that server that names no
// --token: the tests run in parallel, so none may set TRUCECTL_TOKEN.
type testServer struct {
	app        *app.App
	adminToken string
}

// servers maps a test server's address to it.
var servers sync.Map // string → testServer

func serverAt(t *testing.T, server string) testServer {
	t.Helper()
	s, ok := servers.Load(server)
	if !ok {
		t.Fatalf("no test server at %s", server)
	}
	return s.(testServer)
}

// tokenOf is an API token of one of the demo's users.
func tokenOf(t *testing.T, server, user string) string {
	t.Helper()
	tok, err := serverAt(t, server).app.IssueToken(context.Background(), user, "trucectl tests")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func startServer(t *testing.T) (server, natsURL string) {
	t.Helper()
	server, natsURL, _ = startServerAndRedis(t)
	return server, natsURL
}

// startServerAndRedis is startServer that also gives its Redis's URL.
func startServerAndRedis(t *testing.T) (server, natsURL, redisURL string) {
	t.Helper()
	return startServerWith(t, func(*app.Config) {})
}

// startServerWith is startServerAndRedis with the configuration changed
// by change.
func startServerWith(t *testing.T, change func(*app.Config)) (server, natsURL, redisURL string) {
	t.Helper()
	n := natstest.Start(t)
	cfg := app.DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr = t.TempDir(), "127.0.0.1:0"
	cfg.NATSURL, cfg.RedisURL = n.URL(), redistest.Start(t).URL()
	cfg.Demo, cfg.DemoRate = true, 0
	cfg.PasswordCost = 4 // bcrypt's least: sign-ins at 12 take seconds under the race detector
	change(&cfg)
	a, err := app.Start(context.Background(), cfg, alertingtest.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	tok, err := a.IssueToken(context.Background(), "admin", "trucectl tests") // the demo's admin
	if err != nil {
		t.Fatal(err)
	}
	servers.Store("http://"+a.HTTPAddr(), testServer{app: a, adminToken: tok})
	return "http://" + a.HTTPAddr(), n.URL(), cfg.RedisURL
}

// trucectl runs the CLI and returns its exit code and output.
func trucectl(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if i := slices.Index(args, "--server"); i >= 0 && i+1 < len(args) && !slices.Contains(args, "--token") {
		if s, ok := servers.Load(args[i+1]); ok {
			args = append([]string{"--token", s.(testServer).adminToken}, args...)
		}
	}
	code := run(append([]string{"trucectl"}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestReportListAckResolve(t *testing.T) {
	t.Parallel()
	server, natsURL := startServer(t)
	g := []string{"--server", server, "--nats", natsURL}
	if code, out, errOut := trucectl(t, "", append(g, "report", "--id", "cli-1", "--zone", "aleppo", "--category", "shelling", "--reported-by", "OP 3", "--count", "4")...); code != 0 || !strings.HasPrefix(out, "cli-1~") {
		t.Fatalf("report over HTTP: exit %d, %q %q", code, out, errOut)
	}
	stdin := `{"id":"cli-2","zone":"aleppo","category":"shelling","observed_at":"` + time.Now().UTC().Format(time.RFC3339) + `","reported_by":"OP 3"}`
	if code, out, errOut := trucectl(t, stdin, append(g, "report", "--via", "nats", "-f", "-")...); code != 0 || strings.TrimSpace(out) != "cli-2" {
		t.Fatalf("report over NATS: exit %d, %q %q", code, out, errOut)
	}
	var list struct {
		Alerts []struct {
			ID          string `json:"id"`
			ReportCount int    `json:"report_count"`
		} `json:"alerts"`
	}
	alertingtest.Eventually(t, 10*time.Second, "one alert with both reports", func() bool {
		code, out, _ := trucectl(t, "", append(g, "--output", "json", "alerts", "list", "--zone", "aleppo")...)
		return code == 0 && json.Unmarshal([]byte(out), &list) == nil && len(list.Alerts) == 1 && list.Alerts[0].ReportCount == 2
	})
	id := list.Alerts[0].ID
	// The demo's policies need both co-chairs' acknowledgement.
	// Each party's duty officer acknowledges for it.
	asA := append([]string{"--token", tokenOf(t, server, "duty-a")}, g...)
	asB := append([]string{"--token", tokenOf(t, server, "duty-b")}, g...)
	if code, out, _ := trucectl(t, "", append(asA, "alerts", "ack", id, "--party", "party-a")...); code != 0 || !strings.Contains(out, "still waiting for party-b") {
		t.Errorf("first ack: exit %d, %q", code, out)
	}
	if code, _, errOut := trucectl(t, "", append(asA, "alerts", "ack", id, "--party", "party-b")...); code != 1 || !strings.Contains(errOut, "403 forbidden") {
		t.Errorf("acknowledging for another party: exit %d, %q", code, errOut)
	}
	if code, out, _ := trucectl(t, "", append(asB, "alerts", "ack", id)...); code != 0 || !strings.Contains(out, "is now acknowledged") {
		t.Errorf("joint ack: exit %d, %q", code, out)
	}
	if code, out, errOut := trucectl(t, "", append(asB, "alerts", "verify", id, "--status", "disputed", "--note", "cannot confirm")...); code != 0 || !strings.Contains(out, "is disputed") {
		t.Errorf("verify: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := trucectl(t, "", append(g, "alerts", "verify", id, "--status", "sure")...); code != 1 || !strings.Contains(errOut, "status:") || !strings.Contains(errOut, "party:") {
		t.Errorf("a bad verification: exit %d, %q", code, errOut)
	}
	if code, out, _ := trucectl(t, "", append(g, "alerts", "resolve", id)...); code != 0 || !strings.Contains(out, "resolved") {
		t.Errorf("resolve: exit %d, %q", code, out)
	}
	if code, _, errOut := trucectl(t, "", append(g, "alerts", "resolve", id)...); code != 1 || !strings.Contains(errOut, "409 conflict") {
		t.Errorf("resolving twice: exit %d, %q; want 1 and the server's reason", code, errOut)
	}
	code, _, errOut := trucectl(t, "", append(g, "report", "--zone", "atlantis", "--category", "rumour", "--reported-by", "x")...)
	if code != 1 || !strings.Contains(errOut, "zone: unknown zone") || !strings.Contains(errOut, "category: unknown category") {
		t.Errorf("a bad report: exit %d, %q; want 1 and every problem", code, errOut)
	}
}

// TestReportObservedFire: the flags of observed fire make the report's
// fields, which the server judges.
func TestReportObservedFire(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server}
	base := append(g, "report", "--zone", "aleppo", "--category", "shelling", "--reported-by", "OP 3")
	until := time.Now().UTC().Add(time.Minute).Format(time.RFC3339) // after observed_at (now), within the 5 minutes allowed
	code, out, errOut := trucectl(t, "", append(base, "--id", "fire-1", "--weapon", "MLRS", "--weapon-calibre", "122mm", "--impacts", "40",
		"--observed-until", until, "--observer-lat", "36.25", "--observer-lon", "37.05", "--direction", "45", "--distance", "3000-5000")...)
	if code != 0 {
		t.Fatalf("report observed fire: exit %d, %q %q", code, out, errOut)
	}
	var stored alerting.StoredReport
	token := tokenOf(t, server, "admin")
	alertingtest.Eventually(t, 10*time.Second, "the report stored", func() bool {
		req, _ := http.NewRequest("GET", server+"/api/v1/reports/"+strings.TrimSpace(out), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&stored) == nil
	})
	if stored.Impacts == nil || *stored.Impacts != 40 || stored.WeaponCalibre != "122mm" ||
		stored.Observer == nil || stored.Observer.Lat != 36.25 || stored.DirectionDeg == nil || *stored.DirectionDeg != 45 ||
		stored.DistanceM == nil || *stored.DistanceM != (alerting.DistanceRange{Min: 3000, Max: 5000}) || stored.ObservedUntil == nil {
		t.Errorf("stored %+v", stored)
	}
	code, _, errOut = trucectl(t, "", append(base, "--direction", "400", "--distance", "5000-3000", "--impacts", "-1", "--observer-lat", "95", "--observer-lon", "1")...)
	for _, want := range []string{"direction_deg: must be between 0 and 360", "distance_m: min must not be more than max", "impacts: must be between 0", "observer.lat: must be between -90 and 90"} {
		if code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("a bad observation: exit %d, %q; want 1 and %q", code, errOut, want)
		}
	}
	if code, _, errOut := trucectl(t, "", append(base, "--distance", "far")...); code != 2 || !strings.Contains(errOut, "--distance") {
		t.Errorf("--distance far: exit %d, %q; want 2", code, errOut)
	}
	if code, _, _ := trucectl(t, "", append(base, "--observer-lat", "36")...); code != 2 {
		t.Errorf("--observer-lat alone: exit %d, want 2", code)
	}
}

func TestUsageErrorsExitWith2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"report"}, {"alerts", "ack"}, {"--output", "xml", "alerts", "list"}, {"report", "--via", "pigeon", "-f", "x"}} {
		if code, _, _ := trucectl(t, "", args...); code != 2 {
			t.Errorf("trucectl %v: exit %d, want 2", args, code)
		}
	}
}

func TestApplyGetDelete(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server}
	code, out, errOut := trucectl(t, "", append(g, "apply", "-f", "../../configs/demo")...)
	if code != 0 || !strings.Contains(out, "7 rules") || !strings.Contains(out, "6 zones") || errOut != "" {
		t.Fatalf("apply the demo: exit %d, %q %q (want no warning)", code, out, errOut)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a-policies.yaml", "policies:\n  - id: quick\n    steps: [{after: 0s, notify: [board]}]\n")
	write("b-rules.yaml", "rules:\n  - id: fine\n    policy: quick\n  - id: broken\n    zones: [atlantis]\n    policy: slow\n    condition: report.count >\n")
	code, _, errOut = trucectl(t, "", append(g, "apply", "-f", dir, "--dry-run")...)
	for _, want := range []string{"b-rules.yaml:5:13: unknown zone \"atlantis\"", "b-rules.yaml:6:13: unknown policy \"slow\"", "b-rules.yaml:7:", "condition does not compile", "3 problem(s); nothing was stored"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("apply --dry-run output lacks %q:\n%s", want, errOut)
		}
	}
	if code != 1 {
		t.Errorf("apply of a bad file: exit %d, want 1", code)
	}
	// A condition that reads the regime without guarding against none
	// is applied, with a warning pointing at the read.
	write("b-rules.yaml", "rules:\n  - id: fine\n    policy: quick\n    condition: report.count > 1 && regime.kind != \"regime_of_silence\"\n")
	code, out, errOut = trucectl(t, "", append(g, "apply", "-f", dir)...)
	if code != 0 || !strings.Contains(out, "1 policies, 1 rules") {
		t.Fatalf("apply: exit %d, %q %q", code, out, errOut)
	}
	if want := "b-rules.yaml:4:36: warning: reads regime.kind, but regime is nil when no regime is in force"; !strings.Contains(errOut, want) {
		t.Errorf("apply of an unguarded regime read: stderr %q, want %q", errOut, want)
	}
	write("b-rules.yaml", "rules:\n  - id: fine\n    policy: quick\n")
	if code, out, errOut := trucectl(t, "", append(g, "apply", "-f", dir)...); code != 0 || !strings.Contains(out, "1 policies, 1 rules") || errOut != "" {
		t.Fatalf("apply: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := trucectl(t, "", append(g, "get", "rules")...); code != 0 || !strings.Contains(out, "fine") || !strings.Contains(out, "aleppo-ceasefire") {
		t.Errorf("get rules: exit %d, %q", code, out)
	}
	if code, _, errOut := trucectl(t, "", append(g, "delete", "policies", "quick")...); code != 1 || !strings.Contains(errOut, "409") {
		t.Errorf("delete a policy in use: exit %d, %q", code, errOut)
	}
	if code, out, _ := trucectl(t, "", append(g, "delete", "rules", "fine")...); code != 0 || !strings.Contains(out, "deleted rules fine") {
		t.Errorf("delete rule: exit %d, %q", code, out)
	}
}

func TestOnCall(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		// A Wednesday: the weekday analyst's layer is on top in office hours…
		{[]string{"oncall", "duty-officers", "--at", "2026-11-25T10:00:00Z"}, []string{"analyst-sami", "weekday analyst"}},
		// …and the daily rotation in the evening (Geneva time).
		{[]string{"oncall", "duty-officers", "--at", "2026-11-25T20:00:00Z"}, []string{"officer-amara", "daily rotation", "2026-11-25 07:00Z", "2026-11-26 07:00Z"}},
		// The night desk is empty by day: the policy's fallback is notified.
		{[]string{"oncall", "night-desk", "--at", "2026-11-25T12:00:00Z"}, []string{"NOBODY"}},
		{[]string{"oncall", "--at", "2026-11-25T23:30:00Z"}, []string{"duty-officers", "night-desk", "officer-"}},
	} {
		code, out, errOut := trucectl(t, "", append(g, tc.args...)...)
		if code != 0 {
			t.Errorf("%v: exit %d: %s", tc.args, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
	if code, _, errOut := trucectl(t, "", append(g, "oncall", "no-such-schedule")...); code != 1 || !strings.Contains(errOut, "no schedule") {
		t.Errorf("unknown schedule: exit %d, %q", code, errOut)
	}
	if code, _, _ := trucectl(t, "", append(g, "oncall", "duty-officers", "--at", "tomorrow")...); code != 2 {
		t.Errorf("a bad --at: exit %d, want 2", code)
	}
}

func TestSecretsNeverShowAndSurviveARoundTrip(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server}
	code, secret, _ := trucectl(t, "", "secret")
	if code != 0 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret: exit %d, %q", code, secret)
	}
	code, out, errOut := trucectl(t, "", append(g, "-o", "json", "get", "contacts")...)
	if code != 0 || strings.Contains(out, "whsec_") || !strings.Contains(out, "(redacted)") {
		t.Fatalf("get contacts: exit %d, %s %s", code, out, errOut)
	}
	// What get shows applies back unchanged: the stored secrets stay.
	file := filepath.Join(t.TempDir(), "contacts.json")
	if err := os.WriteFile(file, []byte(`{"contacts": `+out+`}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := trucectl(t, "", append(g, "apply", "-f", file)...); code != 0 {
		t.Fatalf("apply what get showed: exit %d: %s", code, errOut)
	}
}

// TestLoginUsersTokens signs in as the demo's admin, adds a liaison, makes
// and revokes a token, all through trucectl.
func TestLoginUsersTokens(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server}
	anon := append([]string{"--token", ""}, g...) // no token but what login prints
	code, out, errOut := trucectl(t, "demo-admin-password\n", append(anon, "login", "admin")...)
	if code != 0 || !strings.HasPrefix(out, "export TRUCECTL_TOKEN=tlt_") {
		t.Fatalf("login: exit %d, %q %q", code, out, errOut)
	}
	admin := append([]string{"--token", strings.TrimSpace(strings.TrimPrefix(out, "export TRUCECTL_TOKEN="))}, g...)
	if code, _, errOut := trucectl(t, "wrong\n", append(anon, "login", "admin")...); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("a wrong password: exit %d, %q", code, errOut)
	}
	code, out, errOut = trucectl(t, "", append(admin, "users", "add", "l-aleppo", "--role", "liaison", "--party", "party-a", "--zones", "aleppo")...)
	if code != 0 || !strings.Contains(out, "password (shown this once): ") {
		t.Fatalf("users add: exit %d, %q %q", code, out, errOut)
	}
	password := strings.TrimSpace(out[strings.Index(out, "once): ")+7:])
	if code, _, errOut := trucectl(t, "", append(admin, "users", "add", "bad", "--role", "liaison")...); code != 1 || !strings.Contains(errOut, "party:") || !strings.Contains(errOut, "zones:") {
		t.Errorf("an invalid user: exit %d, %q; want every problem", code, errOut)
	}
	code, out, _ = trucectl(t, password+"\n", append(anon, "login", "l-aleppo")...)
	if code != 0 {
		t.Fatalf("the new user's login: exit %d", code)
	}
	liaison := append([]string{"--token", strings.TrimSpace(strings.TrimPrefix(out, "export TRUCECTL_TOKEN="))}, g...)
	if code, out, _ := trucectl(t, "", append(liaison, "get", "zones")...); code != 0 || !strings.Contains(out, "aleppo") || strings.Contains(out, "idlib") {
		t.Errorf("the liaison's zones: exit %d, %q", code, out)
	}
	if code, _, errOut := trucectl(t, "", append(liaison, "users", "list")...); code != 1 || !strings.Contains(errOut, "403") {
		t.Errorf("a liaison listing users: exit %d, %q", code, errOut)
	}
	code, out, _ = trucectl(t, "", append(admin, "tokens", "create", "--name", "ingest", "--user", "l-aleppo")...)
	if code != 0 || !strings.HasPrefix(out, "tlt_") {
		t.Fatalf("tokens create: exit %d, %q", code, out)
	}
	ingest := strings.TrimSpace(out)
	// Made with the 12-hour login token, a token expires with it; made
	// signed in with a password, it lasts as asked.
	for _, c := range []struct {
		args   []string
		stdin  string
		parent bool
	}{
		{append(admin, "-o", "json", "tokens", "create", "--name", "child", "--user", "l-aleppo"), "", true},
		{append(g, "-o", "json", "tokens", "create", "--name", "lasting", "--user", "l-aleppo", "--sign-in", "admin"), "demo-admin-password\n", false},
	} {
		code, out, errOut := trucectl(t, c.stdin, c.args...)
		var made map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &made) != nil {
			t.Fatalf("tokens create %v: exit %d, %q %q", c.args, code, out, errOut)
		}
		if _, has := made["parent"]; has != c.parent || has != (made["expires_at"] != nil) {
			t.Errorf("tokens create %v: parent %v, expires_at %v; want a parent and an expiry: %v", c.args, made["parent"], made["expires_at"], c.parent)
		}
	}
	code, out, _ = trucectl(t, "", append(admin, "-o", "json", "tokens", "list", "--user", "l-aleppo")...)
	if code != 0 || strings.Contains(out, "tlt_") || !strings.Contains(out, `"ingest"`) {
		t.Errorf("tokens list: exit %d, %q", code, out)
	}
	id := ingest[4:16]
	if code, _, _ := trucectl(t, "", append(admin, "tokens", "revoke", id)...); code != 0 {
		t.Errorf("revoke: exit %d", code)
	}
	if code, _, errOut := trucectl(t, "", append([]string{"--token", ingest}, append(g, "alerts", "list")...)...); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("a revoked token: exit %d, %q", code, errOut)
	}
	if code, out, _ := trucectl(t, "", append(admin, "audit", "verify")...); code != 0 || !strings.Contains(out, "OK") {
		t.Errorf("audit verify: exit %d, %q", code, out)
	}
	if code, out, _ := trucectl(t, "", append(admin, "audit", "list", "--limit", "1000")...); code != 0 || !strings.Contains(out, "token.revoke") || !strings.Contains(out, "user.create") || !strings.Contains(out, "login") {
		t.Errorf("audit list lacks the changes: %q", out)
	}
	if strings.Contains(out, "login.failed") {
		t.Errorf("the wrong password was audited (refused sign-ins are only counted): %q", out)
	}
}

func TestCompletionAndHelp(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if code, out, errOut := trucectl(t, "", "completion", shell); code != 0 || !strings.Contains(out, "trucectl") {
			t.Errorf("completion %s: exit %d, %.80q %q", shell, code, out, errOut)
		}
	}
	code, out, _ := trucectl(t, "", "--help")
	for _, want := range []string{"Exit codes", "TRUCECTL_TOKEN", "oncall", "users", "tokens", "audit", "completion"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("--help lacks %q (exit %d)", want, code)
		}
	}
}

// TestEveryCommandSpeaksJSON runs each command with -o json: its standard
// output must be one JSON value, for scripts.
func TestEveryCommandSpeaksJSON(t *testing.T) {
	t.Parallel()
	server, _ := startServer(t)
	g := []string{"--server", server, "-o", "json"}
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(file, []byte("parties:\n  - {id: party-z, name: Co-chair Z, status: adherent}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ := trucectl(t, "", append(g, "report", "--zone", "daraa", "--category", "shelling", "--reported-by", "OP 1")...)
	var rep struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.ID == "" {
		t.Fatalf("report: exit %d, %q", code, out)
	}
	var alertID string
	alertingtest.Eventually(t, 10*time.Second, "the alert", func() bool {
		_, out, _ := trucectl(t, "", append(g, "alerts", "list", "--zone", "daraa")...)
		var l struct{ Alerts []struct{ ID string } }
		if json.Unmarshal([]byte(out), &l) == nil && len(l.Alerts) > 0 {
			alertID = l.Alerts[0].ID
		}
		return alertID != ""
	})
	dutyA := append([]string{"--token", tokenOf(t, server, "duty-a")}, g...)
	for _, args := range [][]string{
		append(g, "alerts", "show", alertID),
		append(dutyA, "alerts", "comment", alertID, "--note", "seen"),
		append(g, "get", "zones"),
		append(g, "get", "zones", "aleppo"),
		append(g, "apply", "-f", file),
		append(g, "delete", "parties", "party-z"),
		append(g, "oncall"),
		append(g, "oncall", "duty-officers"),
		append(g, "users", "list"),
		append(g, "users", "add", "json-user", "--role", "viewer"),
		append(g, "users", "set", "json-user", "--full-name", "J. User"),
		append(g, "tokens", "list"),
		append(g, "tokens", "create", "--name", "json"),
		append(g, "audit", "list"),
		append(g, "audit", "verify"),
		append(g, "users", "delete", "json-user"),
		{"-o", "json", "secret"},
	} {
		code, out, errOut := trucectl(t, "", args...)
		var v any
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Errorf("%v: exit %d, not one JSON value: %q %q", args[len(g)-2:], code, out, errOut)
		}
	}
}

// TestParkedListAndReplay: a report parked on rejected.parked is listed
// with its reason, and replayed onto its subject it becomes an alert.
func TestParkedListAndReplay(t *testing.T) {
	t.Parallel()
	server, natsURL := startServer(t)
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	m := nats.NewMsg(broker.ParkedSubject)
	m.Data = []byte(`{"id":"parked-1","zone":"daraa","category":"shelling","observed_at":"` + time.Now().UTC().Add(-time.Minute).Format(time.RFC3339) + `","reported_by":"OP 4"}`)
	m.Header.Set(broker.HeaderSubject, "violations.daraa.shelling")
	m.Header.Set(broker.HeaderError, "processing panicked: index out of range")
	m.Header.Set(broker.HeaderAttempts, "10")
	// Parked as liaison-b's report: the replay is liaison-b's report again.
	by := alerting.Submitter{Via: alerting.ViaHTTP, User: "liaison-b", Token: "0f3c9a2e71d4"}
	m.Header.Set(broker.HeaderSubmittedBy, by.HeaderValue())
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", server, "--nats", natsURL}
	code, out, errOut := trucectl(t, "", append(g, "-o", "json", "parked", "list")...)
	var list []struct {
		Seq     uint64
		Reason  string
		Subject string
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || !strings.Contains(list[0].Reason, "panicked") {
		t.Fatalf("parked list: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := trucectl(t, "", append(g, "parked", "replay", fmt.Sprint(list[0].Seq))...); code != 0 || !strings.Contains(out, "violations.daraa.shelling") {
		t.Fatalf("replay: exit %d, %q %q", code, out, errOut)
	}
	key := alerting.ReportKey(by, "daraa", "parked-1")
	alertingtest.Eventually(t, 10*time.Second, "the replayed report in an alert, as liaison-b's", func() bool {
		code, out, _ := trucectl(t, "", append(g, "-o", "json", "alerts", "list", "--zone", "daraa")...)
		return code == 0 && strings.Contains(out, `"`+key+`"`)
	})
	if code, _, errOut := trucectl(t, "", append(g, "parked", "replay", "999")...); code != 1 || !strings.Contains(errOut, "no parked report 999") {
		t.Errorf("an unknown seq: exit %d, %q", code, errOut)
	}
	if code, _, _ := trucectl(t, "", append(g, "parked", "replay", "x")...); code != 2 {
		t.Errorf("a bad seq: exit %d, want 2", code)
	}
}

// TestHeal: a zone's state deleted in place in Redis (as loading an older
// dataset in place would lose it) is healed from the streams by `trucectl
// heal`, which says which zones it healed.
func TestHeal(t *testing.T) {
	t.Parallel()
	server, natsURL, redisURL := startServerAndRedis(t)
	g := []string{"--server", server, "--nats", natsURL}
	for i := range 3 {
		if code, _, errOut := trucectl(t, "", append(g, "report", "--id", fmt.Sprintf("heal-%d", i), "--zone", "daraa", "--category", "shelling", "--reported-by", "OP 1")...); code != 0 {
			t.Fatalf("report: %s", errOut)
		}
	}
	count := func() int {
		code, out, _ := trucectl(t, "", append(g, "--output", "json", "alerts", "list", "--zone", "daraa")...)
		var list struct {
			Alerts []struct {
				ReportCount int `json:"report_count"`
			} `json:"alerts"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			return -1
		}
		n := 0
		for _, a := range list.Alerts {
			n += a.ReportCount
		}
		return n
	}
	alertingtest.Eventually(t, 10*time.Second, "the three reports counted", func() bool { return count() == 3 })
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "tl:zone:daraa:*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("the zone's keys: %v %v", keys, err)
	}
	alertKeys, _ := rdb.Keys(ctx, "tl:alert:*").Result()
	reportKeys, _ := rdb.Keys(ctx, "tl:report:heal-*").Result()
	if err := rdb.Del(ctx, append(append(keys, alertKeys...), reportKeys...)...).Err(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d reports counted after the zone's state was deleted, want 0", n)
	}
	code, out, errOut := trucectl(t, "", append(g, "heal")...)
	if code != 0 || !strings.Contains(out, "healed: daraa") {
		t.Fatalf("trucectl heal: exit %d, %q %q", code, out, errOut)
	}
	if n := count(); n != 3 {
		t.Errorf("%d reports counted after trucectl heal, want 3", n)
	}
}

// TestTailSaysWhenTheServerFallsSilent: alerts tail hears the server's
// heartbeats; when they stop (every byte held, as by a stopped process),
// it says the connection is stale and connects again, and goes on once the
// server speaks; what the server says of its own trouble is printed when
// it changes.
func TestTailSaysWhenTheServerFallsSilent(t *testing.T) {
	t.Parallel()
	server, _, _ := startServerWith(t, func(c *app.Config) { c.WSHeartbeat = 200 * time.Millisecond })
	fr := alertingtest.NewFreezer(t, strings.TrimPrefix(server, "http://"))
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &syncWriter{w: &bytes.Buffer{}}, &syncWriter{w: &bytes.Buffer{}}
	done := make(chan error, 1)
	token := serverAt(t, server).adminToken
	go func() {
		done <- tail(ctx, "http://"+fr.Addr(), token, []string{"*"}, false, out, errOut)
	}()
	alertingtest.Eventually(t, 10*time.Second, "the snapshots", func() bool { return strings.Contains(written(out), "snapshot") })
	fr.Freeze()
	alertingtest.Eventually(t, 10*time.Second, "tail to say the server is silent", func() bool {
		return strings.Contains(written(errOut), "connection lost (stale: no word from the server for 1.4s); reconnecting")
	})
	fr.Thaw()
	if code, _, errText := trucectl(t, "", "--server", server, "report", "--id", "after-thaw", "--zone", "daraa", "--category", "shelling", "--reported-by", "OP 1"); code != 0 {
		t.Fatalf("report: %s", errText)
	}
	alertingtest.Eventually(t, 20*time.Second, "tail to follow again, with the new alert", func() bool {
		text := written(out) // in a snapshot of the new connection, or as a change on it
		return strings.Contains(text, "daraa            seq 1, 1 active alerts") || strings.Contains(text, "opened       daraa")
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail: %v", err)
	}
}

// written is what was written to w (a syncWriter over a bytes.Buffer).
func written(w *syncWriter) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.(*bytes.Buffer).String()
}

// Each test waits on its own truceline far more than it computes.
func TestMain(m *testing.M) { alertingtest.Run(m, 6) }
