package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/web/auth"
)

// call makes one request with a token ("" for none) and returns the status.
func call(t *testing.T, a *app.App, token, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+a.HTTPAddr()+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if token == "" {
		req.Header.Set("Authorization", "None") // keep the harness from adding its admin token
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestAuthorizationMatrix asks every role every endpoint, for a zone it
// covers and a zone it does not, and checks the exact status: a zone a
// caller may not see answers as if it did not exist.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	if err := a.ApplyConfig(context.Background(), alerting.Config{Parties: []alerting.Party{{ID: "party-c", Name: "Co-chair C", Status: alerting.PartyAdherent}}}); err != nil {
		t.Fatal(err)
	}
	roles := []string{"admin", "duty", "duty-a", "liaison-a", "viewer", "reporter", "anonymous"}
	tokens := map[string]string{
		"admin":     userToken(t, a, alerting.User{Name: "m-admin", Role: alerting.RoleAdmin}),
		"duty":      userToken(t, a, alerting.User{Name: "m-duty", Role: alerting.RoleDutyOfficer}),
		"duty-a":    userToken(t, a, alerting.User{Name: "m-duty-a", Role: alerting.RoleDutyOfficer, Party: "party-a"}),
		"liaison-a": userToken(t, a, alerting.User{Name: "m-liaison-a", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}}),
		"viewer":    userToken(t, a, alerting.User{Name: "m-viewer", Role: alerting.RoleViewer}),
		"reporter":  userToken(t, a, alerting.User{Name: "m-reporter", Role: alerting.RoleReporter, Zones: []string{"aleppo"}}),
		"anonymous": "",
	}
	_, ownReport := post(t, a, "/api/v1/reports", reportJSON("own-1", "aleppo", "shelling"))
	_, otherReport := post(t, a, "/api/v1/reports", reportJSON("other-1", "idlib", "shelling"))
	own, other := firstAlert(t, a, "aleppo").ID, firstAlert(t, a, "idlib").ID
	ownKey, otherKey := ownReport["id"].(string), otherReport["id"].(string)
	alertingtest.Eventually(t, 10*time.Second, "the reports stored", func() bool {
		s1, _ := get(t, a, "/api/v1/reports/"+ownKey)
		s2, _ := get(t, a, "/api/v1/reports/"+otherKey)
		return s1 == 200 && s2 == 200
	})

	type row struct {
		method, path, body string
		// want per role, in the order of roles
		want [7]int
	}
	zoneRows := func(method, pathFmt, body string, ownWant, otherWant [7]int, ownArg, otherArg string) []row {
		return []row{
			{method, fmt.Sprintf(pathFmt, ownArg), body, ownWant},
			{method, fmt.Sprintf(pathFmt, otherArg), body, otherWant},
		}
	}
	n := 0
	report := func(zone string) string {
		n++
		return fmt.Sprintf(`{"id":"m-%d","zone":%q,"category":"shelling","observed_at":%q,"reported_by":"test"}`, n, zone, time.Now().UTC().Add(-time.Minute).Format(time.RFC3339))
	}
	//                    admin duty duty-a liaison viewer reporter anon
	seeAll := [7]int{200, 200, 200, 200, 200, 404, 401}
	seeOwnOnly := [7]int{200, 200, 200, 404, 200, 404, 401}
	var rows []row
	rows = append(rows, zoneRows("GET", "/api/v1/alerts/%s", "", seeAll, seeOwnOnly, own, other)...)
	rows = append(rows, zoneRows("GET", "/api/v1/alerts/%s/reports", "", seeAll, seeOwnOnly, own, other)...)
	rows = append(rows, zoneRows("GET", "/api/v1/reports/%s", "", seeAll, seeOwnOnly, ownKey, otherKey)...)
	rows = append(rows, zoneRows("GET", "/api/v1/alerts?zone=%s", "",
		[7]int{200, 200, 200, 200, 200, 400, 401}, [7]int{200, 200, 200, 400, 200, 400, 401}, "aleppo", "idlib")...)
	rows = append(rows, zoneRows("POST", "/api/v1/alerts/%s/comment", `{"note":"seen"}`,
		[7]int{200, 200, 200, 200, 403, 404, 401}, [7]int{200, 200, 200, 404, 403, 404, 401}, own, other)...)
	// An attribution is a party's judgement: the admin and the duty officer
	// act for no party (400 naming party).
	rows = append(rows, zoneRows("POST", "/api/v1/alerts/%s/attribution", `{"alleged":"party-c","status":"undetermined","note":"no data"}`,
		[7]int{400, 400, 200, 200, 403, 404, 401}, [7]int{400, 400, 200, 404, 403, 404, 401}, own, other)...)
	rows = append(rows, zoneRows("GET", "/api/v1/zones/%s", "",
		[7]int{200, 200, 200, 200, 200, 200, 401}, [7]int{200, 200, 200, 404, 200, 404, 401}, "aleppo", "idlib")...)
	for _, zone := range []string{"aleppo", "idlib"} {
		want := [7]int{202, 202, 202, 202, 403, 202, 401}
		if zone == "idlib" {
			want = [7]int{202, 202, 202, 400, 403, 400, 401}
		}
		rows = append(rows, row{"POST", "/api/v1/reports", "report:" + zone, want})
	}
	readsConfig := [7]int{200, 200, 200, 403, 200, 403, 401}
	adminOnly := [7]int{200, 403, 403, 403, 403, 403, 401}
	rows = append(rows,
		row{"GET", "/api/v1/parties", "", [7]int{200, 200, 200, 200, 200, 200, 401}},
		row{"GET", "/api/v1/rules", "", readsConfig},
		row{"GET", "/api/v1/contacts", "", readsConfig},
		row{"GET", "/api/v1/oncall", "", readsConfig},
		row{"GET", "/metrics", "", readsConfig},
		row{"PUT", "/api/v1/parties/party-c", `{"name":"Co-chair C","status":"adherent"}`, adminOnly},
		row{"POST", "/api/v1/config?dry_run=true", `{}`, adminOnly},
		row{"GET", "/api/v1/users", "", adminOnly},
		row{"GET", "/api/v1/audit", "", adminOnly},
		row{"GET", "/api/v1/tokens", "", [7]int{200, 200, 200, 200, 200, 200, 401}},
		row{"GET", "/api/v1/session", "", [7]int{200, 200, 200, 200, 200, 200, 401}},
		row{"GET", "/healthz", "", [7]int{200, 200, 200, 200, 200, 200, 200}},
		row{"GET", "/readyz", "", [7]int{200, 200, 200, 200, 200, 200, 200}},
	)
	for _, rw := range rows {
		for i, role := range roles {
			body := rw.body
			if zone, ok := strings.CutPrefix(body, "report:"); ok {
				body = report(zone)
			}
			status, answer := call(t, a, tokens[role], rw.method, rw.path, body)
			if status != rw.want[i] {
				t.Errorf("%s %s as %s: %d, want %d: %s", rw.method, rw.path, role, status, rw.want[i], answer)
			}
			if status == 404 && strings.Contains(answer, "idlib") && role != "admin" && rw.path != "/api/v1/zones/idlib" {
				t.Errorf("%s %s as %s: the answer names the hidden zone: %s", rw.method, rw.path, role, answer)
			}
		}
	}
	// The hidden zone's 400 reads exactly like an unknown zone's.
	_, hidden := call(t, a, tokens["liaison-a"], "GET", "/api/v1/alerts?zone=idlib", "")
	_, unknown := call(t, a, tokens["liaison-a"], "GET", "/api/v1/alerts?zone=atlantis", "")
	if strings.ReplaceAll(hidden, "idlib", "X") != strings.ReplaceAll(unknown, "atlantis", "X") {
		t.Errorf("a hidden zone answers %s, an unknown one %s", hidden, unknown)
	}
	// A liaison's list holds its zones only.
	status, body := call(t, a, tokens["liaison-a"], "GET", "/api/v1/zones", "")
	if status != 200 || !strings.Contains(body, `"aleppo"`) || strings.Contains(body, "idlib") {
		t.Errorf("liaison's zones: %d %s", status, body)
	}
	status, body = call(t, a, tokens["liaison-a"], "GET", "/api/v1/alerts", "")
	if status != 200 || !strings.Contains(body, own) || strings.Contains(body, other) {
		t.Errorf("liaison's alerts: %d %s", status, body)
	}
}

