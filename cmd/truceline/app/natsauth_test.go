package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// embeddedConfig is truceline with its embedded NATS on a free port and a
// test Redis.
func embeddedConfig(t *testing.T) app.Config {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.NATSURL = app.Embedded
	cfg.NATSListen = "127.0.0.1:0"
	cfg.RedisURL = redistest.Start(t).URL()
	return cfg
}

// TestEmbeddedNATSUsers: with nats_users, the embedded NATS lets in only
// its users, and a liaison user reports and follows alerts of its zones
// only, while truceline itself works as before.
func TestEmbeddedNATSUsers(t *testing.T) {
	t.Parallel()
	const password = "liaison-a's Secret 7"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := embeddedConfig(t)
	cfg.NATSUsers = []app.NATSUser{{User: "liaison-a", PasswordBcrypt: string(hash), Zones: []string{"aleppo"}}}
	logs := &logBuffer{}
	a := startLogged(t, cfg, logs)
	url := a.NATSURL()

	if nc, err := nats.Connect(url); err == nil {
		nc.Close()
		t.Fatal("connected without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("without credentials: %v, want an authorization violation", err)
	}
	if nc, err := nats.Connect(url, nats.UserInfo("liaison-a", "wrong")); err == nil {
		nc.Close()
		t.Fatal("connected with a wrong password")
	}

	asyncErrs := make(chan error, 16)
	nc, err := nats.Connect(url, nats.UserInfo("liaison-a", password),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErrs <- err }))
	if err != nil {
		t.Fatalf("liaison-a: %v", err)
	}
	t.Cleanup(nc.Close)
	denied := func(what, subject string) {
		t.Helper()
		select {
		case err := <-asyncErrs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), what+` to "`+subject+`"`) {
				t.Errorf("%s to %s: async error %v, want a permissions violation", what, subject, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s to %s: no permissions violation", what, subject)
		}
	}

	changes, err := nc.SubscribeSync("alerts.aleppo.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := js.Publish(ctx, "violations.aleppo.shelling", reportJSON("liaison-a-1", "aleppo", "shelling"),
		jetstream.WithMsgID("liaison-a-1"))
	if err != nil || ack.Stream != broker.StreamViolations {
		t.Fatalf("JetStream publish to violations.aleppo.shelling: %+v, %v", ack, err)
	}
	alertingtest.Eventually(t, 15*time.Second, "the report's alert", func() bool {
		for _, al := range alerts(t, a, "aleppo") {
			for _, id := range al.ReportIDs {
				if sentID(id) == "liaison-a-1" {
					return true
				}
			}
		}
		return false
	})
	m, err := changes.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("alerts.aleppo.>: %v", err)
	}
	var change struct {
		Zone     string `json:"zone"`
		Event    string `json:"event"`
		ReportID string `json:"report_id"`
	}
	if err := json.Unmarshal(m.Data, &change); err != nil || m.Subject != "alerts.aleppo.opened" ||
		change.Zone != "aleppo" || change.Event != "opened" || sentID(change.ReportID) != "liaison-a-1" {
		t.Errorf("change on %s: %s (%v)", m.Subject, m.Data, err)
	}

	short, cancel2 := context.WithTimeout(context.Background(), time.Second)
	defer cancel2()
	if _, err := js.Publish(short, "violations.idlib.shelling", reportJSON("liaison-a-2", "idlib", "shelling")); err == nil {
		t.Error("a report on another zone was acknowledged")
	}
	denied("Publish", "violations.idlib.shelling")
	if _, err := nc.SubscribeSync("alerts.idlib.>"); err != nil {
		t.Fatal(err)
	}
	denied("Subscription", "alerts.idlib.>")
	if _, err := nc.SubscribeSync("rejected.violations"); err != nil {
		t.Fatal(err)
	}
	denied("Subscription", "rejected.violations")

	// truceline itself is unaffected: an HTTP report of another zone
	// becomes an alert. A user listening on every reply inbox sees none of
	// truceline's own replies (its JetStream fetches carry every zone's
	// reports).
	spy, err := nats.Connect(url, nats.UserInfo("liaison-a", password))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(spy.Close)
	inboxes, err := spy.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	if status, body := post(t, a, "/api/v1/reports", reportJSON("http-1", "idlib", "shelling")); status != 202 {
		t.Fatalf("POST report: %d %v", status, body)
	}
	alertingtest.Eventually(t, 15*time.Second, "the HTTP report's alert", func() bool { return len(alerts(t, a, "idlib")) == 1 })
	// The fetch reached truceline before the alert was committed; a copy
	// to the spy was queued before the answer to this flush.
	if err := spy.Flush(); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := inboxes.Pending(); n != 0 {
		m, _ := inboxes.NextMsg(time.Second)
		t.Errorf("a liaison user saw %d of truceline's replies, e.g. on %s: %s", n, m.Subject, m.Data)
	}

	for _, secret := range []string{password, string(hash)} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
	if strings.Contains(logs.String(), "Plaintext passwords") {
		t.Errorf("the embedded server holds a plain-text password:\n%s", logs)
	}
}

