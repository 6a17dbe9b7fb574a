package app

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/email"
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
	NATSMaxMemoryMB int64  `yaml:"nats_max_memory_mb"`
	NATSMaxStoreMB  int64  `yaml:"nats_max_store_mb"`
	RedisURL        string `yaml:"redis_url"`
	RedisPrefix     string `yaml:"redis_prefix"`
	// GroupWindow is how far apart reports of a zone and category may be
	// and share an alert.
	GroupWindow    time.Duration `yaml:"group_window"`
	Demo           bool          `yaml:"demo"`
	DemoRate       float64       `yaml:"demo_rate"`
	AllowedOrigins []string      `yaml:"allowed_origins"`
	// WSCompression enables permessage-deflate on the WebSocket when a
	// client offers it: less bandwidth, more CPU per frame.
	WSCompression bool   `yaml:"ws_compression"`
	LogFormat     string `yaml:"log_format"`
	LogLevel      string `yaml:"log_level"`

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
		RedisURL:        Embedded,
		RedisPrefix:     "tl:",
		GroupWindow:     10 * time.Minute,
		DemoRate:        1,
		AllowedOrigins:  []string{},
		LogFormat:       "text",
		LogLevel:        "info",

		AckLinkTTL:         alerting.DefaultAckLinkTTL,
		DeliveryAttempts:   6,
		DeliveryBackoff:    2 * time.Second,
		DeliveryMaxBackoff: 5 * time.Minute,
		DeliveryTimeout:    10 * time.Second,
		DeliveryRate:       20,
		SMTPPort:           587,
		SMTPTLS:            email.TLSStartTLS,
	}
}

// LoadFile overlays the options a YAML file sets onto c. Unknown options are
// errors that name the line.
func (c *Config) LoadFile(name string, data []byte) error {
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
	if c.NATSURL != Embedded {
		if err := checkURL(c.NATSURL, "nats", "tls", "ws", "wss"); err != nil {
			bad("nats-url", "%v", err)
		}
	} else if err := checkHostPort(c.NATSListen); err != nil {
		bad("nats-listen", "%q %v", c.NATSListen, err)
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
	if c.RedisURL != Embedded {
		if err := checkURL(c.RedisURL, "redis", "rediss", "unix"); err != nil {
			bad("redis-url", "%v", err)
		}
	}
	if c.RedisPrefix == "" {
		bad("redis-prefix", "must not be empty")
	}
	if c.GroupWindow < time.Second || c.GroupWindow > 7*24*time.Hour {
		bad("group-window", "%s is outside 1s to 168h", c.GroupWindow)
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

// redact hides a URL's password so configuration errors never print it.
func redact(raw string) string {
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
