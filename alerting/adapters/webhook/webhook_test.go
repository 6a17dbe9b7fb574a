package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/truceline/truceline/alerting"
)

// newSecret returns a fresh signing secret.
func newSecret(t testing.TB) string {
	t.Helper()
	s, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	if err := alerting.ValidWebhookSecret(s); err != nil {
		t.Fatalf("GenerateSecret() = a secret that is not valid: %v", err)
	}
	return s
}

// newMessage returns a message for a realistic alert to the webhook method
// "ops" at url, signed with secret.
func newMessage(t testing.TB, url, secret string) *alerting.Message {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	a := &alerting.Alert{
		ID:           alerting.NewAlertID(),
		Zone:         "sector-4-north",
		Category:     alerting.CategoryShelling,
		Title:        "Shelling reported near the northern checkpoint",
		Rule:         alerting.DefaultRule,
		GroupKey:     "sector-4-north/shelling",
		Policy:       "duty-desk",
		Severity:     alerting.SeveritySevere,
		State:        alerting.StateOpen,
		Verification: alerting.Unverified,
		ReportCount:  3,
		FirstSeen:    now.Add(-25 * time.Minute),
		LastSeen:     now.Add(-4 * time.Minute),
		OpenedAt:     now.Add(-24 * time.Minute),
		UpdatedAt:    now.Add(-4 * time.Minute),
	}
	m := alerting.Method{ID: "ops", Type: alerting.MethodWebhook, URL: url, Secret: secret}
	c := alerting.Contact{ID: "duty-desk", Name: "Duty desk", Methods: []alerting.Method{m}}
	return &alerting.Message{
		Key:        a.ID + ":1:0:duty-desk/ops",
		Alert:      a,
		Contact:    c,
		Method:     m,
		Step:       1,
		Target:     "duty-desk",
		AckURL:     "https://truceline.example.org/ack/tok123",
		AckExpires: now.Add(time.Hour),
		AlertURL:   "https://truceline.example.org/alerts/" + a.ID,
		Attempt:    1,
		SentAt:     now,
	}
}

// errs collects a test's errors to check that none shows the secret.
type errs struct {
	mu   sync.Mutex
	list []error
}

func (e *errs) add(err error) error {
	if err != nil {
		e.mu.Lock()
		e.list = append(e.list, err)
		e.mu.Unlock()
	}
	return err
}

func (e *errs) checkNoSecret(t *testing.T, secrets ...string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.list {
		for _, s := range secrets {
			raw := strings.TrimPrefix(s, alerting.WebhookSecretPrefix)
			if strings.Contains(err.Error(), raw) {
				t.Errorf("error %q shows the secret", err)
			}
		}
	}
}

// captured is a request as a test server saw it.
type captured struct {
	header http.Header
	body   []byte
}

// receiverServer serves a Receiver that expects secret at /hook, and records
// each request it gets before the Receiver handles it.
func receiverServer(t *testing.T, secret string) (*httptest.Server, *Receiver, func() []captured) {
	t.Helper()
	rc := NewReceiver(func(r *http.Request) (string, bool) {
		return secret, r.URL.Path == "/hook"
	}, 10)
	var mu sync.Mutex
	var reqs []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, captured{r.Header.Clone(), body})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		rc.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, rc, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), reqs...)
	}
}

