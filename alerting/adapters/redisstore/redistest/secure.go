package redistest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// Options secure a redis-server started with StartWith.
type Options struct {
	// User and Password: with a User, the server has that ACL user with
	// Password and the rules of ACL, and the default user is disabled;
	// with only a Password, the default user needs it (requirepass).
	User     string
	Password string
	// ACL are the user's rules; "" means every key, channel and command
	// ("~* &* +@all").
	ACL string
	// TLS makes the server accept only TLS connections (rediss://), with a
	// certificate for 127.0.0.1 and localhost from a CA made for the test
	// (Server.CAFile).
	TLS bool
	// ClientCerts makes a TLS server require a client certificate signed
	// by that CA (Server.ClientCertFile and ClientKeyFile hold one).
	ClientCerts bool
}

// StartWith runs a redis-server with an ACL user or password and TLS as o
// says, and stops it when the test ends. Such a server's URL carries the
// credentials, and Client uses them and the CA.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("these tests need a real Redis: redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
	}
	s := &Server{Addr: FreeAddr(t), dir: t.TempDir(), opts: &o, path: path}
	if o.TLS {
		s.makeCerts(t)
	}
	// FreeAddr's port was free when asked; another process may take it
	// before redis-server binds it: then try another.
	for attempt := 1; ; attempt++ {
		err := s.launch(t)
		if errors.Is(err, errPortTaken) && attempt < 5 {
			s.Addr = FreeAddr(t)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	t.Cleanup(s.stopChild)
	return s
}

// errPortTaken is launch's error when the port was taken meanwhile.
var errPortTaken = errors.New("the port was taken")

func (s *Server) args() []string {
	o := s.opts
	host, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--dir", s.dir, "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
		"--daemonize", "no", "--logfile", "redis.log", "--bind", host, "--protected-mode", "yes"}
	if o.TLS {
		args = append(args, "--port", "0", "--tls-port", port,
			"--tls-cert-file", filepath.Join(s.dir, "server.pem"), "--tls-key-file", filepath.Join(s.dir, "server-key.pem"),
			"--tls-ca-cert-file", s.CAFile, "--tls-auth-clients", map[bool]string{true: "yes", false: "no"}[o.ClientCerts])
	} else {
		args = append(args, "--port", port)
	}
	switch {
	case o.User != "":
		acl := o.ACL
		if acl == "" {
			acl = "~* &* +@all"
		}
		args = append(args, "--user", "default", "off")
		args = append(args, "--user", o.User, "on", ">"+o.Password)
		args = append(args, strings.Fields(acl)...)
	case o.Password != "":
		args = append(args, "--requirepass", o.Password)
	}
	return args
}

func (s *Server) startChild(t testing.TB) {
	t.Helper()
	if err := s.launch(t); err != nil {
		t.Fatal(err)
	}
}

// launch starts the child and waits until it answers.
func (s *Server) launch(t testing.TB) error {
	t.Helper()
	cmd := exec.Command(s.path, s.args()...)
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	exited := s.exited
	go func() { _ = cmd.Wait(); close(exited) }()
	c := s.client()
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			if strings.Contains(string(log), "Address already in use") {
				return fmt.Errorf("%w: %s", errPortTaken, log)
			}
			return fmt.Errorf("redis-server exited at start:\n%s", log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stopChild()
			return fmt.Errorf("redis-server did not answer within 15s: %w", err)
		}
	}
}

// stopChild ends the child with SIGTERM, and SIGKILL after 10 s.
func (s *Server) stopChild() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// client connects as the server's URL says, trusting its CA.
func (s *Server) client() *redis.Client {
	opts, err := redis.ParseURL(s.URL())
	if err != nil {
		panic(err) // URL() is always valid
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig = s.TLSConfig()
	}
	return redis.NewClient(opts)
}

// TLSConfig trusts the server's CA and, when it requires them, presents
// the client certificate; nil for a server without TLS.
func (s *Server) TLSConfig() *tls.Config {
	if s.opts == nil || !s.opts.TLS {
		return nil
	}
	pemData, _ := os.ReadFile(s.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemData)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if s.opts.ClientCerts {
		cert, err := tls.LoadX509KeyPair(s.ClientCertFile, s.ClientKeyFile)
		if err == nil {
			c.Certificates = []tls.Certificate{cert}
		}
	}
	return c
}

// urlWith is the server's URL with the given credentials.
func (s *Server) urlWith(user, password string) string {
	u := url.URL{Scheme: "redis", Host: s.Addr}
	if s.opts != nil && s.opts.TLS {
		u.Scheme = "rediss"
	}
	if user != "" || password != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// URLWithPassword is the server's URL with another password, to test
// refusals.
func (s *Server) URLWithPassword(password string) string {
	user := ""
	if s.opts != nil {
		user = s.opts.User
	}
	return s.urlWith(user, password)
}

// makeCerts writes the server's test PKI into its directory.
func (s *Server) makeCerts(t testing.TB) {
	t.Helper()
	c := alertingtest.MakeCerts(t, s.dir, "redistest")
	s.CAFile, s.ClientCertFile, s.ClientKeyFile = c.CA, c.ClientCert, c.ClientKey
}
