package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
)

// memStore is an in-memory Store: the Redis one is tested with the server.
type memStore struct {
	mu       sync.Mutex
	users    map[string]*alerting.User
	tokens   map[string]*alerting.Token
	sessions map[string]*alerting.Session
	down     bool
}

func newMemStore() *memStore {
	return &memStore{users: map[string]*alerting.User{}, tokens: map[string]*alerting.Token{}, sessions: map[string]*alerting.Session{}}
}

var errDown = &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "down"}

func (m *memStore) User(_ context.Context, name string) (*alerting.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
	}
	if u, ok := m.users[name]; ok {
		c := *u
		return &c, nil
	}
	return nil, alerting.Errorf(alerting.ENOTFOUND, "no user")
}

func (m *memStore) Token(_ context.Context, id string) (*alerting.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
	}
	if t, ok := m.tokens[id]; ok {
		c := *t
		return &c, nil
	}
	return nil, alerting.Errorf(alerting.ENOTFOUND, "no token")
}

func (m *memStore) PutSession(_ context.Context, hash string, s *alerting.Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[hash] = s
	return nil
}

func (m *memStore) Session(_ context.Context, hash string) (*alerting.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, errDown
	}
	return m.sessions[hash], nil
}

func (m *memStore) DeleteSession(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, hash)
	return nil
}

