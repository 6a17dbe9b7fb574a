package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats.go"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/email"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/configs"
)

// Embedded is the value of NATSURL and RedisURL that makes truceline run the
// dependency itself.
const Embedded = "embedded"

// Config is the whole server configuration. Every field can come from the
// YAML file (--config), from a TRUCELINE_… environment variable or from a
// flag; configs/truceline.yaml documents each with its default.
type Config struct {
	DataDir    string `yaml:"data_dir"`
	HTTPAddr   string `yaml:"http_addr"`
	NATSURL    string `yaml:"nats_url"`
	NATSListen string `yaml:"nats_listen"`
	NATSPrefix string `yaml:"nats_prefix"`
	// NATSMaxMemoryMB and NATSMaxStoreMB cap the embedded JetStream.
	NATSMaxMemoryMB int64 `yaml:"nats_max_memory_mb"`
	NATSMaxStoreMB  int64 `yaml:"nats_max_store_mb"`
	// StreamReplicas is the JetStream replica count of truceline's streams
	// and bucket: 1 for a single server, 3 (or 5) on a cluster.
	StreamReplicas int `yaml:"stream_replicas"`
	// AlertsMaxMB caps ALERTS and the compacted record of every alert
	// each, so that they never fill the store that VIOLATIONS needs.
	AlertsMaxMB int64 `yaml:"alerts_max_mb"`
	// RejectedMaxMB caps REJECTED, and AuditMaxMB AUDIT (the oldest
	// entries go first).
	RejectedMaxMB int64 `yaml:"rejected_max_mb"`
	AuditMaxMB    int64 `yaml:"audit_max_mb"`
	// NATSUsers are the embedded server's liaison users (YAML only). The
	// server requires authentication, with or without them, unless
	// NATSOpen (or the demo without users) opens it.
	NATSUsers []NATSUser `yaml:"nats_users"`
	// NATSOpen lets anyone who reaches the embedded server connect
	// without credentials and do anything: for local trials only.
	NATSOpen bool `yaml:"nats_open"`
	// WSHeartbeat is how often each board gets a heartbeat frame; a board
	// that hears nothing for two of them shows itself stale.
	WSHeartbeat time.Duration `yaml:"ws_heartbeat"`
	// An external NATS server's credentials and TLS, besides the user and
	// password its URL may carry: a .creds file (JWT and nkey seed) or an
	// nkey seed file; a CA file to verify the server; a client certificate.
	NATSCredentials string `yaml:"nats_credentials"`
	NATSNkeySeed    string `yaml:"nats_nkey_seed"`
	NATSTLSCA       string `yaml:"nats_tls_ca"`
	NATSTLSCert     string `yaml:"nats_tls_cert"`
	NATSTLSKey      string `yaml:"nats_tls_key"`
	RedisURL        string `yaml:"redis_url"`
	RedisPrefix     string `yaml:"redis_prefix"`
	// TLS of a rediss:// Redis: a CA file to verify the server (a private
	// CA) and a client certificate.
	RedisTLSCA   string `yaml:"redis_tls_ca"`
	RedisTLSCert string `yaml:"redis_tls_cert"`
	RedisTLSKey  string `yaml:"redis_tls_key"`
	// GroupWindow is how far apart reports of a zone and category may be
	// and share an alert.
	GroupWindow time.Duration `yaml:"group_window"`
	// LateAfter is how long after its observed time a report may arrive
	// before it is late: it then pages nobody unless a rule takes late
	// reports (docs/RULES.md#late-reports); 0 means never late.
	LateAfter      time.Duration `yaml:"late_after"`
	Demo           bool          `yaml:"demo"`
	DemoRate       float64       `yaml:"demo_rate"`
	AllowedOrigins []string      `yaml:"allowed_origins"`
	// WebhookAllowNetworks are private or local networks (CIDR, or one
	// address) webhooks may be sent to all the same; WebhookDenyNetworks
	// public ones they may not. Private and local addresses are denied
	// by default, so that a webhook method cannot reach services behind
	// the centre's firewall.
	WebhookAllowNetworks []string `yaml:"webhook_allow_networks"`
	WebhookDenyNetworks  []string `yaml:"webhook_deny_networks"`
	// WSCompression enables permessage-deflate on the WebSocket when a
	// client offers it: less bandwidth, more CPU per frame.
	WSCompression bool   `yaml:"ws_compression"`
	LogFormat     string `yaml:"log_format"`
	LogLevel      string `yaml:"log_level"`
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) on its
	// own listener, apart from the API: keep it on loopback.
	DebugAddr string `yaml:"debug_addr"`

	// PublicURL is where people reach this server, for the links in
	// notifications; "" means http:// and the HTTP address.
	PublicURL string `yaml:"public_url"`
	// AckLinkSecret signs acknowledge links (at least 32 bytes); ""
	// means one generated once and kept in Redis, shared by replicas.
	AckLinkSecret string        `yaml:"ack_link_secret"`
	AckLinkTTL    time.Duration `yaml:"ack_link_ttl"`
	// Delivery of notifications: attempts before giving up, the first
	// retry's delay (doubling up to the maximum), one attempt's timeout,
	// and deliveries per second to one destination (normal lane).
	DeliveryAttempts   int           `yaml:"delivery_attempts"`
	DeliveryBackoff    time.Duration `yaml:"delivery_backoff"`
	DeliveryMaxBackoff time.Duration `yaml:"delivery_max_backoff"`
	DeliveryTimeout    time.Duration `yaml:"delivery_timeout"`
	DeliveryRate       float64       `yaml:"delivery_rate"`
	// SMTP relay for email methods; no host means no email.
	SMTPHost     string `yaml:"smtp_host"`
	SMTPPort     int    `yaml:"smtp_port"`
	SMTPUsername string `yaml:"smtp_username"`
	SMTPPassword string `yaml:"smtp_password"`
	SMTPFrom     string `yaml:"smtp_from"`
	SMTPTLS      string `yaml:"smtp_tls"`
	// SMTPTLSConfig is for tests (a private CA); not configurable.
	SMTPTLSConfig *tls.Config `yaml:"-"`

	// SessionTTL is how long a board's sign-in lasts.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// ShutdownDrain is how long /readyz answers 503 before the listener
	// closes on shutdown, when something (a load balancer) checked it in
	// the last 30 s, so it stops sending new work first.
	ShutdownDrain time.Duration `yaml:"shutdown_drain"`
	// Rates accepted per minute: reports per caller (four times that per
	// address), sign-in attempts per address and per user name, WebSocket
	// connections per address. 0 means unlimited.
	RateReports    float64 `yaml:"rate_reports_per_minute"`
	RateLogins     float64 `yaml:"rate_logins_per_minute"`
	RateWebSockets float64 `yaml:"rate_websockets_per_minute"`
	// RateClock is the clock the rate limits refill by; nil means the real
	// one. Not a setting: tests stop it.
	RateClock func() time.Time `yaml:"-"`
	// BootstrapAdmin names the admin created at start when there is none;
	// its password comes from TRUCELINE_BOOTSTRAP_PASSWORD or is generated
	// and printed once on standard output.
	BootstrapAdmin string `yaml:"bootstrap_admin"`
	// BootstrapPassword is TRUCELINE_BOOTSTRAP_PASSWORD: environment only.
	BootstrapPassword string `yaml:"-"`
	// PasswordCost is the bcrypt cost of stored passwords, and the least a
	// sign-in spends; 0 means 12. Not a setting: tests lower it, since a
	// sign-in at cost 12 takes seconds under the race detector.
	PasswordCost int `yaml:"-"`
	// The daily summary's reporting day ends at this hour in this time
	// zone (0: the calendar day).
	SummaryCutoffHour int    `yaml:"summary_cutoff_hour"`
	SummaryTimezone   string `yaml:"summary_timezone"`
}