// TestNobodyActsForAnotherParty: a liaison's or a seconded duty officer's
// actions carry their own party, and naming another party is refused.
func TestNobodyActsForAnotherParty(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	liaisonA := userToken(t, a, alerting.User{Name: "l-a", FullName: "Liaison A", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"*"}})
	duty := userToken(t, a, alerting.User{Name: "duty", Role: alerting.RoleDutyOfficer})
	post(t, a, "/api/v1/reports", reportJSON("p-1", "aleppo", "shelling"))
	id := firstAlert(t, a, "aleppo").ID
	for _, tc := range []struct {
		token, body string
		want        int
	}{
		{liaisonA, `{"party":"party-b"}`, 403},
		{duty, `{"party":"party-a"}`, 403},
		{liaisonA, `{"by":"someone else"}`, 200},
	} {
		if status, body := call(t, a, tc.token, "POST", "/api/v1/alerts/"+id+"/ack", tc.body); status != tc.want {
			t.Errorf("ack %s: %d %s, want %d", tc.body, status, body, tc.want)
		}
	}
	acks := firstAlert(t, a, "aleppo").Acks
	if len(acks) != 1 || acks[0].Party != "party-a" || acks[0].By != "Liaison A" {
		t.Errorf("acks %+v: want one by Liaison A for party-a, whatever the body claimed", acks)
	}
}

