package email

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"
)

// TLS modes of Config.TLS.
const (
	// TLSStartTLS upgrades the connection with STARTTLS and fails when the
	// server does not offer it: there is no plain-text fallback. It is
	// the default.
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, usually port 465).
	TLSImplicit = "tls"
	// TLSNone sends in plain text; only for a relay on the same host or a
	// trusted network. SMTP AUTH is then refused unless the host is
	// localhost, 127.0.0.1 or ::1.
	TLSNone = "none"
)

// DefaultTimeout bounds one delivery attempt when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

// Config is where and how a Sender delivers mail: one SMTP relay.
//
// Its String, GoString and LogValue never show the password.
type Config struct {
	// Host is the relay's host name or IP address, without a port.
	Host string
	// Port is the relay's port: usually 587 for STARTTLS, 465 for
	// implicit TLS, 25 for a local relay.
	Port int
	// Username and Password authenticate with SMTP AUTH (PLAIN, or LOGIN
	// when the server offers no PLAIN); both or neither.
	Username, Password string
	// From is the sender's address, "alerts@example.org" or
	// "Truceline <alerts@example.org>".
	From string
	// TLS is TLSStartTLS ("starttls", the default when empty),
	// TLSImplicit ("tls") or TLSNone ("none").
	TLS string
	// Timeout bounds one delivery attempt, from dialling to the server's
	// acceptance of the message; 0 means DefaultTimeout.
	Timeout time.Duration
	// TLSConfig, when set, configures TLS, e.g. RootCAs for a relay with a
	// private CA. Its ServerName defaults to Host. nil means the system's
	// roots and ServerName Host.
	TLSConfig *tls.Config
}

// tlsMode returns c.TLS with the default applied.
func (c Config) tlsMode() string {
	if c.TLS == "" {
		return TLSStartTLS
	}
	return c.TLS
}

// timeout returns c.Timeout with the default applied.
func (c Config) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// addr returns host:port.
func (c Config) addr() string { return net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) }

// isLocalhost mirrors go-mail's rule for sending credentials without TLS.
func isLocalhost(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// Validate returns every problem of c, each starting with the field it is
// about ("port: must be 1 to 65535"); none means c is usable. No problem
// quotes the password.
func (c Config) Validate() []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch host := c.Host; {
	case strings.TrimSpace(host) == "":
		add("host: is required")
	case strings.ContainsAny(host, " \t\r\n/@[]"):
		add("host: %q is not a host name or IP address", host)
	case strings.Contains(host, ":") && net.ParseIP(host) == nil:
		add("host: %q must not include a port; set port instead", host)
	}
	if c.Port < 1 || c.Port > 65535 {
		add("port: must be 1 to 65535, not %d", c.Port)
	}
	if strings.TrimSpace(c.From) == "" {
		add("from: is required")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		add("from: %q is not a valid email address", c.From)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		add("tls: must be %q, %q or %q, not %q", TLSStartTLS, TLSImplicit, TLSNone, c.TLS)
	}
	switch {
	case c.Username != "" && c.Password == "":
		add("password: is required with a username")
	case c.Username == "" && c.Password != "":
		add("username: is required with a password")
	}
	if c.Username != "" && c.TLS == TLSNone && !isLocalhost(c.Host) {
		add("tls: %q would send the password in plain text; use %q or %q, or a relay on localhost",
			TLSNone, TLSStartTLS, TLSImplicit)
	}
	if c.Timeout < 0 {
		add("timeout: must not be negative")
	}
	return problems
}

// passwordState is what String and LogValue show for the password.
func (c Config) passwordState() string {
	if c.Password == "" {
		return "unset"
	}
	return "set"
}

// String describes c without its password.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "smtp{host: %s, port: %d, tls: %s, from: %s", c.Host, c.Port, c.tlsMode(), c.From)
	if c.Username != "" {
		fmt.Fprintf(&b, ", username: %s", c.Username)
	}
	fmt.Fprintf(&b, ", password: %s, timeout: %s", c.passwordState(), c.timeout())
	if c.TLSConfig != nil {
		b.WriteString(", tls config: custom")
	}
	b.WriteString("}")
	return b.String()
}

// GoString is String, so that %#v does not show the password either.
func (c Config) GoString() string { return "email.Config" + c.String() }

// LogValue describes c for log/slog without its password.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("host", c.Host),
		slog.Int("port", c.Port),
		slog.String("tls", c.tlsMode()),
		slog.String("from", c.From),
		slog.String("username", c.Username),
		slog.String("password", c.passwordState()),
		slog.Duration("timeout", c.timeout()),
	}
	if c.TLSConfig != nil {
		attrs = append(attrs, slog.Bool("custom_tls_config", true))
	}
	return slog.GroupValue(attrs...)
}

var (
	_ fmt.Stringer   = Config{}
	_ fmt.GoStringer = Config{}
	_ slog.LogValuer = Config{}
)
