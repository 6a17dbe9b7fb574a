package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/email"
	"github.com/truceline/truceline/alerting/adapters/email/smtptest"
)

const (
	testUser     = "truceline"
	testPassword = "s3cret-Pa55word!"
)

const testKey = "0193ab4c-7d2e-7f00-8a1b-2c3d4e5f6a7b:1:0:party-a-liaison/ops"

func testMessage() *alerting.Message {
	first := time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC)
	return &alerting.Message{
		Key: testKey,
		Alert: &alerting.Alert{
			ID: "0193ab4c-7d2e-7f00-8a1b-2c3d4e5f6a7b", Zone: "north-ridge", Category: alerting.CategoryShelling,
			Title: "Shelling in North <Ridge> & Co", Severity: alerting.SeveritySevere, State: alerting.StateOpen,
			ReportCount: 3, FirstSeen: first, LastSeen: first.Add(12 * time.Minute),
		},
		Contact:    alerting.Contact{ID: "party-a-liaison", Name: "Party A liaison desk", Party: "party-a"},
		Method:     alerting.Method{ID: "ops", Type: alerting.MethodEmail, Address: "duty@party-a.example"},
		Step:       2,
		Repeat:     1,
		Fallback:   true,
		Target:     "party-a-duty",
		AckURL:     "https://truceline.example/ack?t=abc&x=1",
		AckExpires: first.Add(24 * time.Hour),
		AlertURL:   "https://truceline.example/alerts/0193ab4c",
		Attempt:    1,
		SentAt:     first.Add(15 * time.Minute),
	}
}

// parsed is a received message, decoded.
type parsed struct {
	header     netmail.Header
	text, html string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing the message: %v\n%s", err, raw)
	}
	p := parsed{header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
			body = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			p.text = string(b)
		case "text/html":
			p.html = string(b)
		default:
			t.Errorf("unexpected part %q", ct)
		}
	}
	return p
}

