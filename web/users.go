package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
)

// UserStore keeps users and their API tokens.
type UserStore interface {
	User(ctx context.Context, name string) (*alerting.User, error)
	Users(ctx context.Context) ([]*alerting.User, error)
	PutUser(ctx context.Context, u *alerting.User, create bool) error
	DeleteUser(ctx context.Context, name string, now time.Time) error
	CountAdmins(ctx context.Context) (int, error)
	PutToken(ctx context.Context, t *alerting.Token) error
	Token(ctx context.Context, id string) (*alerting.Token, error)
	UserTokens(ctx context.Context, user string) ([]*alerting.Token, error)
	RevokeToken(ctx context.Context, id string, now time.Time) error
}

func (h *Handler) routeUsers() {
	h.route("POST /api/v1/session", anyone, h.signIn)
	h.route("GET /api/v1/session", signedIn, h.whoAmI)
	h.route("DELETE /api/v1/session", signedIn, h.signOut)
	h.route("GET /api/v1/users", adminOnly, h.listUsers)
	h.route("POST /api/v1/users", adminOnly, h.createUser)
	h.route("GET /api/v1/users/{name}", adminOnly, h.getUser)
	h.route("PUT /api/v1/users/{name}", adminOnly, h.updateUser)
	h.route("DELETE /api/v1/users/{name}", adminOnly, h.deleteUser)
	h.route("GET /api/v1/tokens", signedIn, h.listTokens)
	h.route("POST /api/v1/tokens", signedIn, h.createToken)
	h.route("DELETE /api/v1/tokens/{id}", signedIn, h.revokeToken)
}

