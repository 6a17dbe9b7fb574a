// Package app is the truceline server as one value: it starts the embedded
// or external NATS and Redis, the alert engine, the WebSocket gateway, the
// HTTP API and board, and the demo feed, and stops them in order. main parses
// the command line and handles signals; tests start an App directly on :0.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/email"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/webhook"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/cmd/truceline/demo"
	"github.com/truceline/truceline/configs"
	"github.com/truceline/truceline/web"
	"github.com/truceline/truceline/web/auth"
	"github.com/truceline/truceline/web/gateway"
)

// App is a running truceline server.
type App struct {
	cfg      Config
	logger   *slog.Logger
	registry *prometheus.Registry

	embRedis *redisstore.Embedded
	rdb      *redis.Client
	embNATS  *broker.Embedded
	nc       *nats.Conn

	Store    *redisstore.Store
	Broker   *broker.Broker
	Engine   *alerting.Engine
	catalog  *redisstore.CatalogWatcher
	consumer *broker.Consumer
	intake   *broker.Intake // the embedded server's liaison users' reports
	sources  *alerting.SourceWatch
	// heartbeats takes the monitored sources' heartbeats over NATS.
	heartbeats *broker.Heartbeats
	// intakeTally writes who sent how many reports to the audit log.
	intakeTally *alerting.IntakeTally
	escalate    *alerting.Escalator
	dispatch    *alerting.Dispatcher
	healer      *alerting.Healer
	links       *alerting.AckLinks
	inbox       *webhook.Receiver
	gateway     *gateway.Gateway
	httpSrv     *http.Server
	listener    net.Listener
	demo        *demo.Feed

	debugSrv     *http.Server
	debugAddr    string // where debugSrv listens
	httpDone     chan struct{}
	draining     atomic.Bool  // shutting down: /readyz answers 503
	auditForked  atomic.Int64 // the audit head last found differing from AUDIT, said once
	readyzAt     atomic.Int64 // when /readyz was last asked (Unix ns)
	shutdownOnce sync.Once
	shutdownErr  error
}

// startHealPatience is how long a start waits for Redis and NATS to answer
// the first check of the store against the streams (see
// alerting.Healer.VerifyAtStart) before it gives up.
const startHealPatience = time.Minute

// Start starts every part of the server and returns once it serves. On error
// it stops whatever it had started.
func Start(ctx context.Context, cfg Config, logger *slog.Logger) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logger: logger, registry: prometheus.NewRegistry(), httpDone: make(chan struct{})}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Shutdown(sctx)
		}
	}()
	steps := []func(context.Context) error{a.startRedis, a.startNATS, a.listen, a.startEngine, a.startUsers, a.startHTTP, a.startDebug, a.startDemo}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return nil, err
		}
	}
	logger.Info("truceline is serving", "board", "http://"+a.HTTPAddr()+"/", "nats", a.NATSURL())
	return a, nil
}

func (a *App) startRedis(ctx context.Context) error {
	url := a.cfg.RedisURL
	if url == Embedded {
		emb, err := redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: filepath.Join(a.cfg.DataDir, "redis"), Logger: a.logger})
		if err != nil {
			return err
		}
		a.embRedis = emb
		url = emb.URL()
		if !emb.Persistent() {
			a.logger.Warn("**********************************************************************")
			a.logger.Warn("redis-server is not installed: using an IN-MEMORY Redis. It is EMPTY at every start:")
			a.logger.Warn("truceline rebuilds it from the streams, which takes longer the more alerts there are.")
			a.logger.Warn("Install redis-server (apt-get install redis-server) or set --redis-url.")
			a.logger.Warn("**********************************************************************")
		}
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return fmt.Errorf("--redis-url %s: %w", redact(url), scrub(err, url))
	}
	if opts.TLSConfig != nil { // rediss://
		if err := a.cfg.redisTLS(opts.TLSConfig); err != nil {
			return err
		}
	}
	opts.ClientName = "truceline"
	if opts.PoolSize == 0 {
		opts.PoolSize = 128
	}
	a.rdb = redis.NewClient(opts)
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return redisError(opts.Addr, opts.TLSConfig != nil, scrub(err, url))
	}
	a.Store, err = redisstore.New(redisstore.Options{Client: a.rdb, Prefix: a.cfg.RedisPrefix, Fence: true})
	return err
}