func newSender(t *testing.T, c email.Config) *email.Sender {
	t.Helper()
	s, err := email.NewSender(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func send(t *testing.T, s *email.Sender, m *alerting.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return s.Send(ctx, m)
}

func TestSendStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: testUser, Password: testPassword})
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: testPassword,
		From: "Truceline <alerts@truceline.example>", TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: ts.RootCAs()},
	})
	m := testMessage()
	if err := send(t, s, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	got := msgs[0]
	if !got.TLS {
		t.Error("the message did not travel over TLS")
	}
	if got.From != "alerts@truceline.example" {
		t.Errorf("MAIL FROM %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "duty@party-a.example" {
		t.Errorf("RCPT TO %q", got.To)
	}
	p := parse(t, got.Data)
	h := p.header
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "alerts@truceline.example" {
		t.Errorf("From %q (%v)", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "duty@party-a.example" {
		t.Errorf("To %q (%v)", h.Get("To"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != m.Subject() {
		t.Errorf("Subject %q (%v), want %q", subject, err, m.Subject())
	}
	wantID := "<0193ab4c-7d2e-7f00-8a1b-2c3d4e5f6a7b%3A1%3A0%3Aparty-a-liaison%2Fops@truceline>"
	if email.MessageID(testKey) != wantID {
		t.Errorf("MessageID = %q, want %q", email.MessageID(testKey), wantID)
	}
	if got := h.Get("Message-ID"); got != wantID {
		t.Errorf("Message-ID %q, want %q", got, wantID)
	}
	if got := h.Get("X-Truceline-Key"); got != testKey {
		t.Errorf("X-Truceline-Key %q", got)
	}
	if !bytes.Contains(got.Data, []byte("\r\nX-Truceline-Key: "+testKey+"\r\n")) {
		t.Error("X-Truceline-Key is not on one line")
	}
	if got := h.Get("X-Truceline-Alert"); got != m.Alert.ID {
		t.Errorf("X-Truceline-Alert %q", got)
	}
	if date, err := h.Date(); err != nil || !date.Equal(m.SentAt) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, m.SentAt)
	}

	for _, want := range []string{
		"Severity:    severe", "Zone:        north-ridge", "Title:       Shelling in North <Ridge> & Co",
		"Category:    Shelling", "Reports:     3", "First seen:  14 Mar 2026 09:26 UTC",
		"Last seen:   14 Mar 2026 09:38 UTC", "step 2, repeat 1",
		"You are receiving this because nobody was on call in party-a-duty.",
		"Acknowledge on behalf of party-a: https://truceline.example/ack?t=abc&x=1 (valid until 15 Mar 2026 09:26 UTC)",
		"On the board: https://truceline.example/alerts/0193ab4c",
	} {
		if !strings.Contains(p.text, want) {
			t.Errorf("the text body lacks %q:\n%s", want, p.text)
		}
	}
	for _, want := range []string{
		"Shelling in North &lt;Ridge&gt; &amp; Co",
		`<a href="https://truceline.example/ack?t=abc&amp;x=1">`,
		"(valid until 15 Mar 2026 09:26 UTC)",
		`<a href="https://truceline.example/alerts/0193ab4c">`,
		"nobody was on call in party-a-duty.",
	} {
		if !strings.Contains(p.html, want) {
			t.Errorf("the HTML body lacks %q:\n%s", want, p.html)
		}
	}
	if strings.Contains(p.html, "<Ridge>") {
		t.Error("the HTML body does not escape the title")
	}

	// The same notification again has the same Message-ID.
	m2 := testMessage()
	m2.Attempt = 2
	m2.SentAt = m2.SentAt.Add(time.Minute)
	if err := send(t, s, m2); err != nil {
		t.Fatalf("second Send: %v", err)
	}
	msgs = ts.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages arrived, want 2", len(msgs))
	}
	if id := parse(t, msgs[1].Data).header.Get("Message-ID"); id != wantID {
		t.Errorf("second Message-ID %q, want %q", id, wantID)
	}
}

func TestSendWithoutAckOrFallback(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, email.Config{Host: ts.Host(), Port: ts.Port(), From: "alerts@truceline.example", TLS: "none"})
	m := testMessage()
	m.Fallback, m.AckURL, m.AlertURL = false, "", ""
	m.Contact.Party = ""
	if err := send(t, s, m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages arrived, want 1", len(msgs))
	}
	if msgs[0].TLS {
		t.Error("TLS none travelled over TLS")
	}
	p := parse(t, msgs[0].Data)
	for _, unwanted := range []string{"nobody was on call", "Acknowledge", "On the board"} {
		if strings.Contains(p.text, unwanted) || strings.Contains(p.html, unwanted) {
			t.Errorf("the message says %q", unwanted)
		}
	}
}

func TestSendImplicitTLS(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{TLS: smtptest.ImplicitTLS, Username: testUser, Password: testPassword})
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: testPassword,
		From: "alerts@truceline.example", TLS: "tls", TLSConfig: &tls.Config{RootCAs: ts.RootCAs()},
	})
	if err := send(t, s, testMessage()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := ts.Messages()
	if len(msgs) != 1 || !msgs[0].TLS {
		t.Fatalf("messages %+v, want 1 over TLS", msgs)
	}

	// Without the private CA, the certificate is refused: transient.
	s = newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: testPassword,
		From: "alerts@truceline.example", TLS: "tls",
	})
	err := send(t, s, testMessage())
	if err == nil || alerting.IsPermanent(err) {
		t.Fatalf("Send with an untrusted certificate = %v, want a transient error", err)
	}
	if len(ts.Messages()) != 1 {
		t.Error("a message arrived over an untrusted connection")
	}
}

func TestSendTemporaryFailure(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS})
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), From: "alerts@truceline.example", TLSConfig: &tls.Config{RootCAs: ts.RootCAs()},
	})
	temp := &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	for _, tc := range []struct {
		name       string
		rcpt, data error
	}{
		{"RCPT", temp, nil},
		{"DATA", nil, temp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.SetErrors(tc.rcpt, tc.data)
			err := send(t, s, testMessage())
			if err == nil {
				t.Fatal("Send succeeded despite 451")
			}
			if alerting.IsPermanent(err) {
				t.Errorf("451 is permanent: %v", err)
			}
			if !strings.Contains(err.Error(), "451") {
				t.Errorf("the error does not give the reply: %v", err)
			}
			before := len(ts.Messages())
			ts.SetErrors(nil, nil)
			if err := send(t, s, testMessage()); err != nil {
				t.Fatalf("Send after recovery: %v", err)
			}
			if len(ts.Messages()) != before+1 {
				t.Error("the message did not arrive after recovery")
			}
		})
	}
}