// sessionView is what the board learns about its signed-in user.
type sessionView struct {
	User     string        `json:"user"`
	FullName string        `json:"full_name,omitempty"`
	Role     alerting.Role `json:"role"`
	Party    string        `json:"party,omitempty"`
	Zones    []string      `json:"zones,omitempty"`
	Via      string        `json:"via"`
	// CSRF goes into the X-CSRF-Token header of every change the board
	// makes.
	CSRF      string     `json:"csrf,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func viewOf(u *alerting.User, via string, s *alerting.Session) sessionView {
	v := sessionView{User: u.Name, FullName: u.FullName, Role: u.Role, Party: u.Party, Zones: u.Zones, Via: via}
	if s != nil {
		v.CSRF, v.ExpiresAt = s.CSRF, &s.ExpiresAt
	}
	return v
}

// signIn checks a user name and password and sets the session cookie.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User     string `json:"user"`
		Password string `json:"password"`
	}
	data, err := readBody(w, r, maxActionBytes)
	if err == nil {
		err = decodeStrict(data, &body)
		if err != nil {
			err = &alerting.Error{Code: alerting.EINVALID, Message: "bad sign-in", Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}}
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	// Attempts are limited per address, and per user name from that
	// address: failing from elsewhere cannot lock a user out. Refused
	// attempts are counted, not audited: anyone can make them, and the
	// audit log is kept for what people did.
	now, addr := h.limits.now(), clientAddress(r)
	if h.limited(w, r, h.limits.loginsByAddress.allow(addr, now) && h.limits.loginsByUser.allow(body.User+"\x00"+addr, now)) {
		h.metrics.signIns.WithLabelValues(signInLimited).Inc()
		return
	}
	u, sid, s, err := h.opts.Auth.Login(r.Context(), body.User, body.Password)
	if err != nil {
		if alerting.ErrorCode(err) == auth.EUNAUTHENTICATED {
			h.metrics.signIns.WithLabelValues(signInRefused).Inc()
		}
		h.writeError(w, r, err)
		return
	}
	h.metrics.signIns.WithLabelValues(signInAccepted).Inc()
	h.opts.Auth.SetCookie(w, r, sid, s)
	h.auditAs(r, u.Name, "session", "login", "user "+u.Name, "", "")
	writeJSON(w, http.StatusOK, viewOf(u, "session", s))
}

func (h *Handler) whoAmI(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	id, _ := h.opts.Auth.Authenticate(r)
	u, err := h.opts.Users.User(r.Context(), p.User)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, viewOf(u, p.Via, id.Session))
}

func (h *Handler) signOut(w http.ResponseWriter, r *http.Request) {
	if err := h.opts.Auth.Logout(r.Context(), r); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.opts.Auth.ClearCookie(w, r)
	h.audit(r, "logout", "user "+principal(r).User, "", "")
	w.WriteHeader(http.StatusNoContent)
}

// userBody is a user as the API takes it: a password instead of its hash.
type userBody struct {
	alerting.User
	Password string `json:"password,omitempty"`
}

func showUser(u *alerting.User) *alerting.User {
	c := *u
	c.PasswordHash = ""
	return &c
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) {
	users, err := h.opts.Users.Users(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	out := make([]*alerting.User, len(users))
	for i, u := range users {
		out[i] = showUser(u)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := h.opts.Users.User(r.Context(), r.PathValue("name"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, showUser(u))
}

func (h *Handler) readUser(w http.ResponseWriter, r *http.Request) (userBody, bool) {
	var b userBody
	data, err := readBody(w, r, maxActionBytes)
	if err == nil {
		if err = decodeStrict(data, &b); err != nil {
			err = &alerting.Error{Code: alerting.EINVALID, Message: "bad user", Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}}
		}
	}
	if err == nil && b.PasswordHash != "" {
		err = &alerting.Error{Code: alerting.EINVALID, Message: "bad user", Fields: []alerting.FieldProblem{{Field: "password_hash", Problem: "is set by the server; give password"}}}
	}
	if err != nil {
		h.writeError(w, r, err)
		return b, false
	}
	return b, true
}

// saveUser validates a user (and hashes a new password) and stores it.
func (h *Handler) saveUser(w http.ResponseWriter, r *http.Request, b userBody, create bool) {
	u := b.User
	err := u.Validate(h.opts.Catalog.Catalog())
	fields := alerting.ErrorFields(err)
	if b.Password != "" {
		if perr := auth.CheckNewPassword(b.Password); perr != nil {
			fields = append(fields, alerting.FieldProblem{Field: "password", Problem: perr.Error()})
		}
	} else if create {
		fields = append(fields, alerting.FieldProblem{Field: "password", Problem: "is required for a new user"})
	}
	if len(fields) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "user " + u.Name + " is invalid", Fields: fields})
		return
	}
	now := time.Now().UTC()
	if b.Password != "" {
		if u.PasswordHash, err = h.opts.Auth.HashPassword(b.Password); err != nil {
			h.writeError(w, r, err)
			return
		}
		u.SessionsSince = now // a new password ends the sessions opened with the old one
	}
	if !create {
		old, err := h.opts.Users.User(r.Context(), u.Name)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if u.PasswordHash == "" {
			u.PasswordHash, u.SessionsSince = old.PasswordHash, old.SessionsSince
		}
		u.CreatedAt = old.CreatedAt
		if old.Role == alerting.RoleAdmin && (u.Role != alerting.RoleAdmin || u.Disabled) && !h.anotherAdmin(w, r) {
			return
		}
	} else {
		u.CreatedAt = now
	}
	if err := h.opts.Users.PutUser(r.Context(), &u, create); err != nil {
		h.writeError(w, r, err)
		return
	}
	if b.Password != "" && principal(r).User == u.Name {
		// Their own password: the other sessions end, not this one.
		if err := h.opts.Auth.Renew(r.Context(), r, now); err != nil {
			h.logger.Warn("could not keep the session of a user who set their password", "user", u.Name, "err", err)
		}
	}
	h.opts.Auth.Forget()
	h.opts.Gateway.Recheck() // open connections too: closed, or their zones narrowed
	action, detail := "user.update", "role "+string(u.Role)
	if create {
		action = "user.create"
	}
	if b.Password != "" {
		detail += ", password set"
	}
	h.audit(r, action, "user "+u.Name, "", detail)
	status := http.StatusOK
	if create {
		status = http.StatusCreated
	}
	writeJSON(w, status, showUser(&u))
}

// anotherAdmin refuses to leave the server without an enabled admin.
func (h *Handler) anotherAdmin(w http.ResponseWriter, r *http.Request) bool {
	n, err := h.opts.Users.CountAdmins(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return false
	}
	if n <= 1 {
		h.writeError(w, r, alerting.Errorf(alerting.ECONFLICT, "this is the last admin; make another admin first"))
		return false
	}
	return true
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) {
	if b, ok := h.readUser(w, r); ok {
		h.saveUser(w, r, b, true)
	}
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) {
	b, ok := h.readUser(w, r)
	if !ok {
		return
	}
	if b.Name == "" {
		b.Name = r.PathValue("name")
	}
	if b.Name != r.PathValue("name") {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad user", Fields: []alerting.FieldProblem{{Field: "name", Problem: "must be the name in the path"}}})
		return
	}
	h.saveUser(w, r, b, false)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	u, err := h.opts.Users.User(r.Context(), name)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if u.Role == alerting.RoleAdmin && !h.anotherAdmin(w, r) {
		return
	}
	if err := h.opts.Users.DeleteUser(r.Context(), name, time.Now()); err != nil {
		h.writeError(w, r, err)
		return
	}
	h.opts.Auth.Forget()
	h.opts.Gateway.Recheck() // open connections too: closed, or their zones narrowed
	h.audit(r, "user.delete", "user "+name, "", "its tokens revoked")
	w.WriteHeader(http.StatusNoContent)
}

// listTokens lists the caller's tokens (an admin's ?user= another user's),
// never their secrets.
func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) {
	user, ok := h.tokenOwner(w, r, r.URL.Query().Get("user"))
	if !ok {
		return
	}
	tokens, err := h.opts.Users.UserTokens(r.Context(), user)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	for _, t := range tokens {
		t.Hash = ""
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": tokens})
}

// tokenOwner is whose tokens a request manages: the caller's own, or for
// an admin anyone's.
func (h *Handler) tokenOwner(w http.ResponseWriter, r *http.Request, user string) (string, bool) {
	p := principal(r)
	if user == "" || user == p.User {
		return p.User, true
	}
	if !p.Administers() {
		h.writeError(w, r, alerting.Errorf(alerting.EFORBIDDEN, "only an admin manages other users' tokens"))
		return "", false
	}
	if _, err := h.opts.Users.User(r.Context(), user); err != nil {
		h.writeError(w, r, err)
		return "", false
	}
	return user, true
}

// createToken makes an API token and shows it, this once.
func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		User      string            `json:"user"`
		Name      string            `json:"name"`
		ExpiresIn alerting.Duration `json:"expires_in"`
	}
	data, err := readBody(w, r, maxActionBytes)
	if err == nil {
		if err = decodeStrict(data, &body); err != nil {
			err = &alerting.Error{Code: alerting.EINVALID, Message: "bad token request", Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}}
		}
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var fields []alerting.FieldProblem
	if strings.TrimSpace(body.Name) == "" || len(body.Name) > 100 {
		fields = append(fields, alerting.FieldProblem{Field: "name", Problem: "is required: say what the token is for (at most 100 characters)"})
	}
	if body.ExpiresIn < 0 || time.Duration(body.ExpiresIn) > 366*24*time.Hour {
		fields = append(fields, alerting.FieldProblem{Field: "expires_in", Problem: "must be between 0 (never) and 8784h"})
	}
	if len(fields) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad token request", Fields: fields})
		return
	}
	user, ok := h.tokenOwner(w, r, body.User)
	if !ok {
		return
	}
	now := time.Now().UTC()
	var expires *time.Time
	if body.ExpiresIn > 0 {
		e := now.Add(time.Duration(body.ExpiresIn))
		expires = &e
	}
	parent, err := h.parentToken(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if parent != nil && parent.ExpiresAt != nil && (expires == nil || expires.After(*parent.ExpiresAt)) {
		expires = parent.ExpiresAt // never outlives the token it was made with
	}
	t, secret, err := auth.NewToken(user, body.Name, expires, now)
	if err == nil && parent != nil {
		t.Parent = parent.ID
	}
	if err == nil {
		err = h.opts.Users.PutToken(r.Context(), t)
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, "token.create", "token "+t.ID, "", "for "+user+": "+body.Name)
	t.Hash = ""
	writeJSON(w, http.StatusCreated, struct {
		*alerting.Token
		Secret string `json:"token"`
	}{t, secret})
}

// parentToken is the token the request was made with, nil for a session.
// A token made with it never outlives it and stops working with it, so a
// short-lived or revoked token cannot mint a lasting one.
func (h *Handler) parentToken(r *http.Request) (*alerting.Token, error) {
	p := principal(r)
	if p.TokenID == "" {
		return nil, nil
	}
	t, err := h.opts.Users.Token(r.Context(), p.TokenID)
	if err != nil {
		return nil, err
	}
	depth := 0
	for up := t; up.Parent != "" && depth <= alerting.MaxTokenDepth; depth++ {
		if up, err = h.opts.Users.Token(r.Context(), up.Parent); err != nil {
			return nil, err
		}
	}
	if depth >= alerting.MaxTokenDepth {
		return nil, alerting.Errorf(alerting.EFORBIDDEN, "this token is the last of a chain of %d tokens made with tokens: sign in, or use an earlier one", alerting.MaxTokenDepth)
	}
	return t, nil
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	t, err := h.opts.Users.Token(r.Context(), r.PathValue("id"))
	if err == nil {
		if _, ok := h.tokenOwner(w, r, t.User); !ok {
			return
		}
		err = h.opts.Users.RevokeToken(r.Context(), t.ID, time.Now().UTC())
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.opts.Auth.Forget()
	h.opts.Gateway.Recheck() // open connections too: closed, or their zones narrowed
	h.audit(r, "token.revoke", "token "+t.ID, "", "of "+t.User)
	w.WriteHeader(http.StatusNoContent)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
