package broker

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
)

// InternalUser is the embedded server's user for truceline's own
// connection when liaison users are configured. It has every permission and
// can connect only in-process, with a password generated at every start.
const InternalUser = "truceline"

// bcryptHash is what the server takes for a bcrypt hash; it would compare
// anything else with the password as plain text.
var bcryptHash = regexp.MustCompile(`^\$2[abxy]\$\d{2}\$`)

// inboxes is the subject space of nats.go's reply inboxes: a JetStream
// publish waits there for the stream's acknowledgement.
const inboxes = "_INBOX.>"

// EmbeddedUser is a liaison system's account on the embedded server. It may
// publish reports only on violations.<zone>.> and follow alert changes only
// on alerts.<zone>.> of its zones (with the prefix), and receive replies on
// _INBOX.>; nothing else.
type EmbeddedUser struct {
	Name string
	// PasswordHash is a bcrypt hash ("$2a$…", "$2b$…", "$2y$…") of the
	// user's password; the server never holds the password itself.
	PasswordHash string
	// Zones are the zone ids the user reports on and follows.
	Zones []string
	// NotifySubjects are further subjects the user may subscribe to: those
	// of its contacts' NATS notification methods ("liaison.party-a.>").
	NotifySubjects []string
}

// CheckEmbeddedUsers names every problem of a list of liaison users of a
// server whose subjects have prefix.
func CheckEmbeddedUsers(prefix string, users []EmbeddedUser) []string {
	var problems []string
	seen := map[string]bool{}
	for i, u := range users {
		bad := func(format string, args ...any) {
			name := u.Name
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			problems = append(problems, fmt.Sprintf("user %s: %s", name, fmt.Sprintf(format, args...)))
		}
		switch {
		case u.Name == "":
			bad("has no name")
		case u.Name == InternalUser:
			bad("the name %q is reserved for truceline's own connection", InternalUser)
		case strings.ContainsAny(u.Name, " \t\r\n"):
			bad("the name must not contain white space")
		case seen[u.Name]:
			bad("is listed twice")
		}
		seen[u.Name] = true
		if _, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil || !bcryptHash.MatchString(u.PasswordHash) {
			bad("the password is not a bcrypt hash ($2a$…, $2b$… or $2y$…)")
		}
		if len(u.Zones) == 0 {
			bad("has no zones")
		}
		for _, z := range u.Zones {
			if !alerting.ValidZoneID(z) {
				bad("zone %q does not match [a-z0-9-]{1,64}", z)
			}
		}
		for _, subj := range u.NotifySubjects {
			if problem := checkNotifySubject(prefix, subj); problem != "" {
				bad("notify subject %q %s", subj, problem)
			}
		}
	}
	return problems
}

// checkNotifySubject says what is wrong with a subject a liaison user may
// subscribe to for its notifications, or "".
func checkNotifySubject(prefix, subj string) string {
	if !server.IsValidSubject(subj) || strings.ContainsAny(subj, " \t\r\n") {
		return "is not a valid subject"
	}
	first, _, _ := strings.Cut(subj, ".")
	switch {
	case first == "*" || first == ">":
		return "must start with a literal token"
	case strings.HasPrefix(first, "$") || strings.HasPrefix(first, "_INBOX"):
		return "is reserved for the server and replies"
	}
	for _, own := range []string{"violations.>", "alerts.>", "rejected.>", HeartbeatSubjects} {
		if server.SubjectsCollide(subj, own) || server.SubjectsCollide(subj, prefix+own) {
			return "would reach truceline's own subjects (" + prefix + own + ")"
		}
	}
	return ""
}

