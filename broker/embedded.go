package broker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedOptions configures an in-process NATS server with JetStream.
type EmbeddedOptions struct {
	// Listen is the client address ("127.0.0.1:14222"); port 0 picks one.
	Listen string
	// StoreDir holds JetStream's file store. Required.
	StoreDir string
	// MaxMemory and MaxStore cap JetStream's memory and file use; zero
	// means 64 MiB and 4 GiB, so the embedded server never takes most of
	// the machine.
	MaxMemory int64
	MaxStore  int64
	Logger    *slog.Logger
	// Users are the liaison systems' users: each may only publish reports
	// of its zones and follow their alerts (see EmbeddedUser). truceline's
	// own connection (ConnectOptions) logs in as InternalUser with a
	// password generated here, and nobody else may connect. truceline
	// keeps the global account, so JetStream and the streams are the same
	// with or without users; each liaison user has an account of its own
	// (see serverAuth).
	Users []EmbeddedUser
	// Open turns authentication off: anyone who reaches the port may do
	// anything, the streams included. For the demo and local trials only;
	// it excludes Users.
	Open bool
	// Prefix stands before every subject of the users' permissions, as
	// in Options.Prefix.
	Prefix string
}

// Embedded is an in-process NATS server with JetStream.
type Embedded struct {
	srv      *server.Server
	password string // InternalUser's; "" when open
}

// StartEmbedded starts the server and waits until it accepts connections.
// An address already in use fails with advice on what to do instead.
func StartEmbedded(o EmbeddedOptions) (*Embedded, error) {
	if o.StoreDir == "" {
		return nil, fmt.Errorf("embedded nats: a store directory is required")
	}
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: listen address %q: bad port", o.Listen)
	}
	if port != 0 {
		l, err := net.Listen("tcp", o.Listen)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: cannot listen on %s (%v): another program, probably a NATS server, "+
				"holds it; stop it, choose a free port with --nats-listen HOST:PORT (TRUCELINE_NATS_LISTEN), "+
				"or use that server with --nats-url nats://%s", o.Listen, err, o.Listen)
		}
		_ = l.Close()
	}
	if problems := CheckEmbeddedUsers(o.Prefix, o.Users); len(problems) > 0 {
		return nil, fmt.Errorf("embedded nats: %s", strings.Join(problems, "; "))
	}
	if o.Open && len(o.Users) > 0 {
		return nil, fmt.Errorf("embedded nats: an open server has no users; drop the users or the openness")
	}
	if o.MaxMemory == 0 {
		o.MaxMemory = 64 << 20
	}
	if o.MaxStore == 0 {
		o.MaxStore = 4 << 30
	}
	opts := &server.Options{
		ServerName:             "truceline-embedded",
		Host:                   host,
		Port:                   port,
		JetStream:              true,
		StoreDir:               o.StoreDir,
		JetStreamMaxMemory:     o.MaxMemory,
		JetStreamMaxStore:      o.MaxStore,
		NoSigs:                 true,
		DisableJetStreamBanner: true,
		MaxPayload:             1 << 20,
	}
	if port == 0 {
		opts.Port = server.RANDOM_PORT
	}
	var password string
	if !o.Open {
		password = randomPassword()
		if opts.Accounts, opts.Users, err = serverAuth(o.Prefix, o.Users, password); err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if o.Logger != nil {
		srv.SetLoggerV2(&serverLogger{o.Logger.With("component", "embedded-nats")}, false, false, false)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded nats: not ready within 15s on %s", o.Listen)
	}
	if !o.Open && !srv.GlobalAccount().JetStreamEnabled() {
		// The server enables JetStream by itself only when the global
		// account is its only one; with the liaison users' accounts it
		// must be told, and recovers the global account's streams.
		if err := srv.GlobalAccount().EnableJetStream(nil, nil); err != nil {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats: enable JetStream: %w", err)
		}
	}
	return &Embedded{srv: srv, password: password}, nil
}

// ConnectOptions connect truceline's own client in-process, as InternalUser
// unless the server is open: nats.Connect(e.ClientURL(), e.ConnectOptions()...).
func (e *Embedded) ConnectOptions() []nats.Option {
	opts := []nats.Option{nats.InProcessServer(e.srv)}
	if e.password != "" {
		opts = append(opts, nats.UserInfo(InternalUser, e.password))
	}
	return opts
}

// ClientURL is the nats:// URL clients connect to.
func (e *Embedded) ClientURL() string { return e.srv.ClientURL() }

// Server is the running server, for in-process connections.
func (e *Embedded) Server() *server.Server { return e.srv }

// Shutdown stops the server and waits for it; JetStream flushes its store.
func (e *Embedded) Shutdown() {
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// serverLogger routes the server's log lines into slog.
type serverLogger struct{ l *slog.Logger }

func (s *serverLogger) Noticef(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Fatalf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Errorf(format string, v ...any)  { s.l.Error(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Debugf(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s *serverLogger) Tracef(format string, v ...any)  { s.l.Debug(fmt.Sprintf(format, v...)) }
