package natstest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is n NATS servers with JetStream routed into one cluster, as a
// production deployment runs them.
type Cluster struct {
	Servers []*Server
}

// StartCluster runs an n-server JetStream cluster for the test, on free
// ports, and stops it when the test ends; it returns once the cluster has
// a JetStream meta leader.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	clientAddrs, routeAddrs := make([]string, n), make([]string, n)
	for i := range n {
		clientAddrs[i], routeAddrs[i] = freeAddr(t), freeAddr(t)
	}
	c := &Cluster{}
	for i := range n {
		var routes []*url.URL
		for j, a := range routeAddrs {
			if j != i {
				routes = append(routes, &url.URL{Scheme: "nats", Host: a})
			}
		}
		host, port := splitAddr(t, clientAddrs[i])
		rhost, rport := splitAddr(t, routeAddrs[i])
		s := &Server{Addr: clientAddrs[i], dir: t.TempDir()}
		s.opts = &Options{}
		srv, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("natstest-%d", i+1), Host: host, Port: port, JetStream: true,
			StoreDir: filepath.Join(s.dir, "jetstream"), NoSigs: true, DisableJetStreamBanner: true,
			Cluster: server.ClusterOpts{Name: "natstest", Host: rhost, Port: rport}, Routes: routes,
		})
		if err != nil {
			t.Fatalf("nats cluster server %d: %v", i+1, err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(10 * time.Second) {
			t.Fatalf("nats cluster server %d did not start", i+1)
		}
		s.srv = srv
		c.Servers = append(c.Servers, s)
		t.Cleanup(s.Shutdown)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !anyLeader(c) {
		if time.Now().After(deadline) {
			t.Fatal("the NATS cluster elected no JetStream leader within 30 s")
		}
		time.Sleep(20 * time.Millisecond) // polling the servers with the deadline above
	}
	return c
}

func anyLeader(c *Cluster) bool {
	for _, s := range c.Servers {
		if s.srv != nil && s.srv.JetStreamIsLeader() {
			return true
		}
	}
	return false
}

// URL lists every server's URL, comma-separated, as a client is given a
// cluster.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.URL()
	}
	return strings.Join(urls, ",")
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func splitAddr(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(port, &p)
	return host, p
}