func (a *App) startNATS(ctx context.Context) error {
	url := a.cfg.NATSURL
	opts := []nats.Option{nats.Name("truceline"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.logger.Warn("NATS connection lost; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { a.logger.Info("NATS connection restored") }),
		// Asynchronous errors, a slow consumer above all: messages
		// dropped by this process, redelivered only after AckWait.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			a.logger.Warn("NATS reported an error", "subject", subject, "err", err)
		}),
	}
	if url == Embedded {
		emb, err := broker.StartEmbedded(broker.EmbeddedOptions{
			Listen:    a.cfg.NATSListen,
			StoreDir:  filepath.Join(a.cfg.DataDir, "nats"),
			MaxMemory: a.cfg.NATSMaxMemoryMB << 20,
			MaxStore:  a.cfg.NATSMaxStoreMB << 20,
			Logger:    a.logger,
			Users:     a.cfg.embeddedUsers(),
			Open:      a.cfg.embeddedOpen(),
			Prefix:    a.cfg.NATSPrefix,
		})
		if err != nil {
			return err
		}
		a.embNATS = emb
		url = emb.ClientURL()
		opts = append(opts, emb.ConnectOptions()...)
		a.logEmbeddedAccess(emb.ClientURL())
	} else {
		more, err := a.cfg.natsOptions()
		if err != nil {
			return err
		}
		opts = append(opts, more...)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return natsError(redact(url), scrub(err, url))
	}
	a.nc = nc
	a.Broker, err = broker.New(ctx, broker.Options{Conn: nc, Prefix: a.cfg.NATSPrefix, Replicas: a.cfg.StreamReplicas,
		AlertsMaxBytes: a.cfg.AlertsMaxMB << 20, RejectedMaxBytes: a.cfg.RejectedMaxMB << 20, AuditMaxBytes: a.cfg.AuditMaxMB << 20,
		Logger: a.logger, Registerer: a.registry})
	if err != nil || a.embNATS == nil || len(a.cfg.NATSUsers) == 0 {
		return err
	}
	// The liaison users' reports come through the intake, which records
	// who sent each.
	a.intake, err = a.Broker.StartIntake(a.logger)
	return err
}

// logEmbeddedAccess says at start who may connect to the embedded NATS
// server, and how liaison systems do.
func (a *App) logEmbeddedAccess(url string) {
	host, _, _ := net.SplitHostPort(a.cfg.NATSListen)
	switch {
	case a.cfg.embeddedOpen() && !isLoopback(host):
		a.logger.Warn("the embedded NATS server listens on "+a.cfg.NATSListen+" without authentication: anyone "+
			"who can reach it can publish reports, read alerts and change the streams; configure nats_users "+
			"(docs/NATS.md#security) or listen on 127.0.0.1", "listen", a.cfg.NATSListen)
	case a.cfg.embeddedOpen():
		a.logger.Warn("the embedded NATS server takes clients without credentials: any local process can publish "+
			"reports, read every zone's alerts and change the streams (--demo or --nats-open; for local use only)", "url", url)
	case len(a.cfg.NATSUsers) == 0:
		a.logger.Info("the embedded NATS server requires credentials, and has no liaison users: only truceline "+
			"connects. Liaison systems report over HTTP, or as nats_users (docs/NATS.md#security)", "url", url)
	default:
		users := make([]string, len(a.cfg.NATSUsers))
		for i, u := range a.cfg.NATSUsers {
			users[i] = u.User + " (" + strings.Join(u.Zones, ", ") + ")"
		}
		a.logger.Info("the embedded NATS server requires credentials: liaison systems connect as their nats_users, "+
			"nats://USER:PASSWORD@"+a.cfg.NATSListen+", and publish on violations.<zone>.<category> of their zones "+
			"(docs/NATS.md#security)", "url", url, "users", strings.Join(users, "; "))
	}
}

// dependencies are the checks of what truceline cannot work without, for
// /readyz, the dependency metrics and the heartbeats' status.
func (a *App) dependencies() []web.Check {
	return []web.Check{{Name: "nats", Check: a.Broker.Ready}, {Name: "redis", Check: a.redisReady}}
}

