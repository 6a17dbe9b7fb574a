package app_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/cmd/truceline/app"
	"github.com/truceline/truceline/web/auth"
)

// signInUser creates a user who signs in with a password.
func signInUser(t *testing.T, a *app.App, u alerting.User, password string) {
	t.Helper()
	hash, err := auth.HashPasswordCost(password, bcrypt.MinCost) // sign-in spends PasswordCost anyway
	if err != nil {
		t.Fatal(err)
	}
	u.PasswordHash, u.CreatedAt = hash, time.Now()
	if err := a.Store.PutUser(context.Background(), &u, true); err != nil {
		t.Fatal(err)
	}
}

// browser is a client of a that connects from a loopback address of its
// own, and keeps the session cookie it signs in with.
type browser struct {
	t      *testing.T
	a      *app.App
	client *http.Client
	cookie *http.Cookie
	csrf   string
}

func newBrowser(t *testing.T, a *app.App, from string) *browser {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &browser{t: t, a: a, client: &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}}
}

// do sends a request with the session cookie, if any, and returns the
// status.
func (b *browser) do(method, path, body string) int {
	b.t.Helper()
	req, _ := http.NewRequest(method, "http://"+b.a.HTTPAddr()+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if b.cookie != nil {
		req.AddCookie(b.cookie)
		req.Header.Set(auth.CSRFHeader, b.csrf)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if path == "/api/v1/session" && method == "POST" && resp.StatusCode == http.StatusOK {
		for _, c := range resp.Cookies() {
			if c.Name == auth.CookieName {
				b.cookie = c
			}
		}
		b.csrf, _ = decode(b.t, resp.Body)["csrf"].(string)
	}
	return resp.StatusCode
}

func (b *browser) signIn(user, password string) int {
	b.t.Helper()
	return b.do("POST", "/api/v1/session", `{"user":"`+user+`","password":"`+password+`"}`)
}

// TestASignInLockCannotBeTrippedFromElsewhere: failing to sign in as a
// user from one address does not lock the user out from another, and the
// refused attempts are counted, not written to the audit log.
func TestASignInLockCannotBeTrippedFromElsewhere(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.RateLogins = 0.06 // bursts of 5, then one every 1,000 s: however slow the machine, no refill within the test
	a := start(t, cfg)
	signInUser(t, a, alerting.User{Name: "officer", Role: alerting.RoleDutyOfficer}, "correct horse battery")

	attacker := newBrowser(t, a, "127.0.0.2")
	codes := map[int]int{}
	for range 7 {
		codes[attacker.signIn("officer", "wrong password!!")]++
	}
	if codes[http.StatusUnauthorized] != 5 || codes[http.StatusTooManyRequests] != 2 {
		t.Fatalf("failed sign-ins from one address answered %v, want five 401 then 429", codes)
	}
	if s := newBrowser(t, a, "127.0.0.1").signIn("officer", "correct horse battery"); s != http.StatusOK {
		t.Errorf("the user signing in from their own address after failures elsewhere: %d, want 200", s)
	}
	if s := attacker.signIn("officer", "correct horse battery"); s != http.StatusTooManyRequests {
		t.Errorf("the address that failed, signing in again at once: %d, want 429", s)
	}

	families := scrape(t, a)
	for outcome, want := range map[string]int{"refused": codes[http.StatusUnauthorized], "rate_limited": codes[http.StatusTooManyRequests] + 1, "accepted": 1} {
		if v, _ := sample(families, "truceline_sign_ins_total", "outcome", outcome); int(v) != want {
			t.Errorf("truceline_sign_ins_total{outcome=%q} = %v, want %d", outcome, v, want)
		}
	}
	entries, err := a.Store.AuditEntries(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Action, "login.") {
			t.Errorf("a refused sign-in was audited: %+v", e)
		}
	}
}

// TestANewPasswordEndsTheOtherSessions: an admin resetting a user's
// password ends the user's sessions; an admin setting their own ends
// their other sessions and keeps the one they did it from.
func TestANewPasswordEndsTheOtherSessions(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	signInUser(t, a, alerting.User{Name: "officer", Role: alerting.RoleDutyOfficer}, "correct horse battery")
	signInUser(t, a, alerting.User{Name: "chief", Role: alerting.RoleAdmin}, "chief's first password")

	desk, phone := newBrowser(t, a, "127.0.0.1"), newBrowser(t, a, "127.0.0.1")
	for _, b := range []*browser{desk, phone} {
		if s := b.signIn("officer", "correct horse battery"); s != http.StatusOK {
			t.Fatalf("sign-in: %d", s)
		}
	}
	chief, chiefsPhone := newBrowser(t, a, "127.0.0.1"), newBrowser(t, a, "127.0.0.1")
	for _, b := range []*browser{chief, chiefsPhone} {
		if s := b.signIn("chief", "chief's first password"); s != http.StatusOK {
			t.Fatalf("sign-in: %d", s)
		}
	}

	if s := chief.do("PUT", "/api/v1/users/officer", `{"name":"officer","role":"duty_officer","password":"a brand new password"}`); s != http.StatusOK {
		t.Fatalf("resetting the officer's password: %d", s)
	}
	for name, b := range map[string]*browser{"desk": desk, "phone": phone} {
		if s := b.do("GET", "/api/v1/session", ""); s != http.StatusUnauthorized {
			t.Errorf("the officer's %s session after the reset: %d, want 401", name, s)
		}
	}
	if s := desk.signIn("officer", "a brand new password"); s != http.StatusOK {
		t.Errorf("signing in with the new password: %d", s)
	}
	if s := desk.do("GET", "/api/v1/session", ""); s != http.StatusOK {
		t.Errorf("a session opened after the reset: %d, want 200", s)
	}

	if s := chief.do("PUT", "/api/v1/users/chief", `{"name":"chief","role":"admin","password":"chief's second password"}`); s != http.StatusOK {
		t.Fatalf("the chief setting their own password: %d", s)
	}
	if s := chief.do("GET", "/api/v1/session", ""); s != http.StatusOK {
		t.Errorf("the session the chief set their password from: %d, want 200", s)
	}
	if s := chiefsPhone.do("GET", "/api/v1/session", ""); s != http.StatusUnauthorized {
		t.Errorf("the chief's other session: %d, want 401", s)
	}
}

// TestATokenMadeWithATokenNeverOutlivesIt: a token made with a token that
// expires expires with it at the latest, and one made with a token that
// is revoked stops working with it.
func TestATokenMadeWithATokenNeverOutlivesIt(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	officer := userToken(t, a, alerting.User{Name: "officer", Role: alerting.RoleDutyOfficer})
	mint := func(with, body string) map[string]any {
		t.Helper()
		status, out := call(t, a, with, "POST", "/api/v1/tokens", body)
		if status != http.StatusCreated {
			t.Fatalf("POST /api/v1/tokens %s: %d %s", body, status, out)
		}
		return decode(t, strings.NewReader(out))
	}
	short := mint(officer, `{"name":"an hour","expires_in":"1h"}`)
	child := mint(short["token"].(string), `{"name":"for ever, it asks"}`)
	if child["expires_at"] != short["expires_at"] || child["parent"] != short["id"] {
		t.Errorf("a token made with a token expiring at %v: expires at %v, parent %v; want the same expiry and parent %v",
			short["expires_at"], child["expires_at"], child["parent"], short["id"])
	}
	grandchild := mint(child["token"].(string), `{"name":"and another"}`)
	for name, tok := range map[string]map[string]any{"child": child, "grandchild": grandchild} {
		if s, _ := call(t, a, tok["token"].(string), "GET", "/api/v1/session", ""); s != http.StatusOK {
			t.Fatalf("the %s before its parent is revoked: %d", name, s)
		}
	}
	if s, out := call(t, a, officer, "DELETE", "/api/v1/tokens/"+short["id"].(string), ""); s != http.StatusNoContent && s != http.StatusOK {
		t.Fatalf("revoking the parent: %d %s", s, out)
	}
	for name, tok := range map[string]map[string]any{"child": child, "grandchild": grandchild} {
		if s, _ := call(t, a, tok["token"].(string), "GET", "/api/v1/session", ""); s != http.StatusUnauthorized {
			t.Errorf("the %s after its parent was revoked: %d, want 401", name, s)
		}
	}
}

// TestAnOpenWebSocketFollowsItsCredentials: a connection is held to the
// credentials it was opened with. A liaison whose zones shrink stops
// following the zones taken away, told why; a revoked token closes the
// connection with 4401.
func TestAnOpenWebSocketFollowsItsCredentials(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	tok := userToken(t, a, alerting.User{Name: "liaison-x", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo", "idlib"}})
	dialer := websocket.Dialer{Subprotocols: []string{"truceline.v1"}}
	conn, _, err := dialer.Dial("ws://"+a.HTTPAddr()+"/ws", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "zones": []string{"aleppo", "idlib"}}); err != nil {
		t.Fatal(err)
	}
	// next reads frames until one matches, and returns the error that
	// ended the connection if it ends first.
	next := func(match func(frame) bool) error {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			var f frame
			if err := conn.ReadJSON(&f); err != nil {
				return err
			}
			if match(f) {
				return nil
			}
		}
	}
	snapshots := 0
	if err := next(func(f frame) bool {
		if f.Type == "snapshot" {
			snapshots++
		}
		return snapshots == 2
	}); err != nil {
		t.Fatalf("waiting for the snapshots: %v", err)
	}

	admin := tokensOf(a)
	if s, out := call(t, a, admin, "PUT", "/api/v1/users/liaison-x", `{"name":"liaison-x","role":"liaison","party":"party-a","zones":["aleppo"]}`); s != http.StatusOK {
		t.Fatalf("narrowing the liaison's zones: %d %s", s, out)
	}
	if err := next(func(f frame) bool { return f.Type == "error" && f.Code == "forbidden" }); err != nil {
		t.Fatalf("waiting to be told idlib was taken away: %v", err)
	}

	id, _, _ := auth.ParseToken(tok)
	if s, out := call(t, a, admin, "DELETE", "/api/v1/tokens/"+id, ""); s != http.StatusNoContent && s != http.StatusOK {
		t.Fatalf("revoking the token: %d %s", s, out)
	}
	err = next(func(frame) bool { return false })
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4401 {
		t.Fatalf("after the token was revoked the connection ended with %v, want close code 4401", err)
	}
}