// TestEmbeddedNATSRequiresCredentialsByDefault: without nats_users and
// outside the demo, the embedded NATS lets nobody in but truceline, which
// works as ever, and the log says how liaison systems report. Opened
// (--nats-open, or the demo), it takes anyone, and warns; off loopback,
// louder.
func TestEmbeddedNATSRequiresCredentialsByDefault(t *testing.T) {
	t.Parallel()
	cfg := embeddedConfig(t)
	logs := &logBuffer{}
	a := startLogged(t, cfg, logs)
	if nc, err := nats.Connect(a.NATSURL()); err == nil {
		nc.Close()
		t.Fatal("connected to the default embedded NATS without credentials")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("without credentials: %v, want an authorization violation", err)
	}
	if !strings.Contains(logs.String(), "the embedded NATS server requires credentials, and has no liaison users") {
		t.Errorf("the log does not say who may connect:\n%s", logs)
	}
	serves(t, a, "closed-1")

	for _, tc := range []struct {
		name, listen, warning string
		open, demo            bool
	}{
		{"--nats-open", "127.0.0.1:0", "takes clients without credentials", true, false},
		{"--demo", "127.0.0.1:0", "takes clients without credentials", false, true},
		{"--nats-open off loopback", "0.0.0.0:0", "without authentication: anyone who can reach it", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := embeddedConfig(t)
			cfg.NATSListen, cfg.NATSOpen, cfg.Demo, cfg.DemoRate = tc.listen, tc.open, tc.demo, 0
			logs := &logBuffer{}
			a := startLogged(t, cfg, logs)
			if !strings.Contains(logs.String(), tc.warning) {
				t.Errorf("no warning %q:\n%s", tc.warning, logs)
			}
			nc, err := nats.Connect(a.NATSURL())
			if err != nil {
				t.Fatalf("connect without credentials to an open server: %v", err)
			}
			nc.Close()
		})
	}
}

// TestNATSSecurityOptionsAreValidated: every bad NATS security option is
// named, and no secret is printed.
func TestNATSSecurityOptionsAreValidated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	external := app.DefaultConfig()
	external.NATSURL = "tls://truceline:s3cret@nats.example.org:4222"
	external.NATSCredentials = dir + "/missing.creds"
	external.NATSNkeySeed = dir + "/missing.nk"
	external.NATSTLSCA = dir + "/missing-ca.pem"
	external.NATSTLSCert = dir + "/client.pem"
	external.NATSUsers = []app.NATSUser{{User: "liaison-a", PasswordBcrypt: "$2a$04$x", Zones: []string{"aleppo"}}}
	external.NATSOpen = true
	embedded := app.DefaultConfig()
	embedded.NATSTLSCA = dir + "/ca.pem"
	embedded.NATSOpen = true
	embedded.NATSUsers = []app.NATSUser{{User: "liaison-a", PasswordBcrypt: "s3cret"}, {User: "truceline", PasswordBcrypt: "s3cret", Zones: []string{"x y"}}}
	for name, tt := range map[string]struct {
		cfg  app.Config
		want []string
	}{
		"external": {external, []string{
			"nats_users: applies only to the embedded NATS server",
			"--nats-credentials: and --nats-nkey-seed both set",
			"--nats-credentials: open " + dir + "/missing.creds: no such file",
			"--nats-nkey-seed: open " + dir + "/missing.nk: no such file",
			"--nats-tls-ca: open " + dir + "/missing-ca.pem: no such file",
			"--nats-tls-key: is required with --nats-tls-cert",
			"--nats-open: applies only to the embedded NATS server",
		}},
		"embedded": {embedded, []string{
			"--nats-tls-ca: applies only to an external --nats-url",
			"nats_users: user liaison-a: the password is not a bcrypt hash",
			"nats_users: user liaison-a: has no zones",
			`nats_users: user truceline: the name "truceline" is reserved`,
			"nats_users: user truceline: the password is not a bcrypt hash",
			`nats_users: user truceline: zone "x y" does not match`,
			"--nats-open: and nats_users both set",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no %q in:\n%v", w, err)
				}
			}
			if got := strings.Count(err.Error(), "\n"); got != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", got, len(tt.want), err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("a secret was printed:\n%v", err)
			}
		})
	}
}