// NATSUser is a liaison system's user of the embedded NATS server: it may
// publish reports of its zones (violations.<zone>.>) and follow their alert
// changes (alerts.<zone>.>), nothing else.
type NATSUser struct {
	User string `yaml:"user"`
	// PasswordBcrypt is a bcrypt hash of the password ("$2a$…").
	PasswordBcrypt string   `yaml:"password_bcrypt"`
	Zones          []string `yaml:"zones"`
	// NotifySubjects are subjects the user may also subscribe to: those
	// of its contacts' NATS notification methods (liaison.party-a.>).
	NotifySubjects []string `yaml:"notify_subjects"`
}

// DefaultConfig is the configuration of `truceline serve` with no options:
// everything embedded, the board on 127.0.0.1:8080.
func DefaultConfig() Config {
	return Config{
		DataDir:         "./truceline-data",
		HTTPAddr:        "127.0.0.1:8080",
		NATSURL:         Embedded,
		NATSListen:      "127.0.0.1:14222",
		NATSMaxMemoryMB: 64,
		NATSMaxStoreMB:  4096,
		StreamReplicas:  1,
		AlertsMaxMB:     512,
		RejectedMaxMB:   broker.DefaultRejectedMaxMB,
		AuditMaxMB:      broker.DefaultAuditMaxMB,
		ShutdownDrain:   5 * time.Second,
		NATSUsers:       []NATSUser{},
		RedisURL:        Embedded,
		RedisPrefix:     "tl:",
		GroupWindow:     10 * time.Minute,
		LateAfter:       alerting.DefaultLateAfter,
		WSHeartbeat:     5 * time.Second,
		DemoRate:        1,
		AllowedOrigins:  []string{},

		WebhookAllowNetworks: []string{},
		WebhookDenyNetworks:  []string{},
		LogFormat:            "text",
		LogLevel:             "info",

		AckLinkTTL:         alerting.DefaultAckLinkTTL,
		DeliveryAttempts:   alerting.DefaultAttempts,
		DeliveryBackoff:    alerting.DefaultBackoff,
		DeliveryMaxBackoff: alerting.DefaultMaxBackoff,
		DeliveryTimeout:    10 * time.Second,
		DeliveryRate:       20,
		SMTPPort:           587,
		SMTPTLS:            email.TLSStartTLS,

		SessionTTL:     12 * time.Hour,
		RateReports:    6000,
		RateLogins:     10,
		RateWebSockets: 60,

		SummaryTimezone: "UTC",
	}
}

