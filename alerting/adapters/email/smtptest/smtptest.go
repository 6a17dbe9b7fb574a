// Package smtptest runs an SMTP server inside the test process, on a random
// port of 127.0.0.1, that records every message it accepts. It can offer
// STARTTLS or speak implicit TLS with a self-signed certificate, require
// AUTH PLAIN, refuse recipients or data on demand, and hold back its answer
// to DATA, so tests exercise a real SMTP conversation without a relay.
package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how a Server uses TLS.
type TLSMode int

// TLS modes of Options.TLS.
const (
	// NoTLS speaks plain text only and does not offer STARTTLS.
	NoTLS TLSMode = iota
	// StartTLS offers STARTTLS with the server's certificate.
	StartTLS
	// ImplicitTLS speaks TLS from the first byte, as SMTPS does.
	ImplicitTLS
)

// Options say how a Server behaves. The zero Options is a plain-text
// server that takes mail from anyone.
type Options struct {
	TLS TLSMode
	// Username and Password, when Username is set, are required by AUTH
	// PLAIN before MAIL; the server offers no AUTH otherwise.
	Username, Password string
}

// Message is one message the server accepted.
type Message struct {
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	Data []byte   // the raw message: headers and body, CRLF line ends
	TLS  bool     // whether it travelled over TLS
}

// Server is an SMTP server owned by one test.
type Server struct {
	host string
	port int
	pool *x509.CertPool

	mu       sync.Mutex
	msgs     []Message
	mails    int // MAIL commands
	auths    int // AUTH attempts
	rcptErr  error
	dataErr  error
	dataSeen chan struct{} // when set, closed by the next DATA, which then waits for release
	release  chan struct{}
	releases []func() // of every HoldData, called when the test ends
}

// Start runs a server for the test and stops it when the test ends. Its
// certificate, made for 127.0.0.1 and localhost, is trusted by RootCAs.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &Server{pool: pool}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, opts: o, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.TLS == StartTLS {
		srv.TLSConfig = tlsCfg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	if o.TLS == ImplicitTLS {
		ln = tls.NewListener(ln, tlsCfg)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s.host = host
	s.port, _ = strconv.Atoi(port)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		s.mu.Lock()
		releases := s.releases
		s.mu.Unlock()
		for _, release := range releases {
			release()
		}
		_ = srv.Close()
		<-done
	})
	return s
}

// Host is the address the server listens on, "127.0.0.1": a name its
// certificate is valid for.
func (s *Server) Host() string { return s.host }

// Port is the server's port.
func (s *Server) Port() int { return s.port }

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// RootCAs is a pool that trusts the server's self-signed certificate, for
// a client's tls.Config.
func (s *Server) RootCAs() *x509.CertPool { return s.pool }

// Messages returns a copy of every message accepted so far, in order.
// Tests poll it, e.g. with alertingtest.Eventually.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Counts says how many MAIL commands and AUTH attempts the server has seen,
// accepted or not.
func (s *Server) Counts() (mails, auths int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails, s.auths
}

// SetErrors makes the server answer every RCPT with rcpt and every DATA
// with data, until set again; nil accepts. A *smtp.SMTPError gives the
// reply code, e.g. 451 for a temporary failure or 550 for a permanent one.
func (s *Server) SetErrors(rcpt, data error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcptErr, s.dataErr = rcpt, data
}

// HoldData makes the next DATA close seen once the server has read the
// message, then hold back its answer until release is called (or the test
// ends), and then refuse the message with 451. Tests use it to cancel a
// delivery while the client waits for the server.
func (s *Server) HoldData() (seen <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, rel := make(chan struct{}), make(chan struct{})
	release = sync.OnceFunc(func() { close(rel) })
	s.dataSeen, s.release = ch, rel
	s.releases = append(s.releases, release)
	return ch, release
}

// session is one SMTP session of a Server.
type session struct {
	srv    *Server
	opts   Options
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	s.srv.mu.Lock()
	s.srv.auths++
	s.srv.mu.Unlock()
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.opts.Username || password != s.opts.Password {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.srv.mu.Lock()
	s.srv.mails++
	s.srv.mu.Unlock()
	if s.opts.Username != "" && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	err := s.srv.rcptErr
	s.srv.mu.Unlock()
	if err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	seen, release, dataErr := s.srv.dataSeen, s.srv.release, s.srv.dataErr
	s.srv.dataSeen = nil
	s.srv.mu.Unlock()
	if seen != nil {
		close(seen)
		<-release
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "too late"}
	}
	if dataErr != nil {
		return dataErr
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, Message{From: s.from, To: s.to, Data: b, TLS: isTLS})
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and localhost and a pool
// that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("smtptest: generate key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "truceline test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("smtptest: create certificate: %v", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("smtptest: parse certificate: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