func TestSendReceive(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	srv, rc, reqs := receiverServer(t, secret)
	events, stop := rc.Subscribe()
	defer stop()

	m := newMessage(t, srv.URL+"/hook", secret)
	s := NewSender(SenderOptions{})
	if err := s.Send(t.Context(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}

	got := reqs()
	if len(got) != 1 {
		t.Fatalf("the server got %d requests, want 1", len(got))
	}
	h := got[0].header
	if id := h.Get("webhook-id"); id != m.Key {
		t.Errorf("webhook-id = %q, want %q", id, m.Key)
	}
	if ts := h.Get("webhook-timestamp"); ts != strconv.FormatInt(m.SentAt.Unix(), 10) {
		t.Errorf("webhook-timestamp = %q, want %d", ts, m.SentAt.Unix())
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if ua := h.Get("User-Agent"); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q", ua)
	}
	if sig := h.Get("webhook-signature"); !strings.HasPrefix(sig, "v1,") {
		t.Errorf("webhook-signature = %q, want v1,...", sig)
	}
	// The reference library accepts the signature by itself, too.
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got[0].body, h); err != nil {
		t.Errorf("the library's Verify: %v", err)
	}
	want, _ := json.Marshal(m.Payload())
	if !bytes.Equal(got[0].body, want) {
		t.Errorf("body = %s\nwant %s", got[0].body, want)
	}

	rec := rc.Received()
	if len(rec) != 1 {
		t.Fatalf("Received() has %d webhooks, want 1", len(rec))
	}
	r := rec[0]
	if r.ID != m.Key || r.Path != "/hook" || r.At.IsZero() {
		t.Errorf("Received() = %+v", r)
	}
	p := r.Payload
	if p.Type != alerting.PayloadType || p.Key != m.Key || p.Alert.ID != m.Alert.ID ||
		p.Alert.Severity != alerting.SeveritySevere || p.Contact != "duty-desk" || p.AckURL != m.AckURL ||
		!p.SentAt.Equal(m.SentAt.Truncate(time.Second)) || !p.Timestamp.Equal(p.SentAt) || p.SentAt.Nanosecond() != 0 {
		t.Errorf("payload = %+v; want timestamp and sent_at both the signed webhook-timestamp, in whole seconds", p)
	}
	select {
	case e := <-events:
		if e.ID != m.Key {
			t.Errorf("subscriber got %q, want %q", e.ID, m.Key)
		}
	default:
		t.Error("the subscriber got nothing")
	}
}

func TestReceiverRefuses(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	srv, rc, _ := receiverServer(t, secret)
	m := newMessage(t, srv.URL+"/hook", secret)
	body, _ := json.Marshal(m.Payload())
	wh, _ := standardwebhooks.NewWebhook(secret)
	sign := func(id string, ts time.Time, b []byte) http.Header {
		sig, err := wh.Sign(id, ts, b)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		h.Set("webhook-signature", sig)
		h.Set("Content-Type", "application/json")
		return h
	}
	post := func(method, path string, h http.Header, b []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if h != nil {
			req.Header = h
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			var e struct{ Error string }
			if err := json.Unmarshal(out, &e); err != nil || e.Error == "" {
				t.Errorf("%d answer %q is not a JSON error", resp.StatusCode, out)
			}
			return resp.StatusCode, e.Error
		}
		return resp.StatusCode, string(out)
	}

	tampered := bytes.Replace(body, []byte(`"severe"`), []byte(`"minor"`), 1)
	if bytes.Equal(tampered, body) {
		t.Fatal("the tampering changed nothing")
	}
	big := append(bytes.Repeat([]byte(" "), MaxBody), body...)
	old := time.Now().Add(-10 * time.Minute)
	notJSON := []byte("not json")

	for _, c := range []struct {
		name   string
		method string
		path   string
		header http.Header
		body   []byte
		want   int
	}{
		{"tampered body", "POST", "/hook", sign(m.Key, m.SentAt, body), tampered, 401},
		{"no signature", "POST", "/hook", http.Header{"Webhook-Id": {m.Key}, "Webhook-Timestamp": {strconv.FormatInt(m.SentAt.Unix(), 10)}}, body, 401},
		{"other id", "POST", "/hook", func() http.Header { h := sign(m.Key, m.SentAt, body); h.Set("webhook-id", "other"); return h }(), body, 401},
		{"old timestamp", "POST", "/hook", sign(m.Key, old, body), body, 401},
		{"unknown path", "POST", "/elsewhere", sign(m.Key, m.SentAt, body), body, 404},
		{"GET", "GET", "/hook", nil, nil, 405},
		{"too large", "POST", "/hook", sign(m.Key, m.SentAt, big), big, 413},
		{"not JSON", "POST", "/hook", sign(m.Key, m.SentAt, notJSON), notJSON, 400},
	} {
		if code, msg := post(c.method, c.path, c.header, c.body); code != c.want {
			t.Errorf("%s: answered %d %q, want %d", c.name, code, msg, c.want)
		}
	}
	if n := len(rc.Received()); n != 0 {
		t.Errorf("the refused requests recorded %d webhooks", n)
	}
	if code, _ := post("POST", "/hook", sign(m.Key, m.SentAt, body), body); code != http.StatusNoContent {
		t.Errorf("a good webhook after all that answered %d, want 204", code)
	}
}