// status is what the heartbeats of the WebSocket say of this server: the
// dependencies that fail their check, the zones being healed, and the
// engine's backlog.
func (a *App) status(ctx context.Context) gateway.Status {
	var s gateway.Status
	for _, c := range a.dependencies() {
		if err := c.Check(ctx); err != nil {
			s.Problems = append(s.Problems, c.Name+": "+alerting.ErrorMessage(err))
		}
	}
	s.Healing = a.Store.Healing()
	if a.consumer != nil {
		n, oldest, err := a.consumer.Backlog(ctx)
		switch {
		case err != nil:
			s.Problems = append(s.Problems, "engine: its backlog cannot be read")
		case n > 0:
			s.Backlog = n
			if !oldest.IsZero() {
				s.OldestSeconds = max(time.Since(oldest), 0).Seconds()
			}
		}
	}
	return s
}

func (a *App) listen(context.Context) error {
	l, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (%v): another program holds it; stop it or choose another address with --http-addr HOST:PORT (TRUCELINE_HTTP_ADDR)", a.cfg.HTTPAddr, err)
	}
	a.listener = l
	return nil
}

// PublicURL is where people reach this server: --public-url, or http://
// and the address it listens on.
func (a *App) PublicURL() string {
	if a.cfg.PublicURL != "" {
		return a.cfg.PublicURL
	}
	return "http://" + a.HTTPAddr()
}

func (a *App) startEngine(ctx context.Context) error {
	if a.cfg.Demo {
		demoConfig, err := configs.Demo(time.Now())
		if err != nil {
			return fmt.Errorf("demo configuration: %w", err)
		}
		configs.PointDemoInbox(&demoConfig, a.PublicURL())
		_, problems, err := a.Store.ApplyConfig(ctx, demoConfig, false)
		if err != nil {
			return fmt.Errorf("load the demo configuration: %w", err)
		}
		if len(problems) > 0 {
			return fmt.Errorf("the demo configuration does not fit the stored one: %w", &alerting.ConfigError{Problems: problems})
		}
		if err := a.recordConfig(ctx); err != nil {
			return fmt.Errorf("record the demo configuration: %w", err)
		}
	}
	var err error
	if a.catalog, err = redisstore.WatchCatalog(ctx, a.Store, 0, a.cfg.GroupWindow, a.logger); err != nil {
		return err
	}
	if len(a.catalog.Catalog().Zones()) == 0 {
		a.logger.Warn("no zones are configured: every report will be rejected; start with --demo for the demo zones")
	}
	// Changes committed and never published (a replica died in between)
	// are read back from Redis's history.
	a.Broker.SetChangeSource(a.Store)
	if err := a.newDispatcher(ctx); err != nil {
		return err
	}
	ruleFailures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "truceline_rule_failures_total",
		Help: "Times a rule's condition failed on a report (an error, or more than its step budget); the report was handled without the rule, which the log and the report's classification name.",
	})
	a.registry.MustRegister(ruleFailures)
	a.intakeTally = alerting.NewIntakeTally(a.RecordAudit, time.Minute, nil)
	a.Engine, err = alerting.NewEngine(alerting.EngineOptions{
		Store: a.Store, Publisher: a.Broker, Catalog: a.catalog, Queued: a.dispatch.Nudge, Logger: a.logger,
		RuleFailed: func(ctx context.Context, f alerting.RuleFailure, r *alerting.Report) {
			ruleFailures.Inc()
			if err := a.Store.RecordRuleFault(ctx, f, r, time.Now()); err != nil {
				a.logger.Warn("the rule's failure is not shown to admins", "rule", f.Rule, "err", err)
			}
		},
		Stored: a.intakeTally.Count, LateAfter: lateAfter(a.cfg.LateAfter),
		Sources: a.Store,
	})
	if err != nil {
		return err
	}
	// Redis is a projection of the streams: check it against them (and
	// heal what it lost) before anything uses it, and whenever it restarts.
	heals := newHealMetrics(a.registry, a.Store)
	a.healer, err = alerting.NewHealer(alerting.HealerOptions{
		Store: a.Store, Journal: a.Broker, Engine: a.Engine, Catalog: a.catalog, Compacted: a.Broker, Outbox: a.Broker,
		Restore: a.restoreState, Reconcile: a.syncAudit,
		Healed: heals.healed, Recovered: heals.recovered, Queued: a.dispatch.Nudge, Logger: a.logger,
	})
	if err != nil {
		return err
	}
	a.Store.OnFenceTrip(a.healer.Kick)
	if err := a.healer.VerifyAtStart(ctx, startHealPatience); err != nil {
		return fmt.Errorf("check Redis against the streams: %w", err)
	}
	go a.healer.Run()
	a.consumer, err = a.Broker.StartConsumer(ctx, broker.ConsumerOptions{Handler: a.Engine, Registerer: a.registry})
	if err != nil {
		return err
	}
	a.escalate, err = alerting.NewEscalator(alerting.EscalatorOptions{
		Store: a.Store, Timers: a.Store, Sources: a.Store, Publisher: a.Broker.Later(), Catalog: a.catalog, Queued: a.dispatch.Nudge,
		Overdue: a.auditOverdue, Logger: a.logger,
	})
	if err != nil {
		return err
	}
	a.Store.OnTimer(a.escalate.WakeAt)
	go a.escalate.Run()
	go a.dispatch.Run()
	a.sources = &alerting.SourceWatch{Sources: a.Store, Groups: a.Store, Catalog: a.catalog, Silent: a.Store}
	var users []broker.EmbeddedUser
	if a.embNATS != nil {
		users = a.cfg.embeddedUsers()
	}
	a.heartbeats, err = a.Broker.StartHeartbeats(broker.HeartbeatOptions{Handler: a.sources, Users: users, Logger: a.logger})
	return err
}