// LoadFile overlays the options a YAML file sets onto c. Unknown options are
// errors that name the line.
func (c *Config) LoadFile(name string, data []byte) error {
	if err := configs.CheckAliases(data); err != nil {
		return fmt.Errorf("config file %s: %w", name, err)
	}
	if err := yaml.UnmarshalWithOptions(data, c, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return fmt.Errorf("config file %s: %s", name, yaml.FormatError(err, false, false))
	}
	return nil
}

// Validate names every bad option, by its flag name, and what is wrong.
func (c *Config) Validate() error {
	var problems []string
	bad := func(option, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("--%s: %s", option, fmt.Sprintf(format, args...)))
	}
	if c.DataDir == "" {
		bad("data-dir", "must not be empty")
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		bad("http-addr", "%q %v", c.HTTPAddr, err)
	}
	if c.DebugAddr != "" {
		if err := checkHostPort(c.DebugAddr); err != nil {
			bad("debug-addr", "%q %v", c.DebugAddr, err)
		}
	}
	if c.NATSURL != Embedded {
		// A cluster's servers, comma-separated, or one server.
		for part := range strings.SplitSeq(c.NATSURL, ",") {
			if err := checkURL(part, "nats", "tls", "ws", "wss"); err != nil {
				bad("nats-url", "%v", err)
			}
		}
		if len(c.NATSUsers) > 0 {
			problems = append(problems, "nats_users: applies only to the embedded NATS server (nats_url: embedded); "+
				"configure the users of an external server on that server")
		}
		if c.NATSOpen {
			bad("nats-open", "applies only to the embedded NATS server (nats_url: embedded)")
		}
		if c.NATSCredentials != "" && c.NATSNkeySeed != "" {
			bad("nats-credentials", "and --nats-nkey-seed both set: use one (a .creds file already holds the nkey seed)")
		}
		checkFile(bad, "nats-credentials", c.NATSCredentials)
		checkFile(bad, "nats-nkey-seed", c.NATSNkeySeed)
		checkCA(bad, "nats-tls-ca", c.NATSTLSCA)
		checkKeyPair(bad, "nats-tls", c.NATSTLSCert, c.NATSTLSKey)
	} else {
		if err := checkHostPort(c.NATSListen); err != nil {
			bad("nats-listen", "%q %v", c.NATSListen, err)
		}
		for _, p := range broker.CheckEmbeddedUsers(c.NATSPrefix, c.embeddedUsers()) {
			problems = append(problems, "nats_users: "+p)
		}
		if c.NATSOpen && len(c.NATSUsers) > 0 {
			bad("nats-open", "and nats_users both set: an open server has no users")
		}
		for _, o := range []struct{ flag, value string }{{"nats-credentials", c.NATSCredentials},
			{"nats-nkey-seed", c.NATSNkeySeed}, {"nats-tls-ca", c.NATSTLSCA}, {"nats-tls-cert", c.NATSTLSCert},
			{"nats-tls-key", c.NATSTLSKey}} {
			if o.value != "" {
				bad(o.flag, "applies only to an external --nats-url; truceline connects to the embedded server in-process")
			}
		}
	}
	if c.NATSPrefix != "" && (!strings.HasSuffix(c.NATSPrefix, ".") || strings.ContainsAny(c.NATSPrefix, " *>")) {
		bad("nats-prefix", "%q must end with a dot and contain no spaces or wildcards", c.NATSPrefix)
	}
	if c.NATSMaxMemoryMB < 16 {
		bad("nats-max-memory-mb", "must be at least 16")
	}
	if c.NATSMaxStoreMB < 64 {
		bad("nats-max-store-mb", "must be at least 64")
	}
	switch {
	case c.StreamReplicas != 1 && c.StreamReplicas != 3 && c.StreamReplicas != 5:
		bad("stream-replicas", "%d: must be 1, 3 or 5", c.StreamReplicas)
	case c.StreamReplicas != 1 && c.NATSURL == Embedded:
		bad("stream-replicas", "%d: the embedded NATS is one server; replicas need an external NATS cluster (--nats-url)", c.StreamReplicas)
	}
	if c.RejectedMaxMB < 16 {
		bad("rejected-max-mb", "must be at least 16")
	}
	if c.AuditMaxMB < 16 {
		bad("audit-max-mb", "must be at least 16")
	}
	if c.AlertsMaxMB < 16 {
		bad("alerts-max-mb", "must be at least 16")
	} else if derived := c.RejectedMaxMB + c.AuditMaxMB + broker.StateMaxMB; c.NATSURL == Embedded && 2*c.AlertsMaxMB+derived > c.NATSMaxStoreMB/2 {
		bad("alerts-max-mb", "%d MiB twice (ALERTS and the compacted record), with %d MiB for rejected input, the audit log and the state bucket, leaves less than half of --nats-max-store-mb (%d MiB) to the reports: lower it (or --rejected-max-mb, --audit-max-mb) or raise --nats-max-store-mb",
			c.AlertsMaxMB, derived, c.NATSMaxStoreMB)
	}
	if c.RedisURL != Embedded {
		if err := checkURL(c.RedisURL, "redis", "rediss", "unix"); err != nil {
			bad("redis-url", "%v", err)
		}
	}
	if c.RedisTLSCA != "" || c.RedisTLSCert != "" || c.RedisTLSKey != "" {
		if u, err := url.Parse(c.RedisURL); err != nil || u.Scheme != "rediss" {
			bad("redis-url", "%q: --redis-tls-ca, --redis-tls-cert and --redis-tls-key need a rediss:// URL", redact(c.RedisURL))
		}
		checkCA(bad, "redis-tls-ca", c.RedisTLSCA)
		checkKeyPair(bad, "redis-tls", c.RedisTLSCert, c.RedisTLSKey)
	}
	if c.RedisPrefix == "" {
		bad("redis-prefix", "must not be empty")
	}
	if c.WSHeartbeat < 100*time.Millisecond || c.WSHeartbeat > time.Minute {
		bad("ws-heartbeat", "%s is outside 100ms to 1m", c.WSHeartbeat)
	}
	if c.GroupWindow < time.Second || c.GroupWindow > 7*24*time.Hour {
		bad("group-window", "%s is outside 1s to 168h", c.GroupWindow)
	}
	if c.LateAfter < 0 || c.LateAfter > 30*24*time.Hour {
		bad("late-after", "%s is outside 0 to 720h", c.LateAfter)
	}
	if c.DemoRate < 0 || c.DemoRate > 10000 {
		bad("demo-rate", "%g is outside 0 to 10000 reports per second", c.DemoRate)
	}
	for i, o := range c.AllowedOrigins {
		o = strings.TrimRight(o, "/")
		c.AllowedOrigins[i] = o
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			bad("allowed-origins", "%q is not an origin like https://board.example.org", o)
		}
	}
	for option, networks := range map[string][]string{"webhook-allow-networks": c.WebhookAllowNetworks, "webhook-deny-networks": c.WebhookDenyNetworks} {
		for _, n := range networks {
			if _, err := parseNetwork(n); err != nil {
				bad(option, "%q is not a network like 10.20.0.0/16 or an address like 10.20.0.5", n)
			}
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log-format", "%q must be text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	if c.PublicURL != "" {
		c.PublicURL = strings.TrimRight(c.PublicURL, "/")
		if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("public-url", "%q is not a URL like https://truceline.example.org", c.PublicURL)
		}
	}
	if c.AckLinkSecret != "" && len(c.AckLinkSecret) < 32 {
		bad("ack-link-secret", "must be at least 32 characters (generate one with: trucectl secret)")
	}
	if c.AckLinkTTL < time.Minute || c.AckLinkTTL > 30*24*time.Hour {
		bad("ack-link-ttl", "%s is outside 1m to 720h", c.AckLinkTTL)
	}
	if c.DeliveryAttempts < 1 || c.DeliveryAttempts > 100 {
		bad("delivery-attempts", "%d is outside 1 to 100", c.DeliveryAttempts)
	}
	if c.DeliveryBackoff < 10*time.Millisecond || c.DeliveryMaxBackoff < c.DeliveryBackoff {
		bad("delivery-backoff", "%s must be at least 10ms and at most --delivery-max-backoff (%s)", c.DeliveryBackoff, c.DeliveryMaxBackoff)
	}
	if c.DeliveryTimeout < 100*time.Millisecond || c.DeliveryTimeout > time.Minute {
		bad("delivery-timeout", "%s is outside 100ms to 1m", c.DeliveryTimeout)
	}
	if c.DeliveryRate <= 0 {
		bad("delivery-rate", "must be above 0")
	}
	if c.SMTPHost != "" {
		for _, p := range c.smtp().Validate() {
			bad("smtp", "%s", p)
		}
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("session-ttl", "%s is outside 1m to 720h", c.SessionTTL)
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"rate-reports-per-minute", c.RateReports}, {"rate-logins-per-minute", c.RateLogins}, {"rate-websockets-per-minute", c.RateWebSockets}} {
		if r.v < 0 {
			bad(r.name, "must not be negative (0 means unlimited)")
		}
	}
	if c.SummaryCutoffHour < 0 || c.SummaryCutoffHour > 23 {
		bad("summary-cutoff-hour", "%d is not an hour from 0 to 23", c.SummaryCutoffHour)
	}
	if _, err := time.LoadLocation(c.SummaryTimezone); err != nil || c.SummaryTimezone == "" {
		bad("summary-timezone", "%q is not a time zone like UTC or Europe/Kyiv", c.SummaryTimezone)
	}
	if c.BootstrapAdmin != "" && !alerting.ValidUserName(c.BootstrapAdmin) {
		bad("bootstrap-admin", "%q is not a user name: a-z, 0-9, '.', '_' and '-'", c.BootstrapAdmin)
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("is not HOST:PORT")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("has no port from 0 to 65535")
	}
	return nil
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a URL (or %q)", redact(raw), Embedded)
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%q: scheme must be one of %s (or the value %q)", redact(raw), strings.Join(schemes, ", "), Embedded)
}