// TestExternalNATSCredentialsAndTLS: truceline logs in to an external NATS
// with a password in the URL or an nkey seed, over TLS with a private CA
// and a client certificate, and never prints the password.
func TestExternalNATSCredentialsAndTLS(t *testing.T) {
	t.Parallel()
	const password = "n4ts-Secret-31"
	s := natstest.StartWith(t, natstest.Options{User: "truceline", Password: password, TLS: true, ClientCerts: true})
	cfg := embeddedConfig(t)
	cfg.NATSURL = s.URLWithUser("truceline", password)

	msg, log := startFails(t, cfg) // the system's CAs do not know the test CA
	if !strings.Contains(msg, "connect to NATS at nats://truceline:xxxxx@"+s.Addr) || !strings.Contains(msg, "name its CA with --nats-tls-ca") {
		t.Errorf("without --nats-tls-ca: %s", msg)
	}
	cfg.NATSTLSCA = s.CAFile
	msg, log2 := startFails(t, cfg) // the server requires a client certificate
	if !strings.Contains(msg, "connect to NATS at") || !strings.Contains(msg, "--nats-tls-cert and --nats-tls-key") {
		t.Errorf("without a client certificate: %s", msg)
	}
	cfg.NATSTLSCert, cfg.NATSTLSKey = s.ClientCertFile, s.ClientKeyFile
	wrong := cfg
	wrong.NATSURL = s.URLWithUser("truceline", "wr0ng-Secret")
	msg, log3 := startFails(t, wrong)
	if !strings.Contains(msg, "Authorization Violation") || !strings.Contains(msg, "check the user and password in --nats-url") {
		t.Errorf("with a wrong password: %s", msg)
	}
	for _, text := range []string{msg, log, log2, log3} {
		if strings.Contains(text, password) || strings.Contains(text, "wr0ng-Secret") {
			t.Errorf("a password was printed:\n%s", text)
		}
	}

	logs := &logBuffer{}
	a := startLogged(t, cfg, logs)
	serves(t, a, "nats-tls-1")
	if strings.Contains(a.NATSURL(), password) || strings.Contains(logs.String(), password) {
		t.Errorf("the password was shown: %s\n%s", a.NATSURL(), logs)
	}

	nk := natstest.StartWith(t, natstest.Options{Nkey: true, TLS: true})
	cfg = embeddedConfig(t)
	cfg.NATSURL, cfg.NATSNkeySeed, cfg.NATSTLSCA = nk.URL(), nk.SeedFile, nk.CAFile
	serves(t, start(t, cfg), "nats-nkey-1")
}

// TestANATSUsersReportIDsAreItsOwn: through the embedded server, a
// liaison user's report ids (in the body or as Nats-Msg-Id) are its own:
// another user sending the same ids first makes none of its reports a
// duplicate, while its own resend is one. Each report records which user
// sent it, whatever it claims.
func TestANATSUsersReportIDsAreItsOwn(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := embeddedConfig(t)
	cfg.NATSUsers = []app.NATSUser{
		{User: "nats-a", PasswordBcrypt: string(hash), Zones: []string{"aleppo", "homs-north"}},
		{User: "nats-b", PasswordBcrypt: string(hash), Zones: []string{"homs-north"}},
	}
	a := start(t, cfg)
	publisher := func(user string) jetstream.JetStream {
		nc, err := nats.Connect(a.NATSURL(), nats.UserInfo(user, "pw"))
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	squatter, victim := publisher("nats-a"), publisher("nats-b")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	publish := func(js jetstream.JetStream, zone, msgID string, body []byte) *jetstream.PubAck {
		t.Helper()
		var opts []jetstream.PublishOpt
		if msgID != "" {
			opts = append(opts, jetstream.WithMsgID(msgID))
		}
		ack, err := js.Publish(ctx, "violations."+zone+".shelling", body, opts...)
		if err != nil || ack.Stream != broker.StreamViolations {
			t.Fatalf("publish to %s: %+v, %v", zone, ack, err)
		}
		return ack
	}
	withoutID := func(zone string) []byte {
		return []byte(strings.Replace(string(reportJSON("x", zone, "shelling")), `"id":"x",`, "", 1))
	}

	// The squatter takes both ids first, in its own zone and in the
	// victim's: as Nats-Msg-Id, and as the body's id.
	for _, zone := range []string{"aleppo", "homs-north"} {
		publish(squatter, zone, "homs-0999", withoutID(zone))
		publish(squatter, zone, "", reportJSON("homs-1000", zone, "shelling"))
	}
	if ack := publish(victim, "homs-north", "homs-0999", withoutID("homs-north")); ack.Duplicate {
		t.Error("nats-b's report with nats-a's Nats-Msg-Id is a duplicate")
	}
	if ack := publish(victim, "homs-north", "homs-1000", reportJSON("homs-1000", "homs-north", "shelling")); ack.Duplicate {
		t.Error("nats-b's report with nats-a's id is a duplicate")
	}
	by := alerting.Submitter{Via: alerting.ViaNATS, User: "nats-b"}
	for _, id := range []string{"homs-0999", "homs-1000"} {
		r := storedReport(t, a, alerting.ReportKey(by, "homs-north", id))
		if r.SubmittedBy == nil || *r.SubmittedBy != by || r.SubmittedID != id {
			t.Errorf("nats-b's report %s: kept as %s, %s, submitted by %+v", id, r.ID, r.SubmittedID, r.SubmittedBy)
		}
	}
	storedReport(t, a, alerting.ReportKey(alerting.Submitter{Via: alerting.ViaNATS, User: "nats-a"}, "homs-north", "homs-1000"))

	// Its own resend is a duplicate, counted once.
	if ack := publish(victim, "homs-north", "homs-0999", withoutID("homs-north")); !ack.Duplicate {
		t.Error("nats-b's report sent again is not a duplicate")
	}
	al := firstAlert(t, a, "homs-north")
	alertingtest.Eventually(t, 15*time.Second, "homs-north's alert with the four reports", func() bool {
		return len(reportIDs(t, a, al.ID)) == 4
	})
}