func TestWrongSecret(t *testing.T) {
	t.Parallel()
	secret, other := newSecret(t), newSecret(t)
	srv, rc, _ := receiverServer(t, other)
	var e errs
	err := e.add(NewSender(SenderOptions{}).Send(t.Context(), newMessage(t, srv.URL+"/hook", secret)))
	var se *StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Send with the wrong secret = %v, want a 401 StatusError", err)
	}
	if !alerting.IsPermanent(err) {
		t.Errorf("401 is not permanent: %v", err)
	}
	if n := len(rc.Received()); n != 0 {
		t.Errorf("recorded %d webhooks with the wrong secret", n)
	}
	e.checkNoSecret(t, secret, other)
}

func TestDuplicate(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	srv, rc, reqs := receiverServer(t, secret)
	s := NewSender(SenderOptions{})
	m := newMessage(t, srv.URL+"/hook", secret)
	for i := range 2 {
		m.Attempt = i + 1
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("Send #%d: %v", i+1, err)
		}
	}
	if n := len(reqs()); n != 2 {
		t.Errorf("the server got %d requests, want 2", n)
	}
	if rec := rc.Received(); len(rec) != 1 || rec[0].Payload.Attempt != 1 {
		t.Errorf("Received() = %+v, want the first attempt only", rec)
	}
	if d := rc.Duplicates(); d != 1 {
		t.Errorf("Duplicates() = %d, want 1", d)
	}
}

