package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/email"
	"github.com/truceline/truceline/alerting/adapters/email/smtptest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// logBuffer keeps an app's log output; the app logs from many goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// startLogged is start with the app's log, debug level and up, kept in
// logs (and shown when the test fails) instead of the test's log.
func startLogged(t *testing.T, cfg app.Config, logs *logBuffer) *app.App {
	t.Helper()
	t.Cleanup(func() { // after the app's shutdown
		if t.Failed() {
			t.Logf("truceline's log:\n%s", logs)
		}
	})
	return startWithLogger(t, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

// mailNotification waits for the alert's notification of contact/method to
// end (sent, gave up or cancelled) and returns the alert and it.
func mailNotification(t *testing.T, a *app.App, zone, contact, method string) (alerting.Alert, alerting.Notification) {
	t.Helper()
	var al alerting.Alert
	var n alerting.Notification
	alertingtest.Eventually(t, 15*time.Second, "the notification of "+contact+"/"+method+" to end", func() bool {
		al = firstAlert(t, a, zone)
		for _, x := range al.Notifications {
			if x.Contact == contact && x.Method == method {
				n = x
				return x.Final()
			}
		}
		return false
	})
	return al, n
}

// mailText is a received message's headers and its text/plain part, decoded.
func mailText(t *testing.T, raw []byte) (netmail.Header, string) {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parsing the message: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q (%v), want multipart", msg.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart() // undoes quoted-printable
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if ct == "text/plain" {
			b, err := io.ReadAll(part)
			if err != nil {
				t.Fatal(err)
			}
			return msg.Header, string(b)
		}
	}
	t.Fatalf("the message has no text/plain part:\n%s", raw)
	return nil, ""
}

// TestEmailMethod delivers an email method's notification through an SMTP
// relay with STARTTLS and AUTH: one message, whose Message-ID and
// X-Truceline-Key come from the notification's key, carrying an
// acknowledge link; and the log never shows the relay's password. Without
// a relay, the notification gives up at once, saying why.
func TestEmailMethod(t *testing.T) {
	t.Parallel()
	const password = "Sm7p-pa55word-never-logged"
	contacts := []alerting.Contact{{ID: "mail-desk", Name: "Mail desk", Party: "party-a",
		Methods: []alerting.Method{{ID: "mail", Type: alerting.MethodEmail, Address: "desk@example.org"}}}}
	noPassword := func(t *testing.T, logs *logBuffer) {
		t.Helper()
		if strings.Contains(logs.String(), password) {
			t.Errorf("the log shows the SMTP password:\n%s", logs)
		}
	}

	t.Run("delivered", func(t *testing.T) {
		srv := smtptest.Start(t, smtptest.Options{TLS: smtptest.StartTLS, Username: "truceline", Password: password})
		d := startDeps(t)
		cfg := d.config(t)
		cfg.SMTPHost, cfg.SMTPPort = srv.Host(), srv.Port()
		cfg.SMTPUsername, cfg.SMTPPassword = "truceline", password
		cfg.SMTPFrom = "Truceline <alerts@example.org>"
		cfg.SMTPTLS = email.TLSStartTLS
		cfg.SMTPTLSConfig = &tls.Config{RootCAs: srv.RootCAs(), ServerName: srv.Host()}
		logs := &logBuffer{}
		t.Cleanup(func() { noPassword(t, logs) }) // once the app has stopped
		a := startLogged(t, cfg, logs)
		if err := a.ApplyConfig(context.Background(), notifyAtOnce(contacts, "mail-desk")); err != nil {
			t.Fatal(err)
		}
		post(t, a, "/api/v1/reports", reportJSON("mail-1", "aleppo", "shelling"))

		al, n := mailNotification(t, a, "aleppo", "mail-desk", "mail")
		if n.State != alerting.NotificationSent || n.Attempts != 1 {
			t.Fatalf("notification %+v, want sent at the first attempt", n)
		}
		if n.Kind != alerting.MethodEmail {
			t.Errorf("notification kind %q", n.Kind)
		}
		msgs := srv.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d messages arrived, want 1", len(msgs))
		}
		m := msgs[0]
		if !m.TLS {
			t.Error("the message did not travel over TLS")
		}
		if m.From != "alerts@example.org" || len(m.To) != 1 || m.To[0] != "desk@example.org" {
			t.Errorf("MAIL FROM %q, RCPT TO %q", m.From, m.To)
		}
		h, text := mailText(t, m.Data)
		if got, want := h.Get("Message-ID"), email.MessageID(n.Key); got != want {
			t.Errorf("Message-ID %q, want %q", got, want)
		}
		if got := h.Get("X-Truceline-Key"); got != n.Key {
			t.Errorf("X-Truceline-Key %q, want %q", got, n.Key)
		}
		if got := h.Get("X-Truceline-Alert"); got != al.ID {
			t.Errorf("X-Truceline-Alert %q, want %q", got, al.ID)
		}
		if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "desk@example.org" {
			t.Errorf("To %q (%v)", h.Get("To"), err)
		}
		if link := "http://" + a.HTTPAddr() + "/ack/" + al.ID + "/"; !strings.Contains(text, link) {
			t.Errorf("the text lacks an acknowledge link %s…:\n%s", link, text)
		}
		if !strings.Contains(logs.String(), "email delivery configured") {
			t.Errorf("the log does not describe the SMTP relay:\n%s", logs)
		}
		noPassword(t, logs)
	})

	t.Run("no SMTP host", func(t *testing.T) {
		d := startDeps(t)
		cfg := d.config(t)
		cfg.SMTPPassword = password // ignored without a host, but never logged either
		logs := &logBuffer{}
		t.Cleanup(func() { noPassword(t, logs) })
		a := startLogged(t, cfg, logs)
		if err := a.ApplyConfig(context.Background(), notifyAtOnce(contacts, "mail-desk")); err != nil {
			t.Fatal(err)
		}
		post(t, a, "/api/v1/reports", reportJSON("mail-2", "aleppo", "shelling"))

		_, n := mailNotification(t, a, "aleppo", "mail-desk", "mail")
		if n.State != alerting.NotificationGaveUp || !strings.Contains(n.Error, "no email delivery") {
			t.Errorf("notification %+v, want gave_up saying there is no email delivery", n)
		}
		noPassword(t, logs)
	})
}
