package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/truceline/truceline/alerting"
)

// userAgent is the User-Agent and X-Mailer of every message.
const userAgent = "truceline"

// Sender delivers messages of email methods through one SMTP relay: it
// implements alerting.Sender. It is safe for concurrent use; each Send
// opens its own connection.
type Sender struct {
	cfg       Config
	tlsConfig *tls.Config // nil with TLSNone
	timeout   time.Duration
	dest      string
}

var _ alerting.Sender = (*Sender)(nil)

// NewSender returns a Sender for c, or an error naming every problem of c
// (see Config.Validate).
func NewSender(c Config) (*Sender, error) {
	if problems := c.Validate(); len(problems) > 0 {
		return nil, fmt.Errorf("email: invalid SMTP config: %s", strings.Join(problems, "; "))
	}
	c.TLS = c.tlsMode()
	s := &Sender{cfg: c, timeout: c.timeout(), dest: "smtp " + c.addr()}
	if c.TLS != TLSNone {
		if c.TLSConfig != nil {
			s.tlsConfig = c.TLSConfig.Clone()
		} else {
			s.tlsConfig = &tls.Config{}
		}
		if s.tlsConfig.ServerName == "" {
			s.tlsConfig.ServerName = c.Host
		}
		if s.tlsConfig.MinVersion == 0 {
			s.tlsConfig.MinVersion = tls.VersionTLS12
		}
	}
	return s, nil
}

// Destination names the relay, "smtp host:port", whatever the method: the
// circuit breaker's key, and safe to log.
func (s *Sender) Destination(alerting.Method) string { return s.dest }

// Send delivers m to m.Method.Address and returns nil once the relay has
// accepted it. An error wrapped by alerting.Permanent means retrying cannot
// help (an SMTP reply 5xx, an invalid address); any other error is
// transient. Errors name the relay, never the password.
func (s *Sender) Send(ctx context.Context, m *alerting.Message) error {
	if m == nil || m.Alert == nil {
		return alerting.Permanent(errors.New("email: message without an alert"))
	}
	msg, err := s.build(m)
	if err != nil {
		return alerting.Permanent(fmt.Errorf("email: %s: %w", s.dest, s.redact(err)))
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	// go-mail uses the context to dial only, and leaves the connection
	// open when the greeting, STARTTLS or AUTH fails. The dialler below
	// keeps the connection so that a cancelled context interrupts the whole
	// exchange and so that Send always closes it.
	conns := &connSet{}
	stop := context.AfterFunc(ctx, conns.closeAll)
	defer stop()
	defer conns.closeAll()

	client, err := s.client(ctx, conns)
	if err != nil {
		return fmt.Errorf("email: %s: %w", s.dest, s.redact(err))
	}
	err = client.DialAndSendWithContext(ctx, msg)
	if err == nil || msg.IsDelivered() {
		// Delivered: the relay accepted the message after DATA; a later
		// failure (RSET, QUIT) does not make it undelivered.
		return nil
	}
	return s.classify(ctx, err)
}

// client returns a go-mail client for one attempt, dialling through conns.
func (s *Sender) client(ctx context.Context, conns *connSet) (*mail.Client, error) {
	c := s.cfg
	opts := []mail.Option{
		mail.WithPort(c.Port),
		mail.WithTimeout(s.timeout),
		mail.WithDialContextFunc(s.dialer(ctx, conns)),
	}
	switch c.TLS {
	case TLSImplicit:
		// The dialler speaks TLS itself (go-mail only does so without a
		// custom dialler); WithSSL keeps go-mail from trying STARTTLS.
		opts = append(opts, mail.WithSSL(), mail.WithTLSConfig(s.tlsConfig))
	case TLSNone:
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory), mail.WithTLSConfig(s.tlsConfig))
	}
	if c.Username != "" {
		// PLAIN, or LOGIN when the server offers no PLAIN. go-mail refuses
		// both without TLS unless the host is localhost.
		opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthPlain, mail.SMTPAuthLogin),
			mail.WithUsername(c.Username), mail.WithPassword(c.Password))
	}
	return mail.NewClient(c.Host, opts...)
}

// dialer returns the attempt's dial function: TCP, or TLS from the first
// byte in TLSImplicit mode, each connection kept in conns. The TLS
// connection is returned as *tls.Conn itself, which is how go-mail's SMTP
// client knows it is encrypted (and lets AUTH PLAIN through).
func (s *Sender) dialer(attempt context.Context, conns *connSet) mail.DialContextFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := &net.Dialer{}
		var conn net.Conn
		var err error
		if s.cfg.TLS == TLSImplicit {
			conn, err = (&tls.Dialer{NetDialer: nd, Config: s.tlsConfig}).DialContext(ctx, network, addr)
		} else {
			conn, err = nd.DialContext(ctx, network, addr)
		}
		if err != nil {
			return nil, err
		}
		if !conns.add(conn) {
			return nil, context.Cause(attempt)
		}
		return conn, nil
	}
}