// checkFile names a file option whose file cannot be read.
func checkFile(bad func(string, string, ...any), option, path string) {
	if path == "" {
		return
	}
	if _, err := os.ReadFile(path); err != nil {
		bad(option, "%v", err)
	}
}

// checkCA names a CA file that cannot be read or holds no PEM certificate.
func checkCA(bad func(string, string, ...any), option, path string) {
	if path == "" {
		return
	}
	if _, err := loadCA(path); err != nil {
		bad(option, "%v", err)
	}
}

// checkKeyPair names a client certificate without its key (or the other
// way round) and a pair that cannot be loaded. option is the options'
// common stem: "nats-tls" for --nats-tls-cert and --nats-tls-key.
func checkKeyPair(bad func(string, string, ...any), option, cert, key string) {
	switch {
	case cert == "" && key == "":
	case cert == "":
		bad(option+"-cert", "is required with --%s-key", option)
	case key == "":
		bad(option+"-key", "is required with --%s-cert", option)
	default:
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			bad(option+"-cert", "with --%s-key: %v", option, err)
		}
	}
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// embeddedUsers are the liaison users of the embedded NATS server.
// embeddedOpen says whether the embedded NATS server takes clients
// without credentials: when asked to, or for the demo without users.
func (c *Config) embeddedOpen() bool { return c.NATSOpen || (c.Demo && len(c.NATSUsers) == 0) }

