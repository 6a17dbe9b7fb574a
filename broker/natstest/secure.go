package natstest

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// Options secure a NATS server started with StartWith, as a production
// server outside truceline would be.
type Options struct {
	// User and Password: a user with every permission.
	User, Password string
	// Nkey adds a user who logs in with an nkey; its seed is in
	// Server.SeedFile.
	Nkey bool
	// TLS makes the server require TLS, with a certificate for 127.0.0.1
	// and localhost from a CA made for the test (Server.CAFile).
	TLS bool
	// ClientCerts makes a TLS server require a client certificate from
	// that CA (Server.ClientCertFile and ClientKeyFile hold one).
	ClientCerts bool
}

// StartWith runs a NATS server with JetStream that requires what o says,
// on a random port, and stops it when the test ends.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir(), opts: &o}
	sopts := &server.Options{
		ServerName: "natstest", Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(s.dir, "jetstream"), NoSigs: true, DisableJetStreamBanner: true,
	}
	if o.User != "" {
		sopts.Users = []*server.User{{Username: o.User, Password: o.Password}}
	}
	if o.Nkey {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		seed, _ := kp.Seed()
		pub, _ := kp.PublicKey()
		s.SeedFile = filepath.Join(s.dir, "user.nk")
		if err := os.WriteFile(s.SeedFile, seed, 0o600); err != nil {
			t.Fatal(err)
		}
		sopts.Nkeys = []*server.NkeyUser{{Nkey: pub}}
	}
	if o.TLS {
		s.makeCerts(t)
		cert, err := tls.LoadX509KeyPair(filepath.Join(s.dir, "server.pem"), filepath.Join(s.dir, "server-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		sopts.TLS = true
		sopts.TLSTimeout = 5
		sopts.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.ClientCerts {
			sopts.TLSVerify = true
			sopts.TLSConfig.ClientAuth = tls.RequireAndVerifyClientCert
			sopts.TLSConfig.ClientCAs = s.caPool(t)
		}
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(15 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats-server not ready within 15s")
	}
	s.srv = srv
	s.Addr = srv.Addr().String()
	t.Cleanup(s.Shutdown)
	return s
}

// ConnectOptions log in with every credential and certificate the server
// has, as a client of the test would.
func (s *Server) ConnectOptions() []nats.Option {
	var opts []nats.Option
	if s.opts == nil {
		return nil
	}
	if s.opts.User != "" {
		opts = append(opts, nats.UserInfo(s.opts.User, s.opts.Password))
	}
	if s.SeedFile != "" {
		if o, err := nats.NkeyOptionFromSeed(s.SeedFile); err == nil {
			opts = append(opts, o)
		}
	}
	if s.CAFile != "" {
		opts = append(opts, nats.RootCAs(s.CAFile))
	}
	if s.opts.ClientCerts {
		opts = append(opts, nats.ClientCert(s.ClientCertFile, s.ClientKeyFile))
	}
	return opts
}

// URLWithUser is the server's URL carrying a user and password.
func (s *Server) URLWithUser(user, password string) string {
	return (&url.URL{Scheme: "nats", User: url.UserPassword(user, password), Host: s.Addr}).String()
}

func (s *Server) caPool(t testing.TB) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(data)
	return pool
}

// makeCerts writes the server's test PKI into its directory.
func (s *Server) makeCerts(t testing.TB) {
	t.Helper()
	c := alertingtest.MakeCerts(t, s.dir, "natstest")
	s.CAFile, s.ClientCertFile, s.ClientKeyFile = c.CA, c.ClientCert, c.ClientKey
}
