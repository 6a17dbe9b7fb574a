// Package auth identifies who makes a request: a board signed in with a
// session cookie (and a CSRF token for every change), or an API client with
// a bearer token. Passwords are bcrypt hashes; tokens and session ids are
// random and stored only as SHA-256 hashes.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
)

// Store keeps users, tokens and sessions.
type Store interface {
	User(ctx context.Context, name string) (*alerting.User, error)
	Token(ctx context.Context, id string) (*alerting.Token, error)
	PutSession(ctx context.Context, hash string, s *alerting.Session) error
	Session(ctx context.Context, hash string) (*alerting.Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// Names on the wire.
const (
	CookieName  = "truceline_session"
	CSRFHeader  = "X-CSRF-Token"
	TokenPrefix = "tlt_"
)

// Options configures an Authenticator. Store is required.
type Options struct {
	Store Store
	// SessionTTL is how long a sign-in lasts; 0 means 12 hours.
	SessionTTL time.Duration
	// SecureCookie marks the session cookie Secure (the server is reached
	// over HTTPS); a request that arrives over TLS always gets it.
	SecureCookie bool
	Now          func() time.Time
	// PasswordCost is the bcrypt cost of the passwords it hashes, and the
	// least every sign-in spends; 0 means PasswordCost. Only tests lower it:
	// under the race detector a sign-in at cost 12 takes seconds.
	PasswordCost int
}

// Authenticator signs people in and identifies requests. It remembers a
// credential it checked for a short while: a token revoked or a user
// disabled takes up to cacheFresh to take effect, and while the store is
// unreachable, credentials seen within cacheStale keep working, so that
// reports are still accepted into the stream during a Redis outage. A
// credential that expires (a session, a token made to expire, or one made
// with such a token) stops working when it expires, remembered or not.
type Authenticator struct {
	o Options
	// dummy is compared against when the user does not exist, so that a
	// wrong user name takes as long as a wrong password. It is made on the
	// first sign-in, not at start-up: a bcrypt hash costs a quarter of a
	// second.
	dummy func() []byte

	mu    sync.Mutex
	cache map[string]cached // by token id or session hash
}

type cached struct {
	id      Identity
	secret  string // the token secret's hash, to compare each time
	checked time.Time
	ends    time.Time // when the credential expires; zero: never
}

const (
	cacheFresh = 15 * time.Second
	cacheStale = 10 * time.Minute
)

// New returns an Authenticator.
func New(o Options) (*Authenticator, error) {
	if o.Store == nil {
		return nil, errors.New("auth: Options.Store is required")
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PasswordCost <= 0 {
		o.PasswordCost = PasswordCost
	}
	o.PasswordCost = min(max(o.PasswordCost, bcrypt.MinCost), bcrypt.MaxCost)
	dummy := sync.OnceValue(func() []byte {
		h, _ := bcrypt.GenerateFromPassword([]byte("no such user, no such password"), o.PasswordCost)
		return h
	})
	return &Authenticator{o: o, dummy: dummy, cache: map[string]cached{}}, nil
}

// Password rules: bcrypt reads at most 72 bytes.
const (
	MinPassword = 12
	MaxPassword = 72
)

// CheckNewPassword says what is wrong with a password someone chose.
func CheckNewPassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPassword:
		return fmt.Errorf("must be at least %d characters", MinPassword)
	case len(pw) > MaxPassword:
		return fmt.Errorf("must be at most %d bytes", MaxPassword)
	}
	return nil
}

// PasswordCost is the bcrypt cost of stored passwords.
const PasswordCost = 12

// HashPassword returns the bcrypt hash of a password.
func HashPassword(pw string) (string, error) { return HashPasswordCost(pw, PasswordCost) }

// HashPasswordCost is HashPassword at another cost: the demo's public
// passwords gain nothing from a slow hash.
func HashPasswordCost(pw string, cost int) (string, error) {
	if err := CheckNewPassword(pw); err != nil {
		return "", &alerting.Error{Code: alerting.EINVALID, Message: "bad password", Fields: []alerting.FieldProblem{{Field: "password", Problem: err.Error()}}}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// HashPassword hashes a password at the authenticator's cost.
func (a *Authenticator) HashPassword(pw string) (string, error) {
	return HashPasswordCost(pw, a.o.PasswordCost)
}

// compareHash is bcrypt's, replaced in tests to see what is compared.
var compareHash = bcrypt.CompareHashAndPassword

// errSignIn is the one answer to every failed sign-in: it does not say
// whether the user exists.
var errSignIn = &alerting.Error{Code: EUNAUTHENTICATED, Message: "wrong user name or password"}

// EUNAUTHENTICATED is the error code of a request without valid
// credentials (HTTP 401).
const EUNAUTHENTICATED = "unauthenticated"

// Login checks a user's password and opens a session; sid goes into the
// cookie and is stored only hashed.
func (a *Authenticator) Login(ctx context.Context, name, password string) (*alerting.User, string, *alerting.Session, error) {
	u, err := a.o.Store.User(ctx, name)
	if err != nil && alerting.ErrorCode(err) != alerting.ENOTFOUND {
		return nil, "", nil, err
	}
	hash := a.dummy()
	if u != nil && u.PasswordHash != "" {
		hash = []byte(u.PasswordHash)
	}
	ok := compareHash(hash, []byte(password)) == nil
	if cost, err := bcrypt.Cost(hash); err != nil || cost < a.o.PasswordCost {
		// A hash cheaper than the password cost (the demo's) would answer
		// sooner than an unknown name does: spend the difference, so
		// that the time says nothing of the user.
		_ = compareHash(a.dummy(), []byte(password))
	}
	if !ok || u == nil || u.Disabled || u.PasswordHash == "" {
		return nil, "", nil, errSignIn
	}
	sid, err := random(32)
	if err != nil {
		return nil, "", nil, err
	}
	csrf, err := random(32)
	if err != nil {
		return nil, "", nil, err
	}
	now := a.o.Now()
	s := &alerting.Session{User: u.Name, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(a.o.SessionTTL)}
	if err := a.o.Store.PutSession(ctx, digest(sid), s); err != nil {
		return nil, "", nil, err
	}
	return u, sid, s, nil
}

// Renew moves the start of the request's session to now, if it has one:
// the user set a new password, which ends the sessions opened before, and
// this one goes on.
func (a *Authenticator) Renew(ctx context.Context, r *http.Request, now time.Time) error {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	s, err := a.o.Store.Session(ctx, digest(c.Value))
	if err != nil || s == nil {
		return err
	}
	s.CreatedAt = now
	a.mu.Lock()
	delete(a.cache, "session "+digest(c.Value))
	a.mu.Unlock()
	return a.o.Store.PutSession(ctx, digest(c.Value), s)
}

// Logout ends the request's session, if it has one.
func (a *Authenticator) Logout(ctx context.Context, r *http.Request) error {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	a.mu.Lock()
	delete(a.cache, "session "+digest(c.Value))
	a.mu.Unlock()
	return a.o.Store.DeleteSession(ctx, digest(c.Value))
}

// Identity is who made a request, and how.
type Identity struct {
	Principal *alerting.Principal
	// Session is set for a board's request; changes then need its CSRF
	// token.
	Session *alerting.Session
}

// Credentials are what Authenticate reads of a request: its Authorization
// header and its session cookie. A long-lived connection keeps them to
// authenticate again later, rather than the whole upgrade request with
// every header, its URL and its context.
type Credentials struct {
	Authorization string // the header, "" when absent
	Session       string // the session cookie's value, "" when absent
}

// CredentialsOf returns the credentials r carries.
func CredentialsOf(r *http.Request) Credentials {
	c := Credentials{Authorization: r.Header.Get("Authorization")}
	if ck, err := r.Cookie(CookieName); err == nil {
		c.Session = ck.Value
	}
	return c
}

// Authenticate identifies a request: by its bearer token, else by its
// session cookie. No credentials at all give a nil Principal and no error;
// wrong ones an error with EUNAUTHENTICATED.
func (a *Authenticator) Authenticate(r *http.Request) (Identity, error) {
	return a.AuthenticateCredentials(r.Context(), CredentialsOf(r))
}

// AuthenticateCredentials is Authenticate for credentials kept from a
// request.
func (a *Authenticator) AuthenticateCredentials(ctx context.Context, c Credentials) (Identity, error) {
	if h := c.Authorization; h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return Identity{}, alerting.Errorf(EUNAUTHENTICATED, "the Authorization header must be \"Bearer <token>\"")
		}
		raw = strings.TrimSpace(raw)
		id, secret, ok := ParseToken(raw)
		if !ok {
			return Identity{}, errBadToken
		}
		return a.remember("token "+id, digest(secret), func() (Identity, time.Time, error) {
			p, ends, err := a.tokenPrincipal(ctx, id, secret)
			return Identity{Principal: p}, ends, err
		})
	}
	if c.Session == "" {
		return Identity{}, nil
	}
	key := "session " + digest(c.Session)
	return a.remember(key, "", func() (Identity, time.Time, error) {
		id, err := a.session(ctx, c.Session)
		if err != nil {
			return id, time.Time{}, err
		}
		return id, id.Session.ExpiresAt, nil
	})
}

// remember answers from the cache while fresh, else calls check, which
// also says when the credential expires (zero: never); when the store is
// unreachable it answers from a stale entry rather than fail. It never
// answers from an entry whose credential has expired.
func (a *Authenticator) remember(key, secret string, check func() (Identity, time.Time, error)) (Identity, error) {
	now := a.o.Now()
	a.mu.Lock()
	e, ok := a.cache[key]
	a.mu.Unlock()
	ok = ok && e.secret == secret && (e.ends.IsZero() || now.Before(e.ends))
	if ok && now.Sub(e.checked) < cacheFresh {
		return e.id, nil
	}
	id, ends, err := check()
	switch {
	case err == nil:
		a.mu.Lock()
		if len(a.cache) > 10_000 {
			clear(a.cache)
		}
		a.cache[key] = cached{id: id, secret: secret, checked: now, ends: ends}
		a.mu.Unlock()
		return id, nil
	case alerting.ErrorCode(err) == alerting.EUNAVAILABLE && ok && now.Sub(e.checked) < cacheStale:
		return e.id, nil
	}
	a.mu.Lock()
	delete(a.cache, key)
	a.mu.Unlock()
	return Identity{}, err
}

// Forget drops what the authenticator remembers of every credential: a
// sign-out, a revocation or a user change made here takes effect at once.
func (a *Authenticator) Forget() {
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

func (a *Authenticator) session(ctx context.Context, sid string) (Identity, error) {
	s, err := a.o.Store.Session(ctx, digest(sid))
	if err != nil {
		return Identity{}, err
	}
	if s == nil || !a.o.Now().Before(s.ExpiresAt) {
		return Identity{}, alerting.Errorf(EUNAUTHENTICATED, "the session ended; sign in again")
	}
	u, err := a.o.Store.User(ctx, s.User)
	if alerting.ErrorCode(err) == alerting.ENOTFOUND || (err == nil && (u.Disabled || s.CreatedAt.Before(u.SessionsSince))) {
		return Identity{}, alerting.Errorf(EUNAUTHENTICATED, "the session ended; sign in again")
	}
	if err != nil {
		return Identity{}, err
	}
	p := alerting.PrincipalOf(u, "session")
	p.Password = true
	return Identity{Principal: p, Session: s}, nil
}

var errBadToken = alerting.Errorf(EUNAUTHENTICATED, "the token is not valid (revoked, expired or mistyped)")

// tokenPrincipal checks the token id with its secret, and returns whom it
// acts for and when it stops working: the earliest expiry of the token and
// of the tokens it was made with (zero: never).
func (a *Authenticator) tokenPrincipal(ctx context.Context, id, secret string) (*alerting.Principal, time.Time, error) {
	bad := errBadToken
	var ends time.Time
	expires := func(t *alerting.Token) {
		if t.ExpiresAt != nil && (ends.IsZero() || t.ExpiresAt.Before(ends)) {
			ends = *t.ExpiresAt
		}
	}
	t, err := a.o.Store.Token(ctx, id)
	if alerting.ErrorCode(err) == alerting.ENOTFOUND {
		return nil, time.Time{}, bad
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(digest(secret))) != 1 || !t.Usable(a.o.Now()) {
		return nil, time.Time{}, bad
	}
	expires(t)
	// A token made with a token works only while its parent does.
	for parent, depth := t.Parent, 0; parent != ""; depth++ {
		pt, err := a.o.Store.Token(ctx, parent)
		if alerting.ErrorCode(err) == alerting.ENOTFOUND || (err == nil && (!pt.Usable(a.o.Now()) || depth >= alerting.MaxTokenDepth)) {
			return nil, time.Time{}, bad
		}
		if err != nil {
			return nil, time.Time{}, err
		}
		expires(pt)
		parent = pt.Parent
	}
	u, err := a.o.Store.User(ctx, t.User)
	if alerting.ErrorCode(err) == alerting.ENOTFOUND || (err == nil && u.Disabled) {
		return nil, time.Time{}, bad
	}
	if err != nil {
		return nil, time.Time{}, err
	}
	p := alerting.PrincipalOf(u, "token "+t.ID)
	p.TokenID = t.ID
	return p, ends, nil
}

// CheckCSRF requires a board's change to carry its session's CSRF token.
// Requests made with a bearer token carry no cookie and need none.
func CheckCSRF(r *http.Request, id Identity) error {
	if id.Session == nil {
		return nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(id.Session.CSRF)) != 1 {
		return alerting.Errorf(alerting.EFORBIDDEN, "missing or wrong %s header: reload the board", CSRFHeader)
	}
	return nil
}

// SetCookie gives the browser the session cookie: HttpOnly, SameSite=Strict,
// and Secure over HTTPS.
func (a *Authenticator) SetCookie(w http.ResponseWriter, r *http.Request, sid string, s *alerting.Session) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: sid, Path: "/", Expires: s.ExpiresAt,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.o.SecureCookie || r.TLS != nil})
}

// ClearCookie removes the session cookie.
func (a *Authenticator) ClearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: a.o.SecureCookie || r.TLS != nil})
}

// NewToken makes an API token for user: the record to store (holding only
// the secret's hash) and the token to show once.
func NewToken(user, name string, expires *time.Time, now time.Time) (*alerting.Token, string, error) {
	id, err := randomHex(6)
	if err != nil {
		return nil, "", err
	}
	secret, err := random(32)
	if err != nil {
		return nil, "", err
	}
	t := &alerting.Token{ID: id, User: user, Name: name, Hash: digest(secret), CreatedAt: now, ExpiresAt: expires}
	return t, TokenPrefix + id + "_" + secret, nil
}

// ParseToken splits a token into its id and secret.
func ParseToken(raw string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(raw, TokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	return id, secret, ok && len(id) == 12 && len(secret) >= 32
}

// NewPassword makes a random password for a bootstrap admin.
func NewPassword() (string, error) { return random(18) }

func random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