// TestWebSocketShowsOnlyVisibleZones: a liaison's subscription to every
// zone is its own zones, and a hidden zone is unknown.
func TestWebSocketShowsOnlyVisibleZones(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	tok := userToken(t, a, alerting.User{Name: "ws-liaison", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo"}})
	dialer := websocket.Dialer{Subprotocols: []string{"truceline.v1"}}
	if _, resp, err := dialer.Dial("ws://"+a.HTTPAddr()+"/ws", http.Header{"Authorization": {"Bearer nope"}}); err == nil || resp.StatusCode != 401 {
		t.Fatalf("a bad token opened the WebSocket: %v", err)
	}
	conn, _, err := dialer.Dial("ws://"+a.HTTPAddr()+"/ws", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "zones": []string{"*", "idlib", "atlantis"}}); err != nil {
		t.Fatal(err)
	}
	var zones []string
	errs := map[string]string{}
	errors := 0
	deadline := time.Now().Add(10 * time.Second)
	for errors < 2 || len(zones) < 1 {
		_ = conn.SetReadDeadline(deadline)
		var f struct{ Type, Zone, Code, Message string }
		if err := conn.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v (zones %v, errors %v)", err, zones, errs)
		}
		switch f.Type {
		case "snapshot":
			zones = append(zones, f.Zone)
		case "error":
			errors++
			errs[f.Code+" "+strings.ReplaceAll(strings.ReplaceAll(f.Message, "idlib", "X"), "atlantis", "X")] = f.Message
		}
	}
	if len(zones) != 1 || zones[0] != "aleppo" {
		t.Errorf("snapshots for %v, want aleppo only", zones)
	}
	if len(errs) != 1 {
		t.Errorf("errors %v: a hidden zone must read exactly like an unknown one", errs)
	}
}

