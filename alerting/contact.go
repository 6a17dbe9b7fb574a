package alerting

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// Contact is someone escalation reaches: a person, a desk or a liaison
// team's own system, by one or more methods. A step notifies every method
// of each contact it reaches.
type Contact struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Party is the party on whose behalf the contact acknowledges alerts
	// with the link in a notification; empty for a contact of the centre.
	Party string `json:"party,omitempty"`
	// Zones are the zones the contact covers (ids or globs, as a
	// liaison's): it is notified of alerts in those only, as a liaison
	// sees only its zones on the board. Empty: every zone.
	Zones   []string `json:"zones,omitempty"`
	Methods []Method `json:"methods"`
}

// Covers reports whether the contact is notified of alerts in zone.
func (c Contact) Covers(zone string) bool { return matchAny(c.Zones, zone) }

// MethodKind is how a method reaches its contact.
type MethodKind string

// Method kinds. KindBoard is not a contact method: it names the
// notifications a step makes to the board itself ("notify: [board]").
const (
	MethodWebhook MethodKind = "webhook"
	MethodEmail   MethodKind = "email"
	MethodNATS    MethodKind = "nats"
	MethodBoard   MethodKind = "board"
)

// BoardTarget is the step target that shows an alert on the board only.
const BoardTarget = "board"

// Method is one way to reach a contact.
type Method struct {
	// ID names the method within its contact ("ops-webhook"); it is part
	// of each notification's idempotency key.
	ID   string     `json:"id"`
	Type MethodKind `json:"type"`
	// URL is where a webhook is POSTed (http or https).
	URL string `json:"url,omitempty"`
	// Secret signs webhooks per Standard Webhooks: "whsec_" and base64 of
	// 24 to 64 random bytes. The API never shows it back.
	Secret string `json:"secret,omitempty"`
	// Address is an email method's recipient.
	Address string `json:"address,omitempty"`
	// Subject is a NATS method's subject, which the contact's own system
	// subscribes to.
	Subject string `json:"subject,omitempty"`
}

// Method returns the contact's method with id.
func (c *Contact) Method(id string) (Method, bool) {
	for _, m := range c.Methods {
		if m.ID == id {
			return m, true
		}
	}
	return Method{}, false
}

// reservedSubjects are the prefixes of truceline's own NATS subjects, which
// a NATS method must not publish into.
var reservedSubjects = []string{"violations.", "alerts.", "rejected.", "$"}

// validate returns the contact's problems, with paths relative to it.
func (c *Contact) validate(add func(path, format string, args ...any), parties map[string]bool) {
	if !ValidZoneID(c.ID) {
		add(".id", "must match [a-z0-9-]{1,64}")
	}
	if c.ID == BoardTarget {
		add(".id", "%q is reserved for the board", BoardTarget)
	}
	if strings.TrimSpace(c.Name) == "" {
		add(".name", "is required")
	}
	if c.Party != "" && !parties[c.Party] {
		add(".party", "unknown party %q", c.Party)
	}
	if len(c.Methods) == 0 {
		add(".methods", "must have at least one method")
	}
	seen := map[string]bool{}
	for i, m := range c.Methods {
		p := fmt.Sprintf(".methods[%d]", i)
		if !ValidZoneID(m.ID) {
			add(p+".id", "must match [a-z0-9-]{1,64}")
		} else if seen[m.ID] {
			add(p+".id", "method %q is defined twice", m.ID)
		}
		seen[m.ID] = true
		unused := func(field, value string) {
			if value != "" {
				add(p+"."+field, "is not used by a %s method", m.Type)
			}
		}
		switch m.Type {
		case MethodWebhook:
			if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				add(p+".url", "must be an http or https URL")
			}
			if err := ValidWebhookSecret(m.Secret); err != nil {
				add(p+".secret", "%v", err)
			}
			unused("address", m.Address)
			unused("subject", m.Subject)
		case MethodEmail:
			if a, err := mail.ParseAddress(m.Address); err != nil || a.Name != "" {
				add(p+".address", "must be a bare email address like duty@example.org")
			}
			unused("url", m.URL)
			unused("secret", m.Secret)
			unused("subject", m.Subject)
		case MethodNATS:
			if !validSubject(m.Subject) {
				add(p+".subject", "must be a NATS subject without wildcards, like liaison.party-a.alerts")
			}
			for _, r := range reservedSubjects {
				if strings.HasPrefix(m.Subject, r) {
					add(p+".subject", "must not start with %q, which truceline uses itself", r)
				}
			}
			unused("url", m.URL)
			unused("secret", m.Secret)
			unused("address", m.Address)
		default:
			add(p+".type", "must be webhook, email or nats")
		}
	}
}

func validSubject(s string) bool {
	if s == "" || len(s) > 256 || strings.ContainsAny(s, " \t\r\n*>") {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			return false
		}
	}
	return true
}

// RedactedSecret stands for a secret in what the API shows. Applying it back
// keeps the secret already stored.
const RedactedSecret = "(redacted)"

// Redacted returns the contact with its secrets replaced by RedactedSecret.
func (c Contact) Redacted() Contact {
	c.Methods = append([]Method(nil), c.Methods...)
	for i := range c.Methods {
		if c.Methods[i].Secret != "" {
			c.Methods[i].Secret = RedactedSecret
		}
	}
	return c
}

// WebhookSecretPrefix starts every webhook signing secret.
const WebhookSecretPrefix = "whsec_"

// ValidWebhookSecret checks a Standard Webhooks signing secret: the prefix
// whsec_ and 24 to 64 bytes in base64.
func ValidWebhookSecret(s string) error {
	raw, ok := strings.CutPrefix(s, WebhookSecretPrefix)
	if !ok {
		return fmt.Errorf("must start with %q (generate one with: trucectl secret)", WebhookSecretPrefix)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return fmt.Errorf("must be %q followed by base64", WebhookSecretPrefix)
	}
	if len(b) < 24 || len(b) > 64 {
		return fmt.Errorf("must hold 24 to 64 bytes, not %d", len(b))
	}
	return nil
}

// Redacted returns the configuration with every contact's secrets replaced
// by RedactedSecret, for showing.
func (c Config) Redacted() Config {
	c.Contacts = slices.Clone(c.Contacts)
	for i := range c.Contacts {
		c.Contacts[i] = c.Contacts[i].Redacted()
	}
	return c
}

// KeepSecrets returns add with each RedactedSecret replaced by the secret
// current holds for the same contact and method, so that a configuration
// read from the API (which redacts secrets) can be applied back. A
// redacted secret with nothing stored stays, and fails validation.
func KeepSecrets(current, add Config) Config {
	stored := map[[2]string]string{}
	for _, c := range current.Contacts {
		for _, m := range c.Methods {
			stored[[2]string{c.ID, m.ID}] = m.Secret
		}
	}
	add.Contacts = slices.Clone(add.Contacts)
	for i := range add.Contacts {
		c := &add.Contacts[i]
		c.Methods = slices.Clone(c.Methods)
		for j := range c.Methods {
			m := &c.Methods[j]
			if s, ok := stored[[2]string{c.ID, m.ID}]; ok && m.Secret == RedactedSecret {
				m.Secret = s
			}
		}
	}
	return add
}