func (c *Config) embeddedUsers() []broker.EmbeddedUser {
	users := make([]broker.EmbeddedUser, 0, len(c.NATSUsers))
	for _, u := range c.NATSUsers {
		users = append(users, broker.EmbeddedUser{Name: u.User, PasswordHash: u.PasswordBcrypt, Zones: u.Zones,
			NotifySubjects: u.NotifySubjects})
	}
	return users
}

// natsOptions are the credentials and TLS options of an external NATS.
func (c *Config) natsOptions() ([]nats.Option, error) {
	var opts []nats.Option
	if c.NATSCredentials != "" {
		opts = append(opts, nats.UserCredentials(c.NATSCredentials))
	}
	if c.NATSNkeySeed != "" {
		o, err := nats.NkeyOptionFromSeed(c.NATSNkeySeed)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey-seed %s: %w", c.NATSNkeySeed, err)
		}
		opts = append(opts, o)
	}
	if c.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(c.NATSTLSCA))
	}
	if c.NATSTLSCert != "" {
		opts = append(opts, nats.ClientCert(c.NATSTLSCert, c.NATSTLSKey))
	}
	return opts, nil
}

// redisTLS adds the CA and client certificate options to the TLS
// configuration of a rediss:// URL.
func (c *Config) redisTLS(t *tls.Config) error {
	if c.RedisTLSCA != "" {
		pool, err := loadCA(c.RedisTLSCA)
		if err != nil {
			return fmt.Errorf("--redis-tls-ca: %w", err)
		}
		t.RootCAs = pool
	}
	if c.RedisTLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.RedisTLSCert, c.RedisTLSKey)
		if err != nil {
			return fmt.Errorf("--redis-tls-cert: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return nil
}

// redisError says what a failed first command to Redis at addr (over TLS
// when overTLS) means, and what to do.
func redisError(addr string, overTLS bool, err error) error {
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch msg := err.Error(); {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"), strings.Contains(msg, "AUTH failed"):
		return fmt.Errorf("redis at %s refused truceline's credentials (%w): check the user and password in "+
			"--redis-url (TRUCELINE_REDIS_URL)", addr, err)
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis at %s: the ACL user of --redis-url lacks a permission truceline needs (%w); "+
			"see docs/REDIS.md#security", addr, err)
	case errors.As(err, &cert), errors.As(err, &unknownCA), errors.As(err, &hostname):
		return fmt.Errorf("redis at %s: its TLS certificate is not trusted (%w): name its CA with --redis-tls-ca "+
			"(TRUCELINE_REDIS_TLS_CA)", addr, err)
	case strings.Contains(msg, "remote error: tls:"),
		// Under TLS 1.3 the client may learn of the refusal only as a
		// closed connection, before it reads the server's alert.
		strings.Contains(msg, "tls error") && strings.Contains(msg, "closed by remote after TLS handshake"),
		// or as a reset of the connection it has just opened.
		overTLS && errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("redis at %s refused the TLS connection (%w): if it requires a client certificate, set "+
			"--redis-tls-cert and --redis-tls-key", addr, err)
	}
	return fmt.Errorf("redis at %s does not answer (%w): start it, or check --redis-url (TRUCELINE_REDIS_URL)", addr, err)
}