func (a *App) startHTTP(context.Context) error {
	var err error
	a.gateway, err = gateway.New(gateway.Options{
		Feed: a.Broker, History: a.Store, Zones: a.catalog, AllowedOrigins: a.cfg.AllowedOrigins, Compression: a.cfg.WSCompression,
		HeartbeatInterval: a.cfg.WSHeartbeat, Status: a.status,
		Logger: a.logger, Registerer: a.registry,
	})
	if err != nil {
		return err
	}
	authn, err := auth.New(auth.Options{Store: a.Store, SessionTTL: a.cfg.SessionTTL, SecureCookie: strings.HasPrefix(a.PublicURL(), "https://"),
		PasswordCost: a.cfg.PasswordCost})
	if err != nil {
		return err
	}
	ready := a.dependencies()
	a.registry.MustRegister(a.stateMetrics(ready)...)
	handler, err := web.NewHandler(web.Options{
		Auth: authn, Users: a.users(), Audit: a, AuditLog: a.Store,
		Limits: web.Limits{ReportsPerMinute: a.cfg.RateReports, LoginsPerMinute: a.cfg.RateLogins, WebSocketsPerMinute: a.cfg.RateWebSockets,
			Now: a.cfg.RateClock},
		Intake: a.Engine, Reports: a.Broker, Alerts: a.Store, Actions: a.Engine, Catalog: a.catalog, Gateway: a.gateway, RuleFaults: a.Store, Parked: a.Broker,
		Config:   liveConfig{a.Store, a.catalog, a.recordConfig},
		Ready:    append(ready, web.Check{Name: "shutdown", Check: a.notDraining}),
		Healing:  a.Store.Healing,
		Healer:   a.healer,
		Gatherer: a.registry, Registerer: a.registry, Logger: a.logger,
		AckLinks: a.links, Mount: a.mounts(),
		Sources:       a.sources,
		SummaryCutoff: a.cfg.SummaryCutoffHour, SummaryTimezone: a.cfg.SummaryTimezone, PublicURL: a.PublicURL(),
	})
	if err != nil {
		return err
	}
	a.httpSrv = &http.Server{
		Handler:           web.WithRequestIDs(handler),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		defer close(a.httpDone)
		if err := a.httpSrv.Serve(a.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("HTTP server stopped", "err", err)
		}
	}()
	return nil
}