func TestSendPermanentFailure(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{})
	s := newSender(t, email.Config{Host: ts.Host(), Port: ts.Port(), From: "alerts@truceline.example", TLS: "none"})
	for _, tc := range []struct {
		name       string
		rcpt, data error
	}{
		{"RCPT 550", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}, nil},
		{"DATA 554", nil, &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "rejected"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.SetErrors(tc.rcpt, tc.data)
			err := send(t, s, testMessage())
			if !alerting.IsPermanent(err) {
				t.Errorf("Send = %v, want a permanent error", err)
			}
		})
	}
	if n := len(ts.Messages()); n != 0 {
		t.Errorf("%d messages arrived", n)
	}

	// An address the message cannot even carry is permanent too.
	ts.SetErrors(nil, nil)
	m := testMessage()
	m.Method.Address = "not an address"
	if err := send(t, s, m); !alerting.IsPermanent(err) {
		t.Errorf("Send to %q = %v, want a permanent error", m.Method.Address, err)
	}
}

func TestSendConnectionRefused(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	s := newSender(t, email.Config{Host: "127.0.0.1", Port: port, From: "alerts@truceline.example"})
	err = send(t, s, testMessage())
	if err == nil || alerting.IsPermanent(err) {
		t.Fatalf("Send to a closed port = %v, want a transient error", err)
	}
	if want := fmt.Sprintf("smtp 127.0.0.1:%d", port); !strings.Contains(err.Error(), want) {
		t.Errorf("the error %q does not name %q", err, want)
	}
}

func TestSendWrongPassword(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: testUser, Password: testPassword})
	const wrong = "Wr0ng-Pa55word"
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: wrong,
		From: "alerts@truceline.example", TLSConfig: &tls.Config{RootCAs: ts.RootCAs()},
	})
	err := send(t, s, testMessage())
	if err == nil {
		t.Fatal("Send with a wrong password succeeded")
	}
	if !alerting.IsPermanent(err) {
		t.Errorf("535 is not permanent: %v", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), wrong) {
		t.Errorf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "535") {
		t.Errorf("the error does not give the reply: %v", err)
	}
	if _, auths := ts.Counts(); auths != 1 {
		t.Errorf("%d AUTH attempts, want 1", auths)
	}
	if n := len(ts.Messages()); n != 0 {
		t.Errorf("%d messages arrived", n)
	}
}

func TestSendRedactsEchoedPassword(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: testUser, Password: testPassword})
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: testPassword,
		From: "alerts@truceline.example", TLSConfig: &tls.Config{RootCAs: ts.RootCAs()},
	})
	// A server that quotes the credentials back in its refusal.
	ts.SetErrors(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
		Message: "relaying denied for " + testUser + "/" + testPassword}, nil)
	err := send(t, s, testMessage())
	if !alerting.IsPermanent(err) {
		t.Errorf("Send = %v, want a permanent error", err)
	}
	if err != nil && (strings.Contains(err.Error(), testPassword) || !strings.Contains(err.Error(), "550")) {
		t.Errorf("the error %q shows the password or hides the reply", err)
	}
}

func TestSendStartTLSRequired(t *testing.T) {
	t.Parallel()
	// A server that offers no STARTTLS (and would take AUTH in plain).
	ts := smtptest.Start(t, smtptest.Options{Username: testUser, Password: testPassword})
	s := newSender(t, email.Config{
		Host: ts.Host(), Port: ts.Port(), Username: testUser, Password: testPassword,
		From: "alerts@truceline.example", TLS: "starttls",
	})
	err := send(t, s, testMessage())
	if err == nil {
		t.Fatal("Send without STARTTLS succeeded")
	}
	if strings.Contains(err.Error(), testPassword) {
		t.Errorf("the error shows the password: %v", err)
	}
	mails, auths := ts.Counts()
	if mails != 0 || auths != 0 || len(ts.Messages()) != 0 {
		t.Errorf("the client went on in plain text: %d MAIL, %d AUTH, %d messages", mails, auths, len(ts.Messages()))
	}
}

