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
	// A port found free may be taken by another test before its server
	// listens there: start again on other ports.
	for attempt := 1; ; attempt++ {
		c, err := startCluster(t, n)
		if err == nil {
			return c
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("%v; starting the cluster again on other ports", err)
	}
}

// startCluster is one attempt of StartCluster; on failure it has stopped
// what it started.
func startCluster(t testing.TB, n int) (_ *Cluster, err error) {
	t.Helper()
	clientAddrs, routeAddrs := make([]string, n), make([]string, n)
	for i := range n {
		clientAddrs[i], routeAddrs[i] = freeAddr(t), freeAddr(t)
	}
	c := &Cluster{}
	defer func() {
		if err != nil {
			for _, s := range c.Servers {
				s.Shutdown()
			}
		}
	}()
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
			return nil, fmt.Errorf("nats cluster server %d: %w", i+1, err)
		}
		go srv.Start()
		s.srv = srv
		c.Servers = append(c.Servers, s)
		t.Cleanup(s.Shutdown)
		if !srv.ReadyForConnections(30 * time.Second) {
			return nil, fmt.Errorf("nats cluster server %d did not start on %s within 30 s", i+1, clientAddrs[i])
		}
	}
	// Ready once a JetStream leader sees every server online with its
	// stats: placing a stream with n replicas needs all of them, and a
	// leader alone is not enough ("no suitable peers for placement").
	deadline := time.Now().Add(60 * time.Second)
	for !allPeersOnline(c, n) {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the NATS cluster's JetStream leader did not see all %d servers online within 60 s", n)
		}
		time.Sleep(20 * time.Millisecond) // polling the servers with the deadline above
	}
	return c, nil
}

// allPeersOnline reports whether the cluster's JetStream leader sees n
// servers online, with JetStream and their stats.
func allPeersOnline(c *Cluster, n int) bool {
	for _, s := range c.Servers {
		if s.srv != nil && s.srv.JetStreamIsLeader() && len(s.srv.JetStreamClusterPeers()) == n {
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
