package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Role says what a user may do.
type Role string

// Roles. Admins configure and do everything; duty officers see and act on
// every zone; liaisons see and act on their own zones, for their own party;
// viewers see every zone and change nothing; reporters only submit reports
// for their zones.
const (
	RoleAdmin       Role = "admin"
	RoleDutyOfficer Role = "duty_officer"
	RoleLiaison     Role = "liaison"
	RoleViewer      Role = "viewer"
	RoleReporter    Role = "reporter"
)

// Roles lists every role.
var Roles = []Role{RoleAdmin, RoleDutyOfficer, RoleLiaison, RoleViewer, RoleReporter}

// User is someone who signs in to the board or holds API tokens.
type User struct {
	Name string `json:"name"` // the login name
	// FullName is shown on the board and the timeline.
	FullName string `json:"full_name,omitempty"`
	Role     Role   `json:"role"`
	// Party is the party the user acts for: required for a liaison,
	// optional for a duty officer (one seconded by a party), empty for
	// the others.
	Party string `json:"party,omitempty"`
	// Zones are the zone ids (or globs) a liaison or a reporter is bound
	// to; the other roles cover every zone.
	Zones []string `json:"zones,omitempty"`
	// PasswordHash is a bcrypt hash; never shown by the API.
	PasswordHash string `json:"password_hash,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
	// SessionsSince ends the user's sessions opened before it: a new
	// password ends the sessions signed in with the old one.
	SessionsSince time.Time `json:"sessions_since,omitzero"`
	CreatedAt     time.Time `json:"created_at"`
}

// Display is how the user appears on the timeline.
func (u *User) Display() string {
	if u.FullName != "" {
		return u.FullName
	}
	return u.Name
}

// ValidUserName reports whether s can name a user: 1 to 64 of a-z, 0-9, '.',
// '_' and '-', starting with a letter or digit.
func ValidUserName(s string) bool {
	if s == "" || len(s) > 64 || strings.ContainsAny(s[:1], "._-") {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// Validate names every problem of the user against the configuration's
// parties and zones.
func (u *User) Validate(c *Catalog) error {
	var p problems
	if !ValidUserName(u.Name) {
		p.add("name", "must be 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
	}
	if len(u.FullName) > 200 || strings.ContainsFunc(u.FullName, unicode.IsControl) {
		p.add("full_name", "must be at most 200 characters without control characters")
	}
	if !slices.Contains(Roles, u.Role) {
		p.add("role", "must be one of admin, duty_officer, liaison, viewer, reporter")
	}
	if u.Party != "" {
		switch pt, ok := c.Party(u.Party); {
		case !ok:
			p.add("party", "unknown party %q", u.Party)
		case pt.Status == PartyExcluded:
			p.add("party", "%q is excluded from the ceasefire and cannot act on alerts", u.Party)
		}
	}
	switch u.Role {
	case RoleLiaison:
		if u.Party == "" {
			p.add("party", "is required for a liaison")
		}
		fallthrough
	case RoleReporter:
		if len(u.Zones) == 0 {
			p.add("zones", "must name at least one zone for a %s", u.Role)
		}
	case RoleAdmin, RoleViewer:
		if u.Party != "" {
			p.add("party", "is only for liaisons and duty officers")
		}
		fallthrough
	default:
		if len(u.Zones) > 0 {
			p.add("zones", "are only for liaisons and reporters: a %s covers every zone", u.Role)
		}
	}
	for i, z := range u.Zones {
		if isGlob(z) {
			continue
		}
		if _, ok := c.Zone(z); !ok {
			p.add(fmt.Sprintf("zones[%d]", i), "unknown zone %q", z)
		}
	}
	return p.err("user")
}

// Principal is who makes a request: a signed-in user, or an API token's
// user.
type Principal struct {
	User     string
	Name     string // shown on the timeline
	Role     Role
	Party    string
	Zones    []string
	Via      string // "session" or "token <id>"
	TokenID  string
	Password bool // signed in with a password (a session), not a token
}

// PrincipalOf is the principal of a user reached by via.
func PrincipalOf(u *User, via string) *Principal {
	return &Principal{User: u.Name, Name: u.Display(), Role: u.Role, Party: u.Party, Zones: u.Zones, Via: via}
}

func (p *Principal) allZones() bool {
	return p.Role == RoleAdmin || p.Role == RoleDutyOfficer || p.Role == RoleViewer
}

func (p *Principal) inZones(zone string) bool { return len(p.Zones) > 0 && matchAny(p.Zones, zone) }

// SeesZone reports whether the principal may see the zone and its alerts.
// A zone it may not see is, to it, a zone that does not exist.
func (p *Principal) SeesZone(zone string) bool {
	switch {
	case p == nil:
		return false
	case p.allZones():
		return true
	case p.Role == RoleLiaison:
		return p.inZones(zone)
	}
	return false
}

// ActsOn reports whether the principal may acknowledge, resolve, verify,
// comment on and snooze alerts of the zone.
func (p *Principal) ActsOn(zone string) bool {
	switch {
	case p == nil:
		return false
	case p.Role == RoleAdmin || p.Role == RoleDutyOfficer:
		return true
	case p.Role == RoleLiaison:
		return p.inZones(zone)
	}
	return false
}

// Submits reports whether the principal may submit reports for the zone.
func (p *Principal) Submits(zone string) bool {
	switch {
	case p == nil:
		return false
	case p.Role == RoleAdmin || p.Role == RoleDutyOfficer:
		return true
	case p.Role == RoleLiaison || p.Role == RoleReporter:
		return p.inZones(zone)
	}
	return false
}

// Administers reports whether the principal may change the configuration,
// manage users and read the audit log.
func (p *Principal) Administers() bool { return p != nil && p.Role == RoleAdmin }

// ReadsConfig reports whether the principal may read the whole
// configuration (rules, policies, contacts, schedules), which names every
// zone.
func (p *Principal) ReadsConfig() bool { return p != nil && p.allZones() }

// Actor is who the principal acts as on an alert. A party given with the
// action must be the principal's own: nobody acts for another party.
func (p *Principal) Actor(party string) (Actor, error) {
	if party != "" && party != p.Party {
		if p.Party == "" {
			return Actor{}, Errorf(EFORBIDDEN, "%s acts for no party, so cannot act on behalf of %s", p.User, party)
		}
		return Actor{}, Errorf(EFORBIDDEN, "%s acts for %s, not %s", p.User, p.Party, party)
	}
	return Actor{Name: p.Name, Party: p.Party}, nil
}

// Token is an API token's record; the secret itself is stored only hashed
// and shown once, when the token is made.
type Token struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	Name      string     `json:"name"` // what it is for ("party-a ingest")
	Hash      string     `json:"hash,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// Parent is the token this one was made with, if any: it expires no
	// later than its parent, and stops working when its parent does.
	Parent string `json:"parent,omitempty"`
}

// MaxTokenDepth bounds a chain of tokens made with tokens.
const MaxTokenDepth = 8

// Usable reports whether the token works at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}

// Session is a signed-in board's session; the cookie holds its secret id,
// the store only a hash of it.
type Session struct {
	User      string    `json:"user"`
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}