// TestSessionsCSRFAndTokens signs in with a password: the cookie is
// HttpOnly and SameSite=Strict, a change without the CSRF token is refused,
// signing out ends the session; a revoked or expired token stops working.
func TestSessionsCSRFAndTokens(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ctx := context.Background()
	hash, err := auth.HashPasswordCost("correct horse battery", bcrypt.MinCost) // cost 12 takes seconds under the race detector
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Store.PutUser(ctx, &alerting.User{Name: "officer", Role: alerting.RoleDutyOfficer, PasswordHash: hash, CreatedAt: time.Now()}, true); err != nil {
		t.Fatal(err)
	}
	base := "http://" + a.HTTPAddr()
	plain := &http.Client{}
	signIn := func(password string) *http.Response {
		resp, err := plain.Post(base+"/api/v1/session", "application/json", strings.NewReader(`{"user":"officer","password":"`+password+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if resp := signIn("wrong password!!"); resp.StatusCode != 401 {
		t.Errorf("a wrong password: %d", resp.StatusCode)
	}
	resp := signIn("correct horse battery")
	session := decode(t, resp.Body)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			cookie = c
		}
	}
	if resp.StatusCode != 200 || cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || session["csrf"] == "" {
		t.Fatalf("sign-in: %d %v, cookie %+v", resp.StatusCode, session, cookie)
	}
	post(t, a, "/api/v1/reports", reportJSON("c-1", "aleppo", "shelling"))
	id := firstAlert(t, a, "aleppo").ID
	withCookie := func(method, path, csrf string) int {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(`{"note":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(cookie)
		if csrf != "" {
			req.Header.Set(auth.CSRFHeader, csrf)
		}
		resp, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := withCookie("GET", "/api/v1/alerts/"+id, ""); s != 200 {
		t.Errorf("a read with the cookie: %d", s)
	}
	if s := withCookie("POST", "/api/v1/alerts/"+id+"/comment", ""); s != 403 {
		t.Errorf("a change without the CSRF token: %d, want 403", s)
	}
	if s := withCookie("POST", "/api/v1/alerts/"+id+"/comment", "forged"); s != 403 {
		t.Errorf("a change with a wrong CSRF token: %d, want 403", s)
	}
	if s := withCookie("POST", "/api/v1/alerts/"+id+"/comment", session["csrf"].(string)); s != 200 {
		t.Errorf("a change with the CSRF token: %d, want 200", s)
	}
	if s := withCookie("DELETE", "/api/v1/session", session["csrf"].(string)); s != 204 {
		t.Errorf("sign out: %d", s)
	}
	if s := withCookie("GET", "/api/v1/alerts/"+id, ""); s != 401 {
		t.Errorf("after sign-out: %d, want 401", s)
	}

	// Tokens: created, shown once, revoked; and one that expires.
	officer := userToken(t, a, alerting.User{Name: "officer"})
	status, body := call(t, a, officer, "POST", "/api/v1/tokens", `{"name":"short","expires_in":"1s"}`)
	if status != 201 {
		t.Fatalf("create token: %d %s", status, body)
	}
	short := body[strings.Index(body, `"token":"`)+9:]
	short = short[:strings.Index(short, `"`)]
	if s, _ := call(t, a, short, "GET", "/api/v1/session", ""); s != 200 {
		t.Errorf("a fresh token: %d", s)
	}
	alertingtest.Eventually(t, 20*time.Second, "the token to expire", func() bool {
		s, _ := call(t, a, short, "GET", "/api/v1/session", "")
		return s == 401
	})
	id2, _, _ := auth.ParseToken(officer)
	if s, _ := call(t, a, officer, "DELETE", "/api/v1/tokens/"+id2, ""); s != 204 {
		t.Errorf("revoke: %d", s)
	}
	if s, _ := call(t, a, officer, "GET", "/api/v1/session", ""); s != 401 {
		t.Errorf("a revoked token: %d, want 401", s)
	}
	// The token list never shows secrets or hashes.
	_, list := call(t, a, tokensOf(a), "GET", "/api/v1/tokens?user=officer", "")
	if strings.Contains(list, `"hash"`) || strings.Contains(list, auth.TokenPrefix) {
		t.Errorf("token list shows secrets: %s", list)
	}
}

func tokensOf(a *app.App) string {
	tok, _ := tokens.Load(a.HTTPAddr())
	return tok.(string)
}

// TestRateLimits: sign-in attempts and reports beyond their rates get 429
// with Retry-After.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.RateLogins, cfg.RateReports = 6, 60 // bursts of 5 and 10
	// The limits' clock stands still: what they let through is their burst,
	// however long each request takes.
	stopped := time.Now()
	cfg.RateClock = func() time.Time { return stopped }
	a := start(t, cfg)
	codes := map[int]int{}
	for range 10 {
		s, _ := call(t, a, "", "POST", "/api/v1/session", `{"user":"nobody","password":"wrong password!!"}`)
		codes[s]++
	}
	if codes[401] != 5 || codes[429] != 5 {
		t.Errorf("sign-in attempts answered %v, want 5 × 401 then 5 × 429", codes)
	}
	codes = map[int]int{}
	var retryAfter string
	for i := range 30 {
		req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/reports", bytes.NewReader(reportJSON(fmt.Sprintf("rl-%d", i), "aleppo", "shelling")))
		req.Header.Set("Content-Type", "application/json")
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if codes[202] != 10 || codes[429] != 20 || retryAfter == "" {
		t.Errorf("30 reports answered %v (Retry-After %q), want 10 × 202 then 20 × 429", codes, retryAfter)
	}
}

// TestNoSecretInTheLogs runs sign-ins, tokens, users and a report with debug
// logging and checks that no password, token or hash reaches the log.
func TestNoSecretInTheLogs(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.SMTPHost, cfg.SMTPFrom, cfg.SMTPUsername, cfg.SMTPPassword = "127.0.0.1", "alerts@example.org", "mailer", "smtp-secret-password"
	cfg.SMTPPort, cfg.SMTPTLS = 2525, "none"
	cfg.AckLinkSecret = "ack-link-secret-of-32-characters-at-least"
	logs := &logBuffer{}
	a := startWithLogger(t, cfg, slogTo(logs))
	admin := tokensOf(a)
	secrets := []string{"smtp-secret-password", cfg.AckLinkSecret, admin, "a-users-password-123"}
	status, body := call(t, a, admin, "POST", "/api/v1/users", `{"name":"newbie","role":"viewer","password":"a-users-password-123"}`)
	if status != 201 || strings.Contains(body, "password") {
		t.Errorf("create user: %d %s", status, body)
	}
	call(t, a, "", "POST", "/api/v1/session", `{"user":"newbie","password":"a-users-password-123"}`)
	call(t, a, "", "POST", "/api/v1/session", `{"user":"newbie","password":"a-users-password-124"}`)
	_, tok := call(t, a, admin, "POST", "/api/v1/tokens", `{"name":"ci"}`)
	secrets = append(secrets, tok[strings.Index(tok, auth.TokenPrefix):strings.Index(tok, auth.TokenPrefix)+40])
	call(t, a, "tlt_000000000000_not-a-real-token-but-long-enough-to-parse", "GET", "/api/v1/alerts", "")
	post(t, a, "/api/v1/reports", reportJSON("log-1", "aleppo", "shelling"))
	firstAlert(t, a, "aleppo")
	u, _ := a.Store.User(context.Background(), "newbie")
	secrets = append(secrets, u.PasswordHash)
	text := logs.String()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("the log holds a secret (%.12s…)", s)
		}
	}
	if !strings.Contains(text, "password=set") {
		t.Errorf("the SMTP settings were not logged at all, so the test proves nothing")
	}
}

// slogTo is a debug logger writing text into logs.
func slogTo(logs *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