// newDispatcher makes the dispatcher of notifications, with a sender per
// method kind: webhooks, NATS, and email when an SMTP relay is configured.
func (a *App) newDispatcher(ctx context.Context) error {
	secret := []byte(a.cfg.AckLinkSecret)
	if len(secret) == 0 {
		// Shared by the replicas, and recorded in the streams so that a
		// Redis that lost it does not void every acknowledge link.
		var err error
		if secret, err = a.Store.SharedSecret(ctx, "ack-links"); err != nil {
			return err
		}
		if secret, err = a.Broker.CreateState(ctx, "secret.ack-links", secret); err != nil {
			return err
		}
	}
	var err error
	if a.links, err = alerting.NewAckLinks(secret, a.cfg.AckLinkTTL); err != nil {
		return err
	}
	senders := map[alerting.MethodKind]alerting.Sender{
		alerting.MethodWebhook: webhook.NewSender(webhook.SenderOptions{Timeout: a.cfg.DeliveryTimeout, Destinations: a.cfg.webhookDestinations(a.PublicURL())}),
		alerting.MethodNATS:    a.Broker.Notifier(),
	}
	if a.cfg.SMTPHost != "" {
		mail, err := email.NewSender(a.cfg.smtp())
		if err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		senders[alerting.MethodEmail] = mail
		a.logger.Info("email delivery configured", "smtp", a.cfg.smtp())
	} else {
		a.logger.Info("no --smtp-host: email methods give up at once, saying so on the board")
	}
	a.dispatch, err = alerting.NewDispatcher(alerting.DispatcherOptions{
		Store: a.Store, Queue: a.Store, Publisher: a.Broker.Later(), Catalog: a.catalog, Senders: senders,
		Links: a.links, PublicURL: a.PublicURL(), Attempts: a.cfg.DeliveryAttempts,
		Backoff: a.cfg.DeliveryBackoff, MaxBackoff: a.cfg.DeliveryMaxBackoff, Rate: a.cfg.DeliveryRate,
		Observe: a.observeDelivery(newDeliveryMetrics(a.registry)), Logger: a.logger,
	})
	if err != nil {
		return err
	}
	if a.cfg.Demo {
		a.inbox = demo.NewInbox(a.catalog)
	}
	return nil
}

// mounts are the handlers the server adds to the API: the demo's inbox.
func (a *App) mounts() map[string]http.Handler {
	if a.inbox == nil {
		return nil
	}
	return map[string]http.Handler{
		"POST " + configs.DemoInboxPath + "{contact}": a.inbox,
		"GET " + configs.DemoInboxPath + "{$}":        demo.InboxPage(a.inbox),
	}
}

// Inbox is the demo's webhook receiver, nil unless the demo runs.
func (a *App) Inbox() *webhook.Receiver { return a.inbox }

func (a *App) startDemo(ctx context.Context) error {
	if !a.cfg.Demo {
		return nil
	}
	// The demo's monitored sources beat even without reports.
	a.demo = demo.StartFeed(a.Broker, a.Store, a.catalog, a.cfg.DemoRate, a.logger)
	if a.cfg.DemoRate > 0 {
		a.logger.Info("demo feed running: EXERCISE reports", "per_second", a.cfg.DemoRate)
	}
	return nil
}

// ApplyConfig stores configuration objects (adding or replacing them by id)
// and makes this instance use them at once; other replicas follow within a
// second.
func (a *App) ApplyConfig(ctx context.Context, cfg alerting.Config) error {
	_, problems, err := liveConfig{a.Store, a.catalog, a.recordConfig}.ApplyConfig(ctx, cfg, false)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &alerting.ConfigError{Problems: problems}
	}
	return nil
}

// liveConfig changes the stored configuration, records it in the streams,
// and reloads this instance's catalog at once, so a change made here is in
// force when the call returns.
type liveConfig struct {
	*redisstore.Store
	catalog *redisstore.CatalogWatcher
	record  func(context.Context) error
}

func (l liveConfig) ApplyConfig(ctx context.Context, cfg alerting.Config, dryRun bool) (int64, []alerting.Problem, error) {
	v, ps, err := l.Store.ApplyConfig(ctx, cfg, dryRun)
	if err == nil && len(ps) == 0 && !dryRun {
		err = l.changed(ctx)
	}
	return v, ps, err
}

