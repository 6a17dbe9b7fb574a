package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/truceline/truceline/cmd/truceline/app"
)

// option binds one configuration field to a flag and a TRUCELINE_…
// environment variable.
type option struct {
	flag  cli.Flag
	apply func(c *app.Config, cmd *cli.Command)
}

func env(name string) cli.ValueSourceChain {
	return cli.EnvVars("TRUCELINE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
}

func stringOption(name, usage string, def string, field func(*app.Config) *string) option {
	return option{
		flag:  &cli.StringFlag{Name: name, Usage: usage, Value: def, Sources: env(name)},
		apply: func(c *app.Config, cmd *cli.Command) { *field(c) = cmd.String(name) },
	}
}

func durationOption(name, usage string, def time.Duration, field func(*app.Config) *time.Duration) option {
	return option{
		flag:  &cli.DurationFlag{Name: name, Usage: usage, Value: def, Sources: env(name)},
		apply: func(c *app.Config, cmd *cli.Command) { *field(c) = cmd.Duration(name) },
	}
}

func floatOption(name, usage string, def float64, field func(*app.Config) *float64) option {
	return option{
		flag:  &cli.FloatFlag{Name: name, Usage: usage, Value: def, Sources: env(name)},
		apply: func(c *app.Config, cmd *cli.Command) { *field(c) = cmd.Float(name) },
	}
}

func intOption(name, usage string, def int, field func(*app.Config) *int) option {
	return option{
		flag:  &cli.IntFlag{Name: name, Usage: usage, Value: def, Sources: env(name)},
		apply: func(c *app.Config, cmd *cli.Command) { *field(c) = cmd.Int(name) },
	}
}

func options() []option {
	d := app.DefaultConfig()
	return []option{
		stringOption("data-dir", "directory of the embedded NATS and Redis data", d.DataDir, func(c *app.Config) *string { return &c.DataDir }),
		stringOption("http-addr", "address of the HTTP API, WebSocket gateway and board", d.HTTPAddr, func(c *app.Config) *string { return &c.HTTPAddr }),
		stringOption("nats-url", `NATS server URL, or "embedded"`, d.NATSURL, func(c *app.Config) *string { return &c.NATSURL }),
		stringOption("nats-listen", "client address of the embedded NATS server", d.NATSListen, func(c *app.Config) *string { return &c.NATSListen }),
		stringOption("nats-prefix", `prefix before every NATS subject (ends with ".")`, d.NATSPrefix, func(c *app.Config) *string { return &c.NATSPrefix }),
		{
			flag:  &cli.Int64Flag{Name: "nats-max-memory-mb", Usage: "memory limit of the embedded JetStream, MiB", Value: d.NATSMaxMemoryMB, Sources: env("nats-max-memory-mb")},
			apply: func(c *app.Config, cmd *cli.Command) { c.NATSMaxMemoryMB = cmd.Int64("nats-max-memory-mb") },
		},
		{
			flag:  &cli.Int64Flag{Name: "nats-max-store-mb", Usage: "file store limit of the embedded JetStream, MiB", Value: d.NATSMaxStoreMB, Sources: env("nats-max-store-mb")},
			apply: func(c *app.Config, cmd *cli.Command) { c.NATSMaxStoreMB = cmd.Int64("nats-max-store-mb") },
		},
		{
			flag:  &cli.IntFlag{Name: "stream-replicas", Usage: "JetStream replicas of truceline's streams and bucket: 1, or 3 (5) on a NATS cluster", Value: d.StreamReplicas, Sources: env("stream-replicas")},
			apply: func(c *app.Config, cmd *cli.Command) { c.StreamReplicas = cmd.Int("stream-replicas") },
		},
		{
			flag:  &cli.Int64Flag{Name: "alerts-max-mb", Usage: "size limit of the stream ALERTS and of the compacted record of every alert, MiB each", Value: d.AlertsMaxMB, Sources: env("alerts-max-mb")},
			apply: func(c *app.Config, cmd *cli.Command) { c.AlertsMaxMB = cmd.Int64("alerts-max-mb") },
		}, {
			flag:  &cli.Int64Flag{Name: "rejected-max-mb", Usage: "size limit of the stream REJECTED (input truceline could not accept), MiB", Value: d.RejectedMaxMB, Sources: env("rejected-max-mb")},
			apply: func(c *app.Config, cmd *cli.Command) { c.RejectedMaxMB = cmd.Int64("rejected-max-mb") },
		}, {
			flag:  &cli.Int64Flag{Name: "audit-max-mb", Usage: "size limit of the stream AUDIT, the audit log's record (the oldest entries go first), MiB", Value: d.AuditMaxMB, Sources: env("audit-max-mb")},
			apply: func(c *app.Config, cmd *cli.Command) { c.AuditMaxMB = cmd.Int64("audit-max-mb") },
		},
		stringOption("nats-credentials", "external NATS: a .creds file (user JWT and nkey seed)", d.NATSCredentials, func(c *app.Config) *string { return &c.NATSCredentials }),
		stringOption("nats-nkey-seed", "external NATS: a file holding the user's nkey seed", d.NATSNkeySeed, func(c *app.Config) *string { return &c.NATSNkeySeed }),
		stringOption("nats-tls-ca", "external NATS: CA file (PEM) verifying the server's certificate", d.NATSTLSCA, func(c *app.Config) *string { return &c.NATSTLSCA }),
		stringOption("nats-tls-cert", "external NATS: client certificate file (PEM), with --nats-tls-key", d.NATSTLSCert, func(c *app.Config) *string { return &c.NATSTLSCert }),
		stringOption("nats-tls-key", "external NATS: client key file (PEM), with --nats-tls-cert", d.NATSTLSKey, func(c *app.Config) *string { return &c.NATSTLSKey }),
		stringOption("redis-url", `Redis URL, or "embedded"`, d.RedisURL, func(c *app.Config) *string { return &c.RedisURL }),
		stringOption("redis-prefix", "prefix before every Redis key", d.RedisPrefix, func(c *app.Config) *string { return &c.RedisPrefix }),
		stringOption("redis-tls-ca", "rediss:// Redis: CA file (PEM) verifying the server's certificate", d.RedisTLSCA, func(c *app.Config) *string { return &c.RedisTLSCA }),
		stringOption("redis-tls-cert", "rediss:// Redis: client certificate file (PEM), with --redis-tls-key", d.RedisTLSCert, func(c *app.Config) *string { return &c.RedisTLSCert }),
		stringOption("redis-tls-key", "rediss:// Redis: client key file (PEM), with --redis-tls-cert", d.RedisTLSKey, func(c *app.Config) *string { return &c.RedisTLSKey }),
		{
			flag:  &cli.DurationFlag{Name: "group-window", Usage: "reports of a zone and category this close in time share an alert", Value: d.GroupWindow, Sources: env("group-window")},
			apply: func(c *app.Config, cmd *cli.Command) { c.GroupWindow = cmd.Duration("group-window") },
		},
		{
			flag:  &cli.DurationFlag{Name: "late-after", Usage: "a report that arrives this long after it was observed is late: it pages nobody unless a rule takes late reports (0: never late)", Value: d.LateAfter, Sources: env("late-after")},
			apply: func(c *app.Config, cmd *cli.Command) { c.LateAfter = cmd.Duration("late-after") },
		},
		{
			flag:  &cli.BoolFlag{Name: "nats-open", Usage: "let anyone who reaches the embedded NATS server connect without credentials, with every permission (local trials only; --demo does so unless nats_users are configured)", Sources: env("nats-open")},
			apply: func(c *app.Config, cmd *cli.Command) { c.NATSOpen = cmd.Bool("nats-open") },
		},
		{
			flag:  &cli.BoolFlag{Name: "demo", Usage: "load the demo zones and parties and run a simulated EXERCISE feed", Sources: env("demo")},
			apply: func(c *app.Config, cmd *cli.Command) { c.Demo = cmd.Bool("demo") },
		},
		{
			flag:  &cli.FloatFlag{Name: "demo-rate", Usage: "reports per second of the demo feed (0 = none)", Value: d.DemoRate, Sources: env("demo-rate")},
			apply: func(c *app.Config, cmd *cli.Command) { c.DemoRate = cmd.Float("demo-rate") },
		},
		{
			flag:  &cli.StringSliceFlag{Name: "allowed-origins", Usage: "other origins whose pages may open the WebSocket", Sources: env("allowed-origins")},
			apply: func(c *app.Config, cmd *cli.Command) { c.AllowedOrigins = cmd.StringSlice("allowed-origins") },
		},
		{
			flag: &cli.StringSliceFlag{Name: "webhook-allow-networks", Usage: "private or local networks (CIDR or address) webhooks may be sent to all the same",
				Sources: env("webhook-allow-networks")},
			apply: func(c *app.Config, cmd *cli.Command) {
				c.WebhookAllowNetworks = cmd.StringSlice("webhook-allow-networks")
			},
		},
		{
			flag: &cli.StringSliceFlag{Name: "webhook-deny-networks", Usage: "public networks (CIDR or address) webhooks may not be sent to", Sources: env("webhook-deny-networks")},
			apply: func(c *app.Config, cmd *cli.Command) {
				c.WebhookDenyNetworks = cmd.StringSlice("webhook-deny-networks")
			},
		},
		durationOption("ws-heartbeat", "how often each board gets a heartbeat frame; a board that hears nothing for two shows itself stale", d.WSHeartbeat, func(c *app.Config) *time.Duration { return &c.WSHeartbeat }),
		{
			flag:  &cli.BoolFlag{Name: "ws-compression", Usage: "permessage-deflate on the WebSocket when clients offer it", Sources: env("ws-compression")},
			apply: func(c *app.Config, cmd *cli.Command) { c.WSCompression = cmd.Bool("ws-compression") },
		},
		stringOption("debug-addr", "serve Go's profiler (/debug/pprof/) on this address; keep it on loopback (default: off)", d.DebugAddr, func(c *app.Config) *string { return &c.DebugAddr }),
		stringOption("public-url", "where people reach this server, for links in notifications (default http://<http-addr>)", d.PublicURL, func(c *app.Config) *string { return &c.PublicURL }),
		stringOption("ack-link-secret", "secret signing acknowledge links, 32+ characters (default: generated, kept in Redis)", d.AckLinkSecret, func(c *app.Config) *string { return &c.AckLinkSecret }),
		durationOption("shutdown-drain", "on shutdown, how long /readyz answers 503 before the listener closes, when a load balancer checked it lately", d.ShutdownDrain, func(c *app.Config) *time.Duration { return &c.ShutdownDrain }),
		durationOption("ack-link-ttl", "how long an acknowledge link works", d.AckLinkTTL, func(c *app.Config) *time.Duration { return &c.AckLinkTTL }),
		intOption("delivery-attempts", "attempts at a notification before giving up", d.DeliveryAttempts, func(c *app.Config) *int { return &c.DeliveryAttempts }),
		durationOption("delivery-backoff", "delay before a notification's second attempt, doubling after", d.DeliveryBackoff, func(c *app.Config) *time.Duration { return &c.DeliveryBackoff }),
		durationOption("delivery-max-backoff", "longest delay between attempts", d.DeliveryMaxBackoff, func(c *app.Config) *time.Duration { return &c.DeliveryMaxBackoff }),
		durationOption("delivery-timeout", "timeout of one delivery attempt", d.DeliveryTimeout, func(c *app.Config) *time.Duration { return &c.DeliveryTimeout }),
		{
			flag:  &cli.FloatFlag{Name: "delivery-rate", Usage: "notifications per second to one destination (extreme alerts are never throttled)", Value: d.DeliveryRate, Sources: env("delivery-rate")},
			apply: func(c *app.Config, cmd *cli.Command) { c.DeliveryRate = cmd.Float("delivery-rate") },
		},
		stringOption("smtp-host", "SMTP relay for email methods (none: no email)", d.SMTPHost, func(c *app.Config) *string { return &c.SMTPHost }),
		intOption("smtp-port", "SMTP relay port", d.SMTPPort, func(c *app.Config) *int { return &c.SMTPPort }),
		stringOption("smtp-username", "SMTP AUTH user name", d.SMTPUsername, func(c *app.Config) *string { return &c.SMTPUsername }),
		stringOption("smtp-password", "SMTP AUTH password (prefer TRUCELINE_SMTP_PASSWORD)", d.SMTPPassword, func(c *app.Config) *string { return &c.SMTPPassword }),
		stringOption("smtp-from", "sender address of notification emails", d.SMTPFrom, func(c *app.Config) *string { return &c.SMTPFrom }),
		stringOption("smtp-tls", "starttls, tls (implicit, port 465) or none (local relay only)", d.SMTPTLS, func(c *app.Config) *string { return &c.SMTPTLS }),
		durationOption("session-ttl", "how long a board's sign-in lasts", d.SessionTTL, func(c *app.Config) *time.Duration { return &c.SessionTTL }),
		floatOption("rate-reports-per-minute", "reports accepted per minute per caller (4x per address; 0 = unlimited)", d.RateReports, func(c *app.Config) *float64 { return &c.RateReports }),
		floatOption("rate-logins-per-minute", "sign-in attempts per minute per address and per user name", d.RateLogins, func(c *app.Config) *float64 { return &c.RateLogins }),
		floatOption("rate-websockets-per-minute", "WebSocket connections per minute per address", d.RateWebSockets, func(c *app.Config) *float64 { return &c.RateWebSockets }),
		intOption("summary-cutoff-hour", "the daily summary's reporting day ends at this hour (0: the calendar day)", d.SummaryCutoffHour, func(c *app.Config) *int { return &c.SummaryCutoffHour }),
		stringOption("summary-timezone", "the time zone of the daily summary's reporting day", d.SummaryTimezone, func(c *app.Config) *string { return &c.SummaryTimezone }),
		stringOption("bootstrap-admin", "create this admin at start if there is no admin (password: TRUCELINE_BOOTSTRAP_PASSWORD, or generated and printed once)", d.BootstrapAdmin, func(c *app.Config) *string { return &c.BootstrapAdmin }),
		stringOption("log-format", "text or json", d.LogFormat, func(c *app.Config) *string { return &c.LogFormat }),
		stringOption("log-level", "debug, info, warn or error", d.LogLevel, func(c *app.Config) *string { return &c.LogLevel }),
	}
}

func serveCommand(stderr io.Writer) *cli.Command {
	opts := options()
	flags := []cli.Flag{&cli.StringFlag{Name: "config", Usage: "YAML configuration file (see configs/truceline.yaml)", Sources: env("config")}}
	for _, o := range opts {
		flags = append(flags, o.flag)
	}
	return &cli.Command{
		Name:  "serve",
		Usage: "run the server (with no options: embedded NATS and Redis, board on http://127.0.0.1:8080)",
		Flags: flags,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := loadConfig(cmd, opts)
			if err != nil {
				return err
			}
			logger := newLogger(stderr, cfg)
			a, err := app.Start(ctx, cfg, logger)
			if err != nil {
				return err
			}
			<-ctx.Done()
			logger.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return a.Shutdown(sctx)
		},
	}
}

// loadConfig layers the configuration: defaults, then the file, then the
// environment and flags.
func loadConfig(cmd *cli.Command, opts []option) (app.Config, error) {
	cfg := app.DefaultConfig()
	if path := cmd.String("config"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("--config: %w", err)
		}
		if err := cfg.LoadFile(path, data); err != nil {
			return cfg, err
		}
	}
	for _, o := range opts {
		if cmd.IsSet(o.flag.Names()[0]) {
			o.apply(&cfg, cmd)
		}
	}
	cfg.BootstrapPassword = os.Getenv("TRUCELINE_BOOTSTRAP_PASSWORD")
	return cfg, cfg.Validate()
}

func newLogger(w io.Writer, cfg app.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