// build returns the email of m.
func (s *Sender) build(m *alerting.Message) (*mail.Msg, error) {
	if m.Key == "" {
		return nil, errors.New("message without a key")
	}
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(m.Method.Address); err != nil {
		return nil, fmt.Errorf("recipient address %q: %w", m.Method.Address, err)
	}
	msg.Subject(oneLine(m.Subject()))
	msg.SetMessageIDWithValue(messageIDValue(m.Key))
	setHeader(msg, HeaderKey, m.Key)
	setHeader(msg, HeaderAlert, m.Alert.ID)
	msg.SetGenHeader("Auto-Submitted", "auto-generated")
	msg.SetUserAgent(userAgent)
	if m.SentAt.IsZero() {
		msg.SetDate()
	} else {
		msg.SetDateWithValue(m.SentAt.UTC())
	}
	text, html, err := render(m)
	if err != nil {
		return nil, err
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

// setHeader sets a header of msg on one line when value is short printable
// ASCII, as keys and ids are, so that simple filters that do not unfold
// headers still match it; go-mail's SetGenHeader folds any value longer
// than a line's remainder, even right after the colon.
func setHeader(msg *mail.Msg, name mail.Header, value string) {
	printable := len(value) <= 900
	for i := 0; i < len(value) && printable; i++ {
		printable = value[i] >= ' ' && value[i] <= '~'
	}
	if printable {
		msg.SetGenHeaderPreformatted(name, value)
	} else {
		msg.SetGenHeader(name, value)
	}
}

// Headers every message carries besides Message-ID.
const (
	// HeaderKey is the notification's idempotency key, as is.
	HeaderKey = "X-Truceline-Key"
	// HeaderAlert is the alert's id.
	HeaderAlert = "X-Truceline-Alert"
)

// MessageID returns the Message-ID of the notification with key:
// "<" + key + "@truceline>", with every byte of the key other than ASCII
// letters, digits, "-" and "_" written as %XX (so "a:b/c" is
// "<a%3Ab%2Fc@truceline>"). The same key always gives the same
// Message-ID, and different keys different ones.
func MessageID(key string) string { return "<" + messageIDValue(key) + ">" }

// messageIDValue is MessageID without its angle brackets.
func messageIDValue(key string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(key) + 10)
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	b.WriteString("@truceline")
	return b.String()
}

// classify returns err as Send returns it: permanent for an SMTP reply
// 5xx, transient otherwise, naming the relay and never the password.
func (s *Sender) classify(ctx context.Context, err error) error {
	err = fmt.Errorf("email: %s: %w", s.dest, s.redact(err))
	if code := replyCode(err); code >= 500 && code <= 599 {
		return alerting.Permanent(err)
	}
	if ctxErr := context.Cause(ctx); ctxErr != nil {
		// The connection was closed under go-mail: say why.
		return fmt.Errorf("%w (%w)", err, ctxErr)
	}
	return err
}

// replyCode returns the SMTP reply code of err, or 0 when err is no
// server's reply (a refused connection, a timeout, a TLS failure).
func replyCode(err error) int {
	var se *mail.SendError
	if errors.As(err, &se) && se.ErrorCode() != 0 {
		return se.ErrorCode()
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// redact returns err with the password, should any part of it quote the
// password, cut from its text (and then without its chain, which would
// still hold it).
func (s *Sender) redact(err error) error {
	if err == nil || s.cfg.Password == "" || !strings.Contains(err.Error(), s.cfg.Password) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), s.cfg.Password, "[redacted]"), code: replyCode(err)}
}

// redactedError is an error whose text had the password in it.
type redactedError struct {
	msg  string
	code int
}

func (e *redactedError) Error() string { return e.msg }

// Unwrap keeps the reply code classifiable without the original chain.
func (e *redactedError) Unwrap() error {
	if e.code == 0 {
		return nil
	}
	return &textproto.Error{Code: e.code, Msg: "(redacted)"}
}

// connSet holds an attempt's connections so that they can be closed when
// its context ends and when Send returns.
type connSet struct {
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// add keeps c, or closes it and returns false when the set is closed.
func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = c.Close()
		return false
	}
	s.conns = append(s.conns, c)
	return true
}

// closeAll closes every connection, and any added later.
func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.conns = nil
}