func (l liveConfig) DeleteConfig(ctx context.Context, kind, id string) (int64, []alerting.Problem, error) {
	v, ps, err := l.Store.DeleteConfig(ctx, kind, id)
	if err == nil && len(ps) == 0 {
		err = l.changed(ctx)
	}
	return v, ps, err
}

func (l liveConfig) changed(ctx context.Context) error {
	if err := l.record(ctx); err != nil {
		return err
	}
	return l.catalog.Refresh(ctx)
}

// notDraining is the readiness check that fails once shutdown began; it
// also notes that something checks readiness.
func (a *App) notDraining(context.Context) error {
	a.readyzAt.Store(time.Now().UnixNano())
	if a.draining.Load() {
		return errors.New("shutting down: send new work to another replica")
	}
	return nil
}

// drain turns /readyz to 503 and, when something checked it in the last
// 30 s (a load balancer), waits --shutdown-drain for it to notice before
// the listener closes.
func (a *App) drain(ctx context.Context) {
	a.draining.Store(true)
	if a.cfg.ShutdownDrain <= 0 || time.Since(time.Unix(0, a.readyzAt.Load())) > 30*time.Second {
		return
	}
	a.logger.Info("draining: /readyz answers 503 before the listener closes", "for", a.cfg.ShutdownDrain)
	select {
	case <-time.After(a.cfg.ShutdownDrain):
	case <-ctx.Done():
	}
}

// redisReady is Redis's readiness: it answers, and it has been checked
// against the streams since it (re)started. A zone being healed does not
// make truceline unready; /readyz lists it.
func (a *App) redisReady(ctx context.Context) error {
	if err := a.Store.Ping(ctx); err != nil {
		return err
	}
	if err := a.Store.Probe(ctx); err != nil {
		if alerting.ErrorCode(err) == alerting.EUNAVAILABLE {
			return err // away again, or too slow to answer: it cannot say
		}
		return alerting.Errorf(alerting.EUNAVAILABLE, "redis restarted or was wiped: it is being checked against the streams")
	}
	return nil
}

// HTTPAddr is the address the HTTP server listens on.
func (a *App) HTTPAddr() string { return a.listener.Addr().String() }

// DebugAddr is the address the profiler listens on ("" without
// --debug-addr): the port chosen when --debug-addr asked for port 0.
func (a *App) DebugAddr() string { return a.debugAddr }

// NATSURL is the URL NATS clients (liaison systems, trucectl) connect to.
func (a *App) NATSURL() string {
	if a.embNATS != nil {
		return a.embNATS.ClientURL()
	}
	return redact(a.cfg.NATSURL)
}

// Registry is the server's metric registry.
func (a *App) Registry() *prometheus.Registry { return a.registry }

// part is one long-running part of the server, as it stops: shutdown
// stops it gracefully within ctx; kill stops it at once, as a crash would,
// leaving what it holds unacknowledged.
type part struct {
	name     string
	shutdown func(ctx context.Context) error
	kill     func()
}