// liaisonPermissions are what a liaison user of zones may do, with prefix
// before every subject: JetStream-publish reports of its zones, send
// heartbeats (heartbeats.<monitor>), follow their
// alert changes and receive its notifications (notify). Replies (the
// stream's acknowledgements) arrive on _INBOX.>, so it may subscribe there;
// it may not use the JetStream API, so it can neither read nor change any
// stream directly.
func liaisonPermissions(prefix string, zones, notify []string) *server.Permissions {
	pub := make([]string, 0, len(zones)+1)
	sub := make([]string, 0, len(zones)+1+len(notify))
	// Any monitor's heartbeats: truceline refuses those of a monitor
	// outside the user's zones or accounts (Heartbeats).
	pub = append(pub, prefix+heartbeatSubject)
	for _, z := range zones {
		pub = append(pub, prefix+"violations."+z+".>")
		sub = append(sub, prefix+"alerts."+z+".>")
	}
	sub = append(sub, inboxes)
	sub = append(sub, notify...)
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: sub},
	}
}

// liaisonAccount names a liaison user's own account.
func liaisonAccount(user string) string { return "liaison:" + user }

// serverAuth are the server's accounts and users.
//
// truceline's own user (every permission, in-process only, a bcrypt hash of
// password) lives in the global account, with JetStream and the streams, as
// without users, so turning users on keeps the store.
//
// Each liaison user has an account of its own, which imports from the
// global account only its zones' subjects: reports as a service
// (violations.<zone>.>, which reaches truceline's Intake as
// intake.<zone>.>) and heartbeats (heartbeats.<monitor>, which reach
// Heartbeats) as services, alert changes and its notifications as streams.
// Its own account isolates it: whatever reply subject it sets on a report,
// the stream's acknowledgement comes back through the import into its own
// account, so it cannot make JetStream publish into alerts.> (or into
// anything else of truceline's), and no user sees another's or truceline's
// replies on _INBOX.>. Its permissions say the same again.
func serverAuth(prefix string, users []EmbeddedUser, password string) ([]*server.Account, []*server.User, error) {
	// The password is 32 random bytes, so the hash's cost adds nothing;
	// the lowest keeps truceline's (re)connections fast.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return nil, nil, err
	}
	global := server.NewAccount(server.DEFAULT_GLOBAL_ACCOUNT)
	exported := map[string]bool{}
	export := func(subject string, service bool) error {
		if exported[subject] {
			return nil
		}
		exported[subject] = true
		if service {
			return global.AddServiceExport(subject, nil)
		}
		return global.AddStreamExport(subject, nil)
	}
	if err := export(prefix+intakeSubjects, true); err != nil {
		return nil, nil, err
	}
	if err := export(prefix+"alerts.>", false); err != nil {
		return nil, nil, err
	}
	if err := export(prefix+heartbeatSubject, true); err != nil {
		return nil, nil, err
	}
	accounts := []*server.Account{global}
	out := []*server.User{{
		Username:               InternalUser,
		Password:               string(hash),
		Account:                global,
		AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeInProcess: {}},
	}}
	for _, u := range users {
		acc := server.NewAccount(liaisonAccount(u.Name))
		for _, z := range u.Zones {
			if err := acc.AddServiceImport(global, prefix+"violations."+z+".>", prefix+"intake."+z+".>"); err != nil {
				return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
			}
			if err := acc.AddStreamImport(global, prefix+"alerts."+z+".>", ""); err != nil {
				return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
		if err := acc.AddServiceImport(global, prefix+heartbeatSubject, ""); err != nil {
			return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
		}
		for _, subj := range u.NotifySubjects {
			if err := export(subj, false); err != nil {
				return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
			}
			if err := acc.AddStreamImport(global, subj, ""); err != nil {
				return nil, nil, fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
		accounts = append(accounts, acc)
		out = append(out, &server.User{
			Username:    u.Name,
			Password:    u.PasswordHash,
			Account:     acc,
			Permissions: liaisonPermissions(prefix, u.Zones, u.NotifySubjects),
			// Not over websocket, MQTT or leaf node connections: the
			// embedded server offers none of them, and should one be
			// added, these users must not reach it unawares.
			AllowedConnectionTypes: map[string]struct{}{jwt.ConnectionTypeStandard: {}},
		})
	}
	return accounts, out, nil
}

// randomPassword is 32 random bytes, base64url-encoded (43 characters, well
// under bcrypt's 72-byte limit).
func randomPassword() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}