// natsError says what a failed connection to NATS at url (redacted)
// means, and what to do.
func natsError(url string, err error) error {
	var cert *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	switch msg := err.Error(); {
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("connect to NATS at %s: %w: check the user and password in --nats-url, or "+
			"--nats-credentials or --nats-nkey-seed", url, err)
	case errors.As(err, &cert), errors.As(err, &unknownCA), errors.As(err, &hostname):
		return fmt.Errorf("connect to NATS at %s: %w: its TLS certificate is not trusted; name its CA with "+
			"--nats-tls-ca (TRUCELINE_NATS_TLS_CA)", url, err)
	case strings.Contains(msg, "remote error: tls:"),
		// Under TLS 1.3 the client may learn of the refusal only as a
		// closed connection, before it reads the server's alert.
		strings.Contains(msg, "tls error") && strings.Contains(msg, "closed by remote after TLS handshake"):
		return fmt.Errorf("connect to NATS at %s: %w: the server refused the TLS connection; if it requires a "+
			"client certificate, set --nats-tls-cert and --nats-tls-key", url, err)
	}
	return fmt.Errorf("connect to NATS at %s: %w", url, err)
}

// isLoopback reports whether a listen host reaches only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scrub removes every trace of raw's password from an error message.
func scrub(err error, raw string) error {
	if err == nil {
		return nil
	}
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	msg := err.Error()
	if p, ok := u.User.Password(); ok && p != "" && strings.Contains(msg, p) {
		msg = strings.ReplaceAll(msg, raw, u.Redacted())
		msg = strings.ReplaceAll(msg, p, "xxxxx")
		return errors.New(msg)
	}
	return err
}