// cancelled is a context that is already done: a part's Shutdown given it
// gives up at once.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// parts are the server's parts that have started, in the order they stop:
// ingress first (the demo feed, then HTTP: no new reports or actions), the
// WebSocket clients told to reconnect elsewhere, the consumers of reports
// and the workers that act on alerts, the publisher of the changes still
// on their way to ALERTS, and NATS and Redis last. Shutdown and Kill walk
// it; a part added to the server is added here, once.
func (a *App) parts() []part {
	var ps []part
	add := func(started bool, p part) {
		if started {
			ps = append(ps, p)
		}
	}
	add(a.demo != nil, part{"demo feed", a.demo.Shutdown, func() { _ = a.demo.Shutdown(context.Background()) }})
	add(a.httpSrv != nil, part{"HTTP server", a.httpSrv.Shutdown, func() { _ = a.httpSrv.Close() }})
	add(a.httpSrv == nil && a.listener != nil, part{"HTTP listener", func(context.Context) error { _ = a.listener.Close(); return nil },
		func() { _ = a.listener.Close() }})
	add(a.debugSrv != nil, part{"debug server", func(context.Context) error { _ = a.debugSrv.Close(); return nil }, func() { _ = a.debugSrv.Close() }})
	// A crash drops the NATS connection first: nothing more is acknowledged.
	add(a.nc != nil, part{"NATS connection, at once", func(context.Context) error { return nil }, func() { a.nc.Close() }})
	add(a.gateway != nil, part{"WebSocket gateway", a.gateway.Shutdown, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = a.gateway.Shutdown(ctx)
	}})
	add(a.intake != nil, part{"NATS intake", a.intake.Shutdown, func() { _ = a.intake.Shutdown(cancelled()) }})
	add(a.heartbeats != nil, part{"NATS heartbeats", a.heartbeats.Shutdown, func() { _ = a.heartbeats.Shutdown(cancelled()) }})
	add(a.consumer != nil, part{"report consumer", a.consumer.Shutdown, func() { _ = a.consumer.Shutdown(cancelled()) }})
	add(a.intakeTally != nil, part{"intake tally", a.intakeTally.Shutdown, func() { _ = a.intakeTally.Shutdown(cancelled()) }})
	add(a.escalate != nil, part{"escalator", a.escalate.Shutdown, func() { _ = a.escalate.Shutdown(context.Background()) }})
	add(a.dispatch != nil, part{"dispatcher", a.dispatch.Shutdown, func() { _ = a.dispatch.Shutdown(cancelled()) }})
	add(a.Broker != nil, part{"publisher", a.Broker.Shutdown, func() { _ = a.Broker.Shutdown(cancelled()) }})
	add(a.healer != nil, part{"healer", a.healer.Shutdown, func() { _ = a.healer.Shutdown(cancelled()) }})
	add(a.catalog != nil, part{"catalog watcher", a.catalog.Shutdown, func() { _ = a.catalog.Shutdown(context.Background()) }})
	add(a.nc != nil, part{"NATS connection", func(context.Context) error { _ = a.nc.Flush(); a.nc.Close(); return nil }, func() {}})
	add(a.embNATS != nil, part{"embedded NATS", func(context.Context) error { a.embNATS.Shutdown(); return nil }, func() { a.embNATS.Shutdown() }})
	add(a.rdb != nil, part{"Redis client", func(context.Context) error { return a.rdb.Close() }, func() { _ = a.rdb.Close() }})
	add(a.embRedis != nil, part{"embedded Redis", a.embRedis.Shutdown, func() { a.embRedis.Kill() }})
	return ps
}

// Shutdown stops the server gracefully, part by part in the order of
// parts: the engine finishes and acknowledges the reports it holds before
// NATS and Redis close (and stop, when embedded). /readyz answers 503 from
// the start. It is safe to call more than once.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() {
		a.drain(ctx)
		var errs []error
		for _, p := range a.parts() {
			if err := p.shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stop the %s: %w", p.name, err))
			}
		}
		a.shutdownErr = errors.Join(errs...)
	})
	return a.shutdownErr
}

// Kill stops the server abruptly, as a crash would, for tests: nothing is
// drained or acknowledged; the embedded servers keep what they stored.
func (a *App) Kill() {
	a.shutdownOnce.Do(func() {
		for _, p := range a.parts() {
			p.kill()
		}
	})
}

// startDebug serves Go's profiler on --debug-addr, when set: a listener of
// its own, so the profiles never share the API's address or its access
// control. It is for operators on the host; keep it on loopback.
func (a *App) startDebug(context.Context) error {
	if a.cfg.DebugAddr == "" {
		return nil
	}
	l, err := net.Listen("tcp", a.cfg.DebugAddr)
	if err != nil {
		return fmt.Errorf("--debug-addr %s: %w", a.cfg.DebugAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	a.debugSrv, a.debugAddr = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, l.Addr().String()
	go func() { _ = a.debugSrv.Serve(l) }()
	a.logger.Info("profiler listening", "addr", "http://"+l.Addr().String()+"/debug/pprof/")
	return nil
}

// lateAfter is the engine's LateAfter for the setting late_after, whose 0
// means that no report is ever late.
func lateAfter(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
