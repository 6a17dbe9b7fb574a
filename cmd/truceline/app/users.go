package app

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/web/auth"
)

// startUsers creates the bootstrap admin, and the demo's users with --demo.
func (a *App) startUsers(ctx context.Context) error {
	if name := a.cfg.BootstrapAdmin; name != "" {
		if err := a.bootstrapAdmin(ctx, name); err != nil {
			return err
		}
	}
	if a.cfg.Demo {
		return a.demoUsers(ctx)
	}
	n, err := a.Store.CountAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		a.logger.Warn("no admin exists: nobody can sign in or configure truceline; start once with --bootstrap-admin NAME (see docs/SECURITY.md)")
	}
	return nil
}

// bootstrapAdmin creates the first admin, when there is none, with the
// password of TRUCELINE_BOOTSTRAP_PASSWORD or a generated one printed once
// on standard output (never into the log).
func (a *App) bootstrapAdmin(ctx context.Context, name string) error {
	n, err := a.Store.CountAdmins(ctx)
	if err != nil || n > 0 {
		return err
	}
	password, generated := a.cfg.BootstrapPassword, false
	if password == "" {
		if password, err = auth.NewPassword(); err != nil {
			return err
		}
		generated = true
	}
	hash, err := auth.HashPasswordCost(password, cmp.Or(a.cfg.PasswordCost, auth.PasswordCost))
	if err != nil {
		return fmt.Errorf("TRUCELINE_BOOTSTRAP_PASSWORD: %w", err)
	}
	u := &alerting.User{Name: name, FullName: name, Role: alerting.RoleAdmin, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := a.users().PutUser(ctx, u, true); err != nil {
		return fmt.Errorf("bootstrap admin: %w", err)
	}
	a.RecordAudit(ctx, alerting.AuditEntry{At: time.Now().UTC(), Actor: "bootstrap", Action: "user.create", Object: "user " + name, Detail: "role admin, first admin"})
	a.logger.Info("created the first admin", "user", name)
	if generated {
		fmt.Fprintf(os.Stdout, "\n  First admin %q created. Its password, shown this once: %s\n  Sign in at %s and change it.\n\n", name, password, a.PublicURL())
	}
	return nil
}

// DemoUsers are the demo's users, one per role, with passwords for local use
// only (docs/SECURITY.md lists them).
var DemoUsers = []struct {
	alerting.User
	Password string
}{
	{alerting.User{Name: "admin", FullName: "Demo admin", Role: alerting.RoleAdmin}, "demo-admin-password"},
	{alerting.User{Name: "duty", FullName: "Duty officer Rahman", Role: alerting.RoleDutyOfficer}, "demo-duty-password"},
	{alerting.User{Name: "duty-a", FullName: "Duty officer Meyer (Co-chair A)", Role: alerting.RoleDutyOfficer, Party: "party-a"}, "demo-duty-a-password"},
	{alerting.User{Name: "duty-b", FullName: "Duty officer Petrov (Co-chair B)", Role: alerting.RoleDutyOfficer, Party: "party-b"}, "demo-duty-b-password"},
	{alerting.User{Name: "liaison-a", FullName: "Liaison officer (Co-chair A)", Role: alerting.RoleLiaison, Party: "party-a", Zones: []string{"aleppo", "idlib", "latakia"}}, "demo-liaison-a-password"},
	{alerting.User{Name: "liaison-b", FullName: "Liaison officer (Co-chair B)", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"aleppo", "homs-north", "damascus-ghouta", "daraa"}}, "demo-liaison-b-password"},
	{alerting.User{Name: "viewer", FullName: "Observer", Role: alerting.RoleViewer}, "demo-viewer-password"},
	{alerting.User{Name: "reporter", FullName: "UN monitoring team Aleppo", Role: alerting.RoleReporter, Zones: []string{"aleppo"}}, "demo-reporter-password"},
}

// demoUsers creates the demo's users that do not exist yet.
func (a *App) demoUsers(ctx context.Context) error {
	for _, d := range DemoUsers {
		if _, err := a.Store.User(ctx, d.Name); err == nil {
			continue
		}
		u := d.User
		hash, err := auth.HashPasswordCost(d.Password, 4) // public passwords: a slow hash protects nothing
		if err != nil {
			return err
		}
		u.PasswordHash, u.CreatedAt = hash, time.Now().UTC()
		if err := a.users().PutUser(ctx, &u, true); err != nil && alerting.ErrorCode(err) != alerting.ECONFLICT {
			return fmt.Errorf("demo user %s: %w", u.Name, err)
		}
	}
	a.logger.Warn("demo users exist with PUBLIC passwords (docs/SECURITY.md): for local use only", "users", "admin, duty, duty-a, duty-b, liaison-a, liaison-b, viewer, reporter")
	return nil
}

// IssueToken makes an API token for an existing user and returns it, for
// tests and tools that start truceline in-process.
func (a *App) IssueToken(ctx context.Context, user, name string) (string, error) {
	if _, err := a.Store.User(ctx, user); err != nil {
		return "", err
	}
	t, secret, err := auth.NewToken(user, name, nil, time.Now().UTC())
	if err != nil {
		return "", err
	}
	return secret, a.users().PutToken(ctx, t)
}

// CreateUser makes a user, as the API does: in Redis, and recorded in the
// streams.
func (a *App) CreateUser(ctx context.Context, u *alerting.User) error {
	return a.users().PutUser(ctx, u, true)
}