// fixture has a user "officer" with a password and a token.
func fixture(t testing.TB) (*auth.Authenticator, *memStore, string, *time.Time) {
	t.Helper()
	s := newMemStore()
	hash, err := auth.HashPasswordCost("correct horse battery", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s.users["officer"] = &alerting.User{Name: "officer", Role: alerting.RoleDutyOfficer, PasswordHash: hash}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	clock := &now
	tok, secret, err := auth.NewToken("officer", "test", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	s.tokens[tok.ID] = tok
	a, err := auth.New(auth.Options{Store: s, Now: func() time.Time { return *clock }, PasswordCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return a, s, secret, clock
}

func bearer(token string) *http.Request {
	r := httptest.NewRequest("GET", "/api/v1/alerts", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func TestTokensAndTheCache(t *testing.T) {
	t.Parallel()
	a, s, secret, clock := fixture(t)
	id, err := a.Authenticate(bearer(secret))
	if err != nil || id.Principal == nil || id.Principal.User != "officer" || id.Session != nil {
		t.Fatalf("a good token: %+v %v", id, err)
	}
	if _, err := a.Authenticate(bearer(secret[:len(secret)-1] + "x")); alerting.ErrorCode(err) != auth.EUNAUTHENTICATED {
		t.Errorf("a tampered token: %v", err)
	}
	// Revoked: refused once the cache is no longer fresh.
	tokID, _, _ := auth.ParseToken(secret)
	revoked := *clock
	s.tokens[tokID].RevokedAt = &revoked
	*clock = clock.Add(time.Minute)
	if _, err := a.Authenticate(bearer(secret)); alerting.ErrorCode(err) != auth.EUNAUTHENTICATED {
		t.Errorf("a revoked token: %v", err)
	}
	// Store down: a token seen recently keeps working, an unseen one not.
	s.tokens[tokID].RevokedAt = nil
	if _, err := a.Authenticate(bearer(secret)); err != nil {
		t.Fatal(err)
	}
	s.down = true
	*clock = clock.Add(5 * time.Minute)
	if id, err := a.Authenticate(bearer(secret)); err != nil || id.Principal == nil {
		t.Errorf("a recent token while the store is down: %v", err)
	}
	*clock = clock.Add(time.Hour)
	if _, err := a.Authenticate(bearer(secret)); alerting.ErrorCode(err) != alerting.EUNAVAILABLE {
		t.Errorf("an old token while the store is down: %v, want unavailable", err)
	}
}

// TestExpiredCredentialsStopAtOnce: a token made to expire, a token made
// with it, and a session stop working when they expire, even though the
// authenticator checked them a moment before (its cache is still fresh),
// and even while the store is unreachable (when it answers from what it
// remembers).
func TestExpiredCredentialsStopAtOnce(t *testing.T) {
	t.Parallel()
	a, s, _, clock := fixture(t)
	soon := clock.Add(time.Second)
	short, shortSecret, err := auth.NewToken("officer", "short", &soon, *clock)
	if err != nil {
		t.Fatal(err)
	}
	child, childSecret, err := auth.NewToken("officer", "child", nil, *clock)
	if err != nil {
		t.Fatal(err)
	}
	child.Parent = short.ID
	s.tokens[short.ID], s.tokens[child.ID] = short, child
	_, sid, _, err := a.Login(context.Background(), "officer", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	session := func() *http.Request {
		r := httptest.NewRequest("GET", "/api/v1/alerts", nil)
		r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: sid})
		return r
	}
	for what, r := range map[string]func() *http.Request{
		"the token":              func() *http.Request { return bearer(shortSecret) },
		"the token made with it": func() *http.Request { return bearer(childSecret) },
		"the session":            session,
	} {
		if id, err := a.Authenticate(r()); err != nil || id.Principal == nil {
			t.Fatalf("%s before it expires: %+v %v", what, id, err)
		}
	}
	*clock = clock.Add(1500 * time.Millisecond) // within the cache's freshness
	for what, token := range map[string]string{"the token": shortSecret, "the token made with it": childSecret} {
		if _, err := a.Authenticate(bearer(token)); alerting.ErrorCode(err) != auth.EUNAUTHENTICATED {
			t.Errorf("%s a moment after it expired: %v, want unauthenticated", what, err)
		}
	}
	// The session lasts 12 hours. Checked again a minute before it ends,
	// then the store goes down: the authenticator answers from what it
	// remembers until the session ends, not after.
	*clock = clock.Add(12*time.Hour - time.Minute)
	if _, err := a.Authenticate(session()); err != nil {
		t.Fatalf("the session before it ends: %v", err)
	}
	s.down = true
	*clock = clock.Add(30 * time.Second)
	if _, err := a.Authenticate(session()); err != nil {
		t.Errorf("the session before it ends, the store down: %v", err)
	}
	*clock = clock.Add(time.Minute)
	if id, err := a.Authenticate(session()); err == nil {
		t.Errorf("the session after it ended, the store down: it still works as %s", id.Principal.User)
	}
}

func TestLoginAndCSRF(t *testing.T) {
	t.Parallel()
	a, _, _, _ := fixture(t)
	if _, _, _, err := a.Login(context.Background(), "officer", "wrong password"); alerting.ErrorCode(err) != auth.EUNAUTHENTICATED {
		t.Errorf("wrong password: %v", err)
	}
	_, _, _, errUnknown := a.Login(context.Background(), "nobody", "correct horse battery")
	_, _, _, errWrong := a.Login(context.Background(), "officer", "wrong password")
	if errUnknown.Error() != errWrong.Error() {
		t.Errorf("an unknown user (%v) and a wrong password (%v) must read the same", errUnknown, errWrong)
	}
	u, sid, sess, err := a.Login(context.Background(), "officer", "correct horse battery")
	if err != nil || u.Name != "officer" || sid == "" || sess.CSRF == "" {
		t.Fatalf("login: %v", err)
	}
	r := httptest.NewRequest("POST", "/api/v1/alerts/x/ack", strings.NewReader("{}"))
	r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: sid})
	id, err := a.Authenticate(r)
	if err != nil || id.Principal == nil || id.Session == nil {
		t.Fatalf("the session: %+v %v", id, err)
	}
	if err := auth.CheckCSRF(r, id); alerting.ErrorCode(err) != alerting.EFORBIDDEN {
		t.Errorf("no CSRF header: %v", err)
	}
	r.Header.Set(auth.CSRFHeader, sess.CSRF)
	if err := auth.CheckCSRF(r, id); err != nil {
		t.Errorf("the right CSRF header: %v", err)
	}
	if err := auth.CheckNewPassword("short"); err == nil {
		t.Error("a short password was accepted")
	}
}

// TestCredentialsKeepOnlyWhatAuthenticates: what a WebSocket
// connection keeps for its later checks is the Authorization header and
// the session cookie, nothing else (Credentials has no room for more), and
// authenticates as the original.
func TestCredentialsKeepOnlyWhatAuthenticates(t *testing.T) {
	t.Parallel()
	a, _, secret, _ := fixture(t)
	_, sid, _, err := a.Login(context.Background(), "officer", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for name, set := range map[string]func(r *http.Request){
		"token":   func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+secret) },
		"session": func(r *http.Request) { r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: sid}) },
	} {
		r := httptest.NewRequest("GET", "/ws?zone=aleppo", nil)
		r.Header.Set("User-Agent", "a browser")
		r.Header.Set("Origin", "https://board.example.org")
		r.AddCookie(&http.Cookie{Name: "other", Value: "kept out"})
		set(r)
		creds := auth.CredentialsOf(r)
		if creds.Authorization != r.Header.Get("Authorization") {
			t.Errorf("%s: the credentials keep Authorization %q, want %q", name, creds.Authorization, r.Header.Get("Authorization"))
		}
		if ck, _ := r.Cookie(auth.CookieName); (ck == nil && creds.Session != "") || (ck != nil && creds.Session != ck.Value) {
			t.Errorf("%s: the credentials keep session %q, want the cookie's %v", name, creds.Session, ck)
		}
		want, err := a.Authenticate(r)
		if err != nil || want.Principal == nil {
			t.Fatalf("%s: the original request: %+v %v", name, want, err)
		}
		got, err := a.AuthenticateCredentials(context.Background(), creds)
		if err != nil || got.Principal == nil || got.Principal.Name != want.Principal.Name {
			t.Errorf("%s: the credentials authenticate as %+v (%v), want %s", name, got.Principal, err, want.Principal.Name)
		}
	}
}

// FuzzAuthenticate feeds arbitrary Authorization headers and cookies: never
// a panic, and never a principal without the real token or session.
func FuzzAuthenticate(f *testing.F) {
	a, _, secret, _ := fixture(f)
	for _, s := range []string{"Bearer " + secret, "Bearer tlt_", "Bearer tlt_0123456789ab_", "Basic abc", "Bearer " + secret[:20], "", "Bearer \x00"} {
		f.Add(s, "")
	}
	f.Add("", "session-id")
	f.Fuzz(func(t *testing.T, header, cookie string) {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header["Authorization"] = []string{header}
		}
		if cookie != "" {
			r.Header["Cookie"] = []string{auth.CookieName + "=" + cookie}
		}
		id, err := a.Authenticate(r)
		if err == nil && id.Principal != nil && strings.TrimSpace(strings.TrimPrefix(header, "Bearer ")) != secret {
			t.Fatalf("authenticated by %q / %q", header, cookie)
		}
	})
}