func TestSendCancelled(t *testing.T) {
	t.Parallel()
	ts := smtptest.Start(t, smtptest.Options{})
	seen, _ := ts.HoldData()
	s := newSender(t, email.Config{Host: ts.Host(), Port: ts.Port(), From: "alerts@truceline.example", TLS: "none"})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	result := make(chan error, 1)
	go func() { result <- s.Send(ctx, testMessage()) }()
	select {
	case <-seen:
	case <-time.After(10 * time.Second):
		t.Fatal("the message's data never reached the server")
	}
	cancel() // while the server holds back its answer to DATA
	select {
	case err := <-result:
		if err == nil || alerting.IsPermanent(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Send = %v, want a transient error wrapping context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestDestination(t *testing.T) {
	t.Parallel()
	s := newSender(t, email.Config{Host: "smtp.example.org", Port: 587, From: "a@example.org"})
	if got := s.Destination(alerting.Method{Type: alerting.MethodEmail, Address: "x@example.org"}); got != "smtp smtp.example.org:587" {
		t.Errorf("Destination = %q", got)
	}
	s = newSender(t, email.Config{Host: "::1", Port: 25, From: "a@example.org", TLS: "none"})
	if got := s.Destination(alerting.Method{}); got != "smtp [::1]:25" {
		t.Errorf("Destination = %q", got)
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	ids := map[string]string{}
	for _, key := range []string{testKey, "a:b", "a%3Ab", "a/b", "a b", "a@b", "a<b>", "ä"} {
		id := email.MessageID(key)
		if id != email.MessageID(key) {
			t.Errorf("MessageID(%q) is not deterministic", key)
		}
		if other, ok := ids[id]; ok {
			t.Errorf("MessageID(%q) = MessageID(%q) = %q", key, other, id)
		}
		ids[id] = key
		addr, err := netmail.ParseAddress(strings.Trim(id, "<>"))
		if err != nil || addr.Address != strings.Trim(id, "<>") {
			t.Errorf("MessageID(%q) = %q, not a msg-id: %v", key, id, err)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	good := email.Config{Host: "smtp.example.org", Port: 587, From: "alerts@example.org"}
	if p := good.Validate(); len(p) != 0 {
		t.Errorf("a good config has problems: %q", p)
	}
	for _, tc := range []struct {
		name string
		c    email.Config
		want []string // a problem starting with each
	}{
		{"everything", email.Config{Port: 0, From: "not an address", TLS: "ssl", Username: "u", Timeout: -1},
			[]string{"host:", "port:", "from:", "tls:", "password:", "timeout:"}},
		{"password without username", email.Config{Host: "h", Port: 70000, Password: "p", TLS: "none"},
			[]string{"port:", "from:", "username:"}},
		{"host with port", email.Config{Host: "smtp.example.org:587", Port: 587, From: "a@example.org"},
			[]string{"host:"}},
		{"credentials in plain text", email.Config{Host: "relay.example.org", Port: 25, From: "a@example.org", TLS: "none", Username: "u", Password: "p"},
			[]string{"tls:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := tc.c.Validate()
			if len(problems) != len(tc.want) {
				t.Errorf("problems %q, want one per %q", problems, tc.want)
			}
			for _, w := range tc.want {
				found := false
				for _, p := range problems {
					found = found || strings.HasPrefix(p, w)
				}
				if !found {
					t.Errorf("no problem about %q in %q", w, problems)
				}
			}
			if _, err := email.NewSender(tc.c); err == nil {
				t.Error("NewSender accepted the config")
			}
		})
	}
	local := email.Config{Host: "localhost", Port: 25, From: "a@example.org", TLS: "none", Username: "u", Password: "p"}
	if p := local.Validate(); len(p) != 0 {
		t.Errorf("credentials to localhost without TLS: %q", p)
	}
}

func TestConfigHidesPassword(t *testing.T) {
	t.Parallel()
	const password = "hunter2-very-secret"
	c := email.Config{Host: "smtp.example.org", Port: 587, Username: "alerts", Password: password, From: "a@example.org"}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	logger.Info("smtp", "config", c)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("smtp", "config", c)
	wrapper := struct{ SMTP email.Config }{c}
	out := strings.Join([]string{
		c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
		fmt.Sprintf("%v %+v", wrapper, wrapper), logs.String(), strings.Join(email.Config{Username: "u", Password: password}.Validate(), " "),
	}, "\n")
	if strings.Contains(out, password) {
		t.Errorf("the password shows:\n%s", out)
	}
	for _, want := range []string{"password: set", "config.password=set", `"password":"set"`, "smtp.example.org"} {
		if !strings.Contains(out, want) {
			t.Errorf("%q missing from:\n%s", want, out)
		}
	}
	if s := (email.Config{}).String(); !strings.Contains(s, "password: unset") {
		t.Errorf("String without a password = %q", s)
	}
	if _, err := email.NewSender(email.Config{Password: password}); err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("NewSender error %v", err)
	}
}
