package webhook

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/truceline/truceline/alerting"
)

// Defaults of SenderOptions.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultUserAgent = "truceline-webhook/1"
)

const (
	// errorBodyRead is how much of a failed response's body is read for
	// its error; errorBodyShow is how much of that the error shows.
	errorBodyRead = 4 << 10
	errorBodyShow = 200
	// drainLimit bounds how much of a response body is discarded so that
	// its connection can be reused; a larger body closes the connection.
	drainLimit = 64 << 10
)

// SenderOptions configure a Sender; the zero value is ready to use.
type SenderOptions struct {
	// Client sends the requests; nil means a client with dial, TLS and
	// header timeouts. Redirects are never followed, whatever the client
	// says: a 3xx answer is a permanent failure, so that a signed payload
	// never travels to a host the method does not name.
	Client *http.Client
	// Timeout bounds each attempt, from dialling to reading the answer;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// UserAgent is sent with each request; "" means DefaultUserAgent.
	UserAgent string
	// Destinations, when set, bounds the addresses webhooks may go to
	// (private and local ones are denied unless allowed). It is ignored
	// when Client is set.
	Destinations *Destinations
}

// Sender delivers messages of webhook methods: it implements
// alerting.Sender. It is safe for concurrent use.
type Sender struct {
	client    *http.Client
	timeout   time.Duration
	userAgent string
}

var _ alerting.Sender = (*Sender)(nil)

// NewSender returns a Sender configured by o.
func NewSender(o SenderOptions) *Sender {
	s := &Sender{timeout: o.Timeout, userAgent: o.UserAgent}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.userAgent == "" {
		s.userAgent = DefaultUserAgent
	}
	if o.Client != nil {
		c := *o.Client // a copy, so as not to change the caller's client
		s.client = &c
	} else {
		s.client = &http.Client{Transport: newTransport(o.Destinations)}
	}
	s.client.CheckRedirect = noRedirects
	return s
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// newTransport returns the default client's transport: the default one,
// with timeouts on each phase (the attempt's context bounds the whole),
// dialling only what d permits when d is set. No proxy: a proxy would
// dial for us, past d.
func newTransport(d *Destinations) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if d != nil {
		dialer.Control = d.control
		t.Proxy = nil
	}
	t.DialContext = dialer.DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 8
	return t
}

// Destination names where m's webhooks go, "webhook https://host:port",
// without the URL's path, query or credentials, which may hold tokens: the
// circuit breaker's key, and safe to log.
func (s *Sender) Destination(m alerting.Method) string {
	return "webhook " + origin(m.URL)
}

// origin returns scheme://host of a URL, or "(invalid URL)".
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host)
}

// StatusError is a destination's answer other than 2xx. Send returns it
// wrapped by alerting.Permanent unless retrying may help (408, 425, 429 and
// 5xx).
type StatusError struct {
	// Destination is as Sender.Destination returns it.
	Destination string
	StatusCode  int
	// Body is the start of the response body, at most 200 bytes, with
	// control characters and runs of white space made single spaces. It
	// is not in Error, which everyone who sees the alert reads: a
	// destination's answer is not theirs to read.
	Body string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.Destination, e.StatusCode, http.StatusText(e.StatusCode))
}

// Temporary reports whether retrying may help.
func (e *StatusError) Temporary() bool { return retryable(e.StatusCode) }

func retryable(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code <= 599:
		return true
	}
	return false
}

// Send POSTs m's payload to m.Method.URL, signed with m.Method.Secret, and
// returns nil once the destination answered 2xx. Its errors name the
// destination's scheme and host only, never the URL's path or query nor the
// secret; an error wrapped by alerting.Permanent means retrying cannot help.
func (s *Sender) Send(ctx context.Context, m *alerting.Message) error {
	if m == nil || m.Alert == nil {
		return alerting.Permanent(errors.New("webhook: message without an alert"))
	}
	dest := s.Destination(m.Method)
	u, err := url.Parse(m.Method.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return alerting.Permanent(fmt.Errorf("%s: the URL must be an http or https URL", dest))
	}
	// The library takes any base64, even none at all (an empty key that
	// anyone can sign with), so the secret is checked here. The checks'
	// errors do not quote the secret.
	if err := alerting.ValidWebhookSecret(m.Method.Secret); err != nil {
		return alerting.Permanent(fmt.Errorf("%s: signing secret %v", dest, err))
	}
	wh, err := standardwebhooks.NewWebhook(m.Method.Secret)
	if err != nil {
		return alerting.Permanent(fmt.Errorf("%s: signing secret: %v", dest, err))
	}
	body, err := json.Marshal(m.Payload())
	if err != nil {
		return alerting.Permanent(fmt.Errorf("%s: encoding the payload: %w", dest, err))
	}
	sig, err := wh.Sign(m.Key, m.SentAt, body)
	if err != nil {
		return alerting.Permanent(fmt.Errorf("%s: signing: %v", dest, err))
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return alerting.Permanent(fmt.Errorf("webhook: %v", redactURLError(err, origin(m.Method.URL))))
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", s.userAgent)
	h.Set(standardwebhooks.HeaderWebhookID, m.Key)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(m.SentAt.Unix(), 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)

	resp, err := s.client.Do(req)
	if err != nil {
		cerr := &connError{dest: dest, reason: reason(err), err: redactURLError(err, origin(m.Method.URL))}
		if errors.Is(err, ErrDestinationDenied) {
			return alerting.Permanent(cerr)
		}
		return cerr
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	start, _ := io.ReadAll(io.LimitReader(resp.Body, errorBodyRead))
	serr := &StatusError{Destination: dest, StatusCode: resp.StatusCode, Body: snippet(start, m.Method.Secret)}
	if serr.Temporary() {
		return serr
	}
	return alerting.Permanent(serr)
}

// redactURLError returns err with the URL of a *url.Error replaced by
// origin, keeping the error's chain (timeouts, net.OpError) for errors.Is
// and errors.As.
func redactURLError(err error, origin string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: origin, Err: ue.Err}
	}
	return err
}

// snippet returns the start of a response body fit for an error and a log:
// valid UTF-8, no control characters, white space collapsed, at most
// errorBodyShow bytes, and the secret (should a destination echo it) cut.
func snippet(b []byte, secret string) string {
	s := string(b)
	if raw := strings.TrimPrefix(secret, alerting.WebhookSecretPrefix); raw != "" {
		s = strings.ReplaceAll(s, raw, "[redacted]") // also cuts secret itself
		if key, err := base64.StdEncoding.DecodeString(raw); err == nil && len(key) >= 8 {
			s = strings.ReplaceAll(s, string(key), "[redacted]")
		}
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if len(s) > errorBodyShow {
		cut := errorBodyShow
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}
