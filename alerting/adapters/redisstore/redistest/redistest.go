// Package redistest runs real redis-server processes for tests: each on a
// free port with its own data directory and append-only file, so tests never
// touch a system Redis and can kill and restart theirs.
package redistest

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// Server is a redis-server child owned by one test.
type Server struct {
	Addr string // host:port
	// CAFile, ClientCertFile and ClientKeyFile are PEM files of a TLS
	// server (StartWith): the CA of its certificate, and a client
	// certificate and key from the same CA.
	CAFile, ClientCertFile, ClientKeyFile string

	dir string
	emb *redisstore.Embedded // Start

	// StartWith's own child.
	opts   *Options
	path   string
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start runs a redis-server for the test and stops it when the test ends.
// The test fails with install advice when redis-server is not on PATH.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{Addr: FreeAddr(t), dir: t.TempDir()}
	// The port was free a moment ago; another test's server or connection
	// may have taken it since: try another.
	for range 5 {
		if err := s.tryStart(); err == nil || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		s.Addr = FreeAddr(t)
	}
	if s.emb == nil {
		s.start(t)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.emb.Shutdown(ctx)
	})
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	err := s.tryStart()
	if errors.Is(err, redisstore.ErrNoRedisServer) {
		t.Fatalf("these tests need a real Redis: %v", err)
	}
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
}

func (s *Server) tryStart() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	emb, err := redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: s.dir, Addr: s.Addr, NoFallback: true})
	if err != nil {
		return err
	}
	s.emb = emb
	return nil
}

// URL is the server's redis:// URL; a server from StartWith's is rediss://
// with TLS, and carries the user and password.
func (s *Server) URL() string {
	if s.opts == nil {
		return "redis://" + s.Addr
	}
	return s.urlWith(s.opts.User, s.opts.Password)
}

// Client returns a client of the server, closed when the test ends.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	if s.opts != nil {
		c = s.client()
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Kill ends the server with SIGKILL, as a crash would, once Redis has
// written what it acknowledged to its append-only file.
//
// With appendfsync everysec, Redis postpones writing its AOF buffer (for up
// to 2 s) while a background fsync is still running, and answers clients
// meanwhile; a crash in that window loses acknowledged writes (docs/REDIS.md,
// "Durability"). The tests check what truceline guarantees beyond that
// window, which is Redis's, so Kill waits for the buffer to be written.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.waitAOFWritten(t)
	if s.opts != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
		return
	}
	s.emb.Kill()
}

// Restart stops the server (gracefully unless it was killed) and starts it
// again on the same address and data, which it reloads from its
// append-only file.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.opts != nil {
		s.stopChild()
		s.startChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.emb.Shutdown(ctx)
	s.start(t)
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitAOFWritten waits, for at most 5 s, until Redis's AOF buffer is
// written to the file (INFO persistence: aof_buffer_length 0).
func (s *Server) waitAOFWritten(t testing.TB) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	if s.opts != nil {
		c = s.client()
	}
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		info, err := c.Info(context.Background(), "persistence").Result()
		if err != nil || strings.Contains(info, "aof_buffer_length:0\r\n") {
			return // not answering: nothing more will be written
		}
		time.Sleep(5 * time.Millisecond) // polling Redis with the deadline above
	}
	t.Logf("redis's AOF buffer was still not written after 5 s; killing it anyway")
}

// Snapshot is a copy of a server's append-only file taken while it ran.
type Snapshot struct{ dir string }

// Snapshot copies the server's append-only file as it is now (once Redis
// has written what it acknowledged), as a backup or a lagging copy would
// hold it.
func (s *Server) Snapshot(t testing.TB) Snapshot {
	t.Helper()
	s.waitAOFWritten(t)
	snap := Snapshot{dir: t.TempDir()}
	if err := os.CopyFS(filepath.Join(snap.dir, aofDir), os.DirFS(filepath.Join(s.dir, aofDir))); err != nil {
		t.Fatalf("copy the append-only file: %v", err)
	}
	return snap
}

// Restore kills the server and starts it again from snap: Redis comes back
// behind everything it acknowledged since, as after restoring a backup.
func (s *Server) Restore(t testing.TB, snap Snapshot) {
	t.Helper()
	if s.opts != nil {
		_ = s.cmd.Process.Kill()
		<-s.exited
	} else {
		s.emb.Kill()
	}
	if err := os.RemoveAll(filepath.Join(s.dir, aofDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(s.dir, aofDir), os.DirFS(filepath.Join(snap.dir, aofDir))); err != nil {
		t.Fatalf("restore the append-only file: %v", err)
	}
	if s.opts != nil {
		s.startChild(t)
		return
	}
	s.start(t)
}

// aofDir is where Redis 7 keeps its append-only file.
const aofDir = "appendonlydir"
