package app_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker/natstest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// redisACL is the ACL docs/REDIS.md recommends for truceline's user: its
// prefix's keys, no dangerous commands.
const redisACL = "~tl:* resetchannels +@all -@dangerous +info"

const redisPassword = "r3dis-Secret-9f2"

// redisConfig is truceline against a test NATS and the Redis s.
func redisConfig(t *testing.T, s *redistest.Server) app.Config {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.NATSURL = natstest.Start(t).URL()
	cfg.RedisURL = s.URL()
	return cfg
}

// serves checks that a started truceline turns a report into an alert.
func serves(t *testing.T, a *app.App, id string) {
	t.Helper()
	if status, body := post(t, a, "/api/v1/reports", reportJSON(id, "aleppo", "shelling")); status != 202 {
		t.Fatalf("POST report: %d %v", status, body)
	}
	alertingtest.Eventually(t, 15*time.Second, "the report's alert", func() bool {
		for _, al := range alerts(t, a, "aleppo") {
			for _, r := range al.ReportIDs {
				if sentID(r) == id {
					return true
				}
			}
		}
		return false
	})
}

// startFails starts truceline, which must fail, and returns the error and
// the log.
func startFails(t *testing.T, cfg app.Config) (string, string) {
	t.Helper()
	logs := &logBuffer{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err == nil {
		_ = a.Shutdown(ctx)
		t.Fatal("truceline started")
	}
	t.Logf("start failed as it should: %v", err)
	return err.Error(), logs.String()
}

// TestRedisACLUser: truceline logs in as an ACL user limited to its key
// prefix, and a wrong password fails saying so, without the password.
func TestRedisACLUser(t *testing.T) {
	t.Parallel()
	s := redistest.StartWith(t, redistest.Options{User: "truceline", Password: redisPassword, ACL: redisACL})
	cfg := redisConfig(t, s)
	if !strings.Contains(cfg.RedisURL, "truceline:"+redisPassword+"@") {
		t.Fatalf("URL %s carries no credentials", cfg.RedisURL)
	}
	logs := &logBuffer{}
	a := startLogged(t, cfg, logs)
	serves(t, a, "acl-1")
	if strings.Contains(logs.String(), redisPassword) {
		t.Errorf("the log holds the Redis password:\n%s", logs)
	}
	if strings.Contains(logs.String(), "NOPERM") {
		t.Errorf("truceline needs more than the recommended ACL:\n%s", logs)
	}

	cfg = redisConfig(t, s)
	cfg.RedisURL = s.URLWithPassword("wr0ng-Secret")
	msg, log := startFails(t, cfg)
	for _, want := range []string{"refused truceline's credentials", "WRONGPASS", "--redis-url", s.Addr} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not mention %q: %s", want, msg)
		}
	}
	for _, secret := range []string{"wr0ng-Secret", redisPassword} {
		if strings.Contains(msg, secret) || strings.Contains(log, secret) {
			t.Errorf("a password was printed: %s\n%s", msg, log)
		}
	}
}

// TestRedisTLS: truceline reaches a rediss:// Redis whose certificate comes
// from a private CA (redis_tls_ca), with a client certificate when the
// server requires one, and says what is missing otherwise.
func TestRedisTLS(t *testing.T) {
	t.Parallel()
	s := redistest.StartWith(t, redistest.Options{User: "truceline", Password: redisPassword, ACL: redisACL, TLS: true})
	cfg := redisConfig(t, s)
	if !strings.HasPrefix(cfg.RedisURL, "rediss://") {
		t.Fatalf("URL %s", cfg.RedisURL)
	}
	msg, _ := startFails(t, cfg) // the system's CAs do not know the test CA
	if !strings.Contains(msg, "certificate is not trusted") || !strings.Contains(msg, "--redis-tls-ca") ||
		strings.Contains(msg, redisPassword) {
		t.Errorf("without --redis-tls-ca: %s", msg)
	}
	cfg.RedisTLSCA = s.CAFile
	serves(t, start(t, cfg), "tls-1")

	mutual := redistest.StartWith(t, redistest.Options{User: "truceline", Password: redisPassword, TLS: true, ClientCerts: true})
	cfg = redisConfig(t, mutual)
	cfg.RedisTLSCA = mutual.CAFile
	msg, _ = startFails(t, cfg)
	if !strings.Contains(msg, "redis at "+mutual.Addr+" refused the TLS connection") || !strings.Contains(msg, "--redis-tls-cert") ||
		strings.Contains(msg, redisPassword) {
		t.Errorf("without a client certificate: %s", msg)
	}
	cfg.RedisTLSCert, cfg.RedisTLSKey = mutual.ClientCertFile, mutual.ClientKeyFile
	serves(t, start(t, cfg), "mtls-1")
}

// TestRedisSecurityOptionsAreValidated: every bad Redis TLS option is named.
func TestRedisSecurityOptionsAreValidated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		url, ca, cert, key string
		want               []string
	}{
		"not rediss": {"redis://u:s3cret@h:6379/0", notPEM, "", filepath.Join(dir, "key.pem"), []string{
			`--redis-url: "redis://u:xxxxx@h:6379/0": --redis-tls-ca, --redis-tls-cert and --redis-tls-key need a rediss:// URL`,
			"--redis-tls-ca: " + notPEM + " holds no PEM certificate",
			"--redis-tls-cert: is required with --redis-tls-key",
		}},
		"missing files": {"rediss://u:s3cret@h:6380/0", filepath.Join(dir, "nope.pem"), filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), []string{
			"--redis-tls-ca: open " + filepath.Join(dir, "nope.pem") + ": no such file",
			"--redis-tls-cert: with --redis-tls-key: open " + filepath.Join(dir, "c.pem") + ": no such file",
		}},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := app.DefaultConfig()
			cfg.RedisURL, cfg.RedisTLSCA, cfg.RedisTLSCert, cfg.RedisTLSKey = tt.url, tt.ca, tt.cert, tt.key
			err := cfg.Validate()
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