func TestReceiverKeepsNewest(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	rc := NewReceiver(func(*http.Request) (string, bool) { return secret, true }, 3)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	s := NewSender(SenderOptions{})
	var keys []string
	for range 5 {
		m := newMessage(t, srv.URL+"/in", secret)
		keys = append(keys, m.Key)
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	rec := rc.Received()
	if len(rec) != 3 {
		t.Fatalf("kept %d, want 3", len(rec))
	}
	for i, r := range rec {
		if want := keys[4-i]; r.ID != want {
			t.Errorf("Received()[%d] = %s, want %s", i, r.ID, want)
		}
	}
}

// statusServer answers each request with the next of codes (the last one
// over and over), with a body that echoes the secret, so that tests see
// that errors do not.
func statusServer(t *testing.T, secret string, codes ...int) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		i := int(n.Add(1)) - 1
		code := codes[min(i, len(codes)-1)]
		if code >= 300 {
			http.Error(w, "nope\x1b[31m\n\tsecret="+secret+" "+strings.Repeat("x", 8<<10), code)
			return
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestSendStatus(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	var e errs
	s := NewSender(SenderOptions{})

	t.Run("500 then 200", func(t *testing.T) {
		srv, n := statusServer(t, secret, 500, 200)
		m := newMessage(t, srv.URL+"/hook", secret)
		err := e.add(s.Send(t.Context(), m))
		if err == nil || alerting.IsPermanent(err) {
			t.Fatalf("first Send = %v, want a transient error", err)
		}
		if !strings.Contains(err.Error(), "500") {
			t.Errorf("the error %q does not name the status", err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != 500 || !se.Temporary() {
			t.Errorf("the error %#v is not a temporary 500 StatusError", err)
		} else if len(se.Body) > 200 || strings.ContainsAny(se.Body, "\x1b\n\t") || !strings.HasPrefix(se.Body, "nope") {
			t.Errorf("the body snippet %q is not short and clean", se.Body)
		}
		if err := e.add(s.Send(t.Context(), m)); err != nil {
			t.Fatalf("second Send = %v, want nil", err)
		}
		if n.Load() != 2 {
			t.Errorf("the server got %d requests, want 2", n.Load())
		}
	})
	for _, c := range []struct {
		code      int
		permanent bool
	}{
		{400, true}, {403, true}, {404, true}, {410, true}, {422, true},
		{408, false}, {425, false}, {429, false}, {502, false}, {503, false},
	} {
		t.Run(strconv.Itoa(c.code), func(t *testing.T) {
			srv, _ := statusServer(t, secret, c.code)
			err := e.add(s.Send(t.Context(), newMessage(t, srv.URL+"/hook", secret)))
			if err == nil {
				t.Fatal("Send = nil")
			}
			if alerting.IsPermanent(err) != c.permanent {
				t.Errorf("Send = %v: permanent %v, want %v", err, alerting.IsPermanent(err), c.permanent)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(c.code)) {
				t.Errorf("the error %q does not name the status", err)
			}
		})
	}
	e.checkNoSecret(t, secret)
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) }) // runs first: lets the handler go before srv.Close waits for it

	const timeout = 200 * time.Millisecond
	s := NewSender(SenderOptions{Timeout: timeout})
	start := time.Now()
	err := s.Send(t.Context(), newMessage(t, srv.URL+"/hook?token=hush", secret))
	took := time.Since(start)
	if err == nil || alerting.IsPermanent(err) {
		t.Fatalf("Send = %v, want a transient error", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send = %v, want context.DeadlineExceeded", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("Send = %v, want a net.Error that is a timeout", err)
	}
	if took > 5*timeout {
		t.Errorf("Send took %v with a timeout of %v", took, timeout)
	}
	if strings.Contains(err.Error(), "hush") || strings.Contains(err.Error(), "/hook") {
		t.Errorf("the error %q shows the URL's path or query", err)
	}
}

func TestSendContextCanceled(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := NewSender(SenderOptions{}).Send(ctx, newMessage(t, srv.URL+"/hook", secret))
	if !errors.Is(err, context.Canceled) || alerting.IsPermanent(err) {
		t.Errorf("Send with a canceled context = %v, want a transient context.Canceled", err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var e errs
	err = e.add(NewSender(SenderOptions{Timeout: 2 * time.Second}).Send(t.Context(),
		newMessage(t, "http://"+addr+"/hook/path-token?token=hush", secret)))
	if err == nil || alerting.IsPermanent(err) {
		t.Fatalf("Send = %v, want a transient error", err)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("Send = %v, want a *net.OpError in the chain", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, addr) {
		t.Errorf("the error %q does not name the host %s", msg, addr)
	}
	if strings.Contains(msg, "hush") || strings.Contains(msg, "path-token") {
		t.Errorf("the error %q shows the URL's path or query", msg)
	}
	e.checkNoSecret(t, secret)
}

func TestSendRedirect(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	var hit atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/target", http.StatusFound)
	})
	mux.HandleFunc("/target", func(w http.ResponseWriter, r *http.Request) {
		hit.Store(true)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// A client of the caller's that follows redirects does not either.
	for name, o := range map[string]SenderOptions{"default": {}, "own client": {Client: &http.Client{}}} {
		var e errs
		err := e.add(NewSender(o).Send(t.Context(), newMessage(t, srv.URL+"/hook", secret)))
		if !alerting.IsPermanent(err) {
			t.Errorf("%s: Send to a redirect = %v, want a permanent error", name, err)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != http.StatusFound {
			t.Errorf("%s: Send = %v, want a 302 StatusError", name, err)
		}
		e.checkNoSecret(t, secret)
	}
	if hit.Load() {
		t.Error("the redirect's target was hit")
	}
}

func TestSendBadMethod(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	s := NewSender(SenderOptions{})
	for name, m := range map[string]alerting.Method{
		"no secret":     {URL: "http://127.0.0.1:1/hook"},
		"bad secret":    {URL: "http://127.0.0.1:1/hook", Secret: "whsec_!!" + strings.TrimPrefix(secret, "whsec_")},
		"ftp":           {URL: "ftp://127.0.0.1/hook", Secret: secret},
		"no host":       {URL: "http:///hook", Secret: secret},
		"unparseable":   {URL: "http://[::1/hook", Secret: secret},
		"secret prefix": {URL: "http://127.0.0.1:1/hook", Secret: strings.TrimPrefix(secret, "whsec_")},
	} {
		msg := newMessage(t, "", "")
		msg.Method = m
		err := s.Send(t.Context(), msg)
		if !alerting.IsPermanent(err) {
			t.Errorf("%s: Send = %v, want a permanent error", name, err)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("%s: the error %q shows the secret", name, err)
		}
	}
}

func TestDestination(t *testing.T) {
	t.Parallel()
	s := NewSender(SenderOptions{})
	for url, want := range map[string]string{
		"https://Hooks.Example.org/services/T0/B0/XYZ?token=1": "webhook https://hooks.example.org",
		"http://user:pass@127.0.0.1:8080/hook":                 "webhook http://127.0.0.1:8080",
		"::":                                                   "webhook (invalid URL)",
	} {
		if got := s.Destination(alerting.Method{URL: url}); got != want {
			t.Errorf("Destination(%q) = %q, want %q", url, got, want)
		}
	}
}

func TestSubscribe(t *testing.T) {
	t.Parallel()
	secret := newSecret(t)
	rc := NewReceiver(func(*http.Request) (string, bool) { return secret, true }, 0)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	fast, stopFast := rc.Subscribe()
	defer stopFast()
	slow, stopSlow := rc.Subscribe() // not read until the end: must hold nothing up
	defer stopSlow()

	// Send times out should the handler block on the slow subscriber.
	s := NewSender(SenderOptions{Timeout: 5 * time.Second})
	const n = subscriberBuffer + 10
	for i := range n {
		m := newMessage(t, srv.URL+"/in", secret)
		if err := s.Send(t.Context(), m); err != nil {
			t.Fatalf("Send #%d: %v", i+1, err)
		}
		// Send returned after the handler recorded m, so it is waiting.
		select {
		case got := <-fast:
			if got.ID != m.Key {
				t.Fatalf("the subscriber got %s, want %s", got.ID, m.Key)
			}
		default:
			t.Fatalf("the subscriber did not get webhook #%d", i+1)
		}
	}
	if k := len(rc.Received()); k != min(n, DefaultKeep) {
		t.Errorf("kept %d, want %d", k, min(n, DefaultKeep))
	}
	stopSlow()
	buffered := 0
	for range slow {
		buffered++
	}
	if buffered != subscriberBuffer {
		t.Errorf("the slow subscriber got %d webhooks, want the first %d", buffered, subscriberBuffer)
	}
	stopFast()
	stopFast() // twice is fine
	if _, ok := <-fast; ok {
		t.Error("the channel is open after the subscription ended")
	}
}

func TestGenerateSecret(t *testing.T) {
	t.Parallel()
	a, b := newSecret(t), newSecret(t)
	if a == b {
		t.Error("two secrets are the same")
	}
	if _, err := standardwebhooks.NewWebhook(a); err != nil {
		t.Error(err)
	}
}

func BenchmarkSend(b *testing.B) {
	secret := newSecret(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	s := NewSender(SenderOptions{})
	m := newMessage(b, srv.URL+"/hook", secret)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Send(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}
