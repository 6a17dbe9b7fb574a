package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// TestANATSUserKeepsItsOwnSourceAlive: a liaison user of the embedded
// server beats on heartbeats.<monitor>; its source is heard. Another user
// of the zone cannot keep it alive.
func TestANATSUserKeepsItsOwnSourceAlive(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := embeddedConfig(t)
	cfg.NATSUsers = []app.NATSUser{
		{User: "op-north", PasswordBcrypt: string(hash), Zones: []string{"latakia"}},
		{User: "party-b", PasswordBcrypt: string(hash), Zones: []string{"latakia"}},
	}
	a := start(t, cfg)
	if err := a.ApplyConfig(context.Background(), alerting.Config{
		Monitors: []alerting.Monitor{{ID: "op-north", Name: "OP North", Kind: "observation_post", Zones: []string{"latakia"},
			Interval: alerting.Duration(time.Hour), Reports: &alerting.HeardBy{Accounts: []string{"op-north"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	admin := userToken(t, a, alerting.User{Name: "viewer", Role: alerting.RoleViewer})
	beat := func(user string) string {
		t.Helper()
		nc, err := nats.Connect(a.NATSURL(), nats.UserInfo(user, "pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		m, err := nc.Request("heartbeats.op-north", nil, 10*time.Second)
		if err != nil {
			t.Fatalf("%s's heartbeat: %v", user, err)
		}
		return string(m.Data)
	}
	if answer := beat("party-b"); !strings.Contains(answer, "party-b may not send the heartbeats of monitor op-north") {
		t.Errorf("party-b's heartbeat: %s", answer)
	}
	if s := sourceState(t, a, admin, "op-north"); s.State != alerting.SourceWaiting {
		t.Errorf("after another account's heartbeat: %+v", s)
	}
	if answer := beat("op-north"); !strings.Contains(answer, `"heard_at"`) {
		t.Errorf("op-north's heartbeat: %s", answer)
	}
	if s := sourceState(t, a, admin, "op-north"); s.State != alerting.SourceHeard || s.Heard == nil {
		t.Errorf("after its own heartbeat: %+v", s)
	}
}