// redact hides a URL's password so configuration errors never print it.
func redact(raw string) string {
	if parts := strings.Split(raw, ","); len(parts) > 1 {
		for i, p := range parts {
			parts[i] = redact(p)
		}
		return strings.Join(parts, ",")
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// smtp is the email sender's configuration.
func (c *Config) smtp() email.Config {
	return email.Config{Host: c.SMTPHost, Port: c.SMTPPort, Username: c.SMTPUsername, Password: c.SMTPPassword,
		From: c.SMTPFrom, TLS: c.SMTPTLS, Timeout: c.DeliveryTimeout, TLSConfig: c.SMTPTLSConfig}
}

// parseNetwork reads a CIDR prefix, or one address as a prefix of it alone.
func parseNetwork(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// webhookDestinations is where webhooks may go. The demo's webhooks go to
// its own inbox, on this server: its address is allowed.
func (c *Config) webhookDestinations(publicURL string) *webhook.Destinations {
	d := &webhook.Destinations{}
	for _, n := range c.WebhookAllowNetworks {
		if p, err := parseNetwork(n); err == nil {
			d.Allow = append(d.Allow, p)
		}
	}
	for _, n := range c.WebhookDenyNetworks {
		if p, err := parseNetwork(n); err == nil {
			d.Deny = append(d.Deny, p)
		}
	}
	if c.Demo {
		d.Allow = append(d.Allow, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
		if u, err := url.Parse(publicURL); err == nil {
			if a, err := netip.ParseAddr(u.Hostname()); err == nil {
				d.Allow = append(d.Allow, netip.PrefixFrom(a, a.BitLen()))
			}
		}
	}
	return d
}
