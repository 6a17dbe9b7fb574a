// Package natstest runs a real NATS server with JetStream inside the test
// process, on a random port with its own store directory, and can stop and
// restart it to test what survives.
package natstest

import (
	"net"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/truceline/truceline/broker"
)

// Server is an embedded NATS server owned by one test.
type Server struct {
	Addr string // host:port clients connect to
	// Files of a server from StartWith: the CA of its TLS certificate, a
	// client certificate and key from that CA, and the nkey user's seed.
	CAFile, ClientCertFile, ClientKeyFile, SeedFile string

	dir      string
	emb      *broker.Embedded
	opts     *Options       // StartWith's
	maxStore int64          // Start's
	srv      *server.Server // StartWith's
}

// Start runs a NATS server for the test and stops it when the test ends.
func Start(t testing.TB) *Server { return StartWithMaxStore(t, 4<<30) }

// StartWithMaxStore is Start with a JetStream store of maxStore bytes, for
// tests that fill it.
func StartWithMaxStore(t testing.TB, maxStore int64) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir(), maxStore: maxStore}
	s.start(t, "127.0.0.1:0")
	s.Addr = net.JoinHostPort("127.0.0.1", portOf(s.emb.ClientURL()))
	t.Cleanup(s.Shutdown)
	return s
}

func (s *Server) start(t testing.TB, listen string) {
	t.Helper()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: listen, StoreDir: s.dir, MaxStore: s.maxStore, Open: true})
	if err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	s.emb = emb
}

// URL is the server's nats:// URL.
func (s *Server) URL() string { return "nats://" + s.Addr }

// Connect returns a connection to the server, closed when the test ends.
// It reconnects forever, as truceline's own connection does.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.URL(), append(s.ConnectOptions(), nats.MaxReconnects(-1))...)
	if err != nil {
		t.Fatalf("connect to nats: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Shutdown stops the server; JetStream keeps its store on disk.
func (s *Server) Shutdown() {
	if s.emb != nil {
		s.emb.Shutdown()
		s.emb = nil
	}
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// Restart stops the server and starts it again on the same port and store.
// Servers from StartWith cannot restart.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.opts != nil {
		t.Fatal("natstest: a server from StartWith cannot restart")
	}
	s.Shutdown()
	s.start(t, s.Addr)
}

func portOf(url string) string {
	_, port, _ := net.SplitHostPort(url[len("nats://"):])
	return port
}
