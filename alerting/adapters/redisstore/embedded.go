package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// EmbeddedOptions configures an embedded Redis.
type EmbeddedOptions struct {
	// Dir holds the append-only file, the socket and the log. Required
	// for a redis-server child.
	Dir string
	// Addr is the TCP address to listen on ("127.0.0.1:6390"); "" means a
	// unix socket in Dir, which no other program can collide with.
	Addr string
	// ServerPath is the redis-server binary; "" means look it up on PATH.
	// When none is found, Start falls back to an in-memory server.
	ServerPath string
	// NoFallback makes Start fail instead of falling back to memory.
	NoFallback bool
	Logger     *slog.Logger
}

// Embedded is a Redis that truceline runs itself: a redis-server child
// process with append-only persistence when one is installed, otherwise an
// in-process, in-memory Redis-compatible server that keeps nothing.
type Embedded struct {
	url        string
	persistent bool
	logger     *slog.Logger

	cmd    *exec.Cmd
	exited chan struct{}
	mini   *miniredis.Miniredis
	stop   chan struct{}

	once sync.Once
	err  error
}

// ErrNoRedisServer is returned with NoFallback when redis-server is missing.
var ErrNoRedisServer = errors.New("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")

// StartEmbedded starts an embedded Redis and waits until it answers.
func StartEmbedded(ctx context.Context, o EmbeddedOptions) (*Embedded, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	logger := o.Logger.With("component", "embedded-redis")
	path := o.ServerPath
	if path == "" {
		path, _ = exec.LookPath("redis-server")
	}
	if path == "" {
		if o.NoFallback {
			return nil, ErrNoRedisServer
		}
		return startMemory(o.Addr, logger)
	}
	return startChild(ctx, path, o, logger)
}

// URL is the redis:// or unix:// URL clients connect with.
func (e *Embedded) URL() string { return e.url }

// Persistent reports whether state survives a restart (a redis-server child
// with an append-only file) or not (the in-memory fallback).
func (e *Embedded) Persistent() bool { return e.persistent }

func startChild(ctx context.Context, path string, o EmbeddedOptions, logger *slog.Logger) (*Embedded, error) {
	if o.Dir == "" {
		return nil, errors.New("embedded redis: a data directory is required")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded redis: %w", err)
	}
	stopStale(filepath.Join(dir, "redis.pid"), logger)
	args := []string{
		"--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--auto-aof-rewrite-percentage", "400", "--auto-aof-rewrite-min-size", "256mb",
		"--daemonize", "no", "--pidfile", filepath.Join(dir, "redis.pid"), "--logfile", "redis.log",
		"--protected-mode", "yes",
	}
	var url string
	if o.Addr == "" {
		sock := filepath.Join(dir, "redis.sock")
		if len(sock) > 100 { // the kernel's limit for socket paths is 108 bytes
			return nil, fmt.Errorf("embedded redis: socket path %s is too long; use a shorter --data-dir", sock)
		}
		_ = os.Remove(sock)
		args = append(args, "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700")
		url = "unix://" + sock
	} else {
		host, port, err := net.SplitHostPort(o.Addr)
		if err != nil {
			return nil, fmt.Errorf("embedded redis: address %q: %w", o.Addr, err)
		}
		if err := checkFree(o.Addr); err != nil {
			return nil, err
		}
		args = append(args, "--bind", host, "--port", port)
		url = "redis://" + o.Addr
	}
	cmd := exec.Command(path, args...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("embedded redis: start %s: %w", path, err)
	}
	e := &Embedded{url: url, persistent: true, logger: logger, cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.exited) }()
	if err := e.waitReady(ctx, filepath.Join(dir, "redis.log")); err != nil {
		_ = e.Shutdown(context.Background())
		return nil, err
	}
	logger.Info("embedded redis-server started", "url", url, "dir", dir, "pid", cmd.Process.Pid)
	return e, nil
}

// waitReady polls until the child answers PING, or says why it did not.
func (e *Embedded) waitReady(ctx context.Context, logPath string) error {
	opts, err := redis.ParseURL(e.url)
	if err != nil {
		return err
	}
	client := redis.NewClient(opts)
	defer client.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pingCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := client.Ping(pingCtx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-e.exited:
			return fmt.Errorf("embedded redis exited at start: %s", tail(logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded redis did not answer within 15s: %w", err)
		}
	}
}

// stopStale ends a redis-server left running by a truceline that was killed
// before it could stop its child, so the new child can own the directory.
func stopStale(pidfile string, logger *slog.Logger) {
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("redis-server")) {
		return
	}
	logger.Warn("stopping a redis-server left over from an earlier run", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}

// checkFree fails with advice when addr is already taken.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("embedded redis: cannot listen on %s (%w): another program holds it; "+
			"choose another address, or point truceline at that Redis with --redis-url", addr, err)
	}
	return l.Close()
}

func startMemory(addr string, logger *slog.Logger) (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if err := m.StartAddr(addr); err != nil {
		return nil, fmt.Errorf("embedded in-memory redis: listen on %s: %w", addr, err)
	}
	e := &Embedded{url: "redis://" + m.Addr(), logger: logger, mini: m, stop: make(chan struct{}), exited: make(chan struct{})}
	// miniredis only expires keys when told time has passed.
	go func() {
		defer close(e.exited)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-e.stop:
				return
			case now := <-t.C:
				m.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return e, nil
}

// Shutdown stops the server: the child gets SIGTERM, which makes Redis flush
// its append-only file, and SIGKILL if ctx ends first. Idempotent.
func (e *Embedded) Shutdown(ctx context.Context) error {
	e.once.Do(func() {
		if e.mini != nil {
			close(e.stop)
			e.mini.Close()
			<-e.exited
			return
		}
		_ = e.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-ctx.Done():
			_ = e.cmd.Process.Kill()
			<-e.exited
			e.err = fmt.Errorf("embedded redis: killed after %w", ctx.Err())
		}
	})
	return e.err
}

// Kill stops a redis-server child at once with SIGKILL, as a crash would.
// Tests use it; the append-only file keeps what was written.
func (e *Embedded) Kill() {
	if e.mini != nil {
		_ = e.Shutdown(context.Background())
		return
	}
	e.once.Do(func() {
		_ = e.cmd.Process.Kill()
		<-e.exited
	})
}
