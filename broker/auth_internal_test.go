package broker

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"
)

// TestInternalUserConnectsInProcessOnly: even with its password, the
// internal user cannot log in over the client port.
func TestInternalUserConnectsInProcessOnly(t *testing.T) {
	t.Parallel()
	h, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	emb, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(),
		Users: []EmbeddedUser{{Name: "liaison-a", PasswordHash: string(h), Zones: []string{"aleppo"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	if len(emb.password) < 40 {
		t.Fatalf("internal password of %d characters", len(emb.password))
	}
	nc, err := nats.Connect(emb.ClientURL(), nats.UserInfo(InternalUser, emb.password))
	if err == nil {
		nc.Close()
		t.Fatal("the internal user connected over TCP")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("over TCP: %v, want an authorization violation", err)
	}
	nc, err = nats.Connect(emb.ClientURL(), emb.ConnectOptions()...)
	if err != nil {
		t.Fatalf("in-process: %v", err)
	}
	nc.Close()
}

func TestLiaisonPermissions(t *testing.T) {
	t.Parallel()
	p := liaisonPermissions("c1.", []string{"aleppo", "idlib"}, []string{"liaison.a.>"})
	want := map[string][]string{
		"publish":   {"c1.heartbeats.*", "c1.violations.aleppo.>", "c1.violations.idlib.>"},
		"subscribe": {"c1.alerts.aleppo.>", "c1.alerts.idlib.>", "_INBOX.>", "liaison.a.>"},
	}
	got := map[string][]string{"publish": p.Publish.Allow, "subscribe": p.Subscribe.Allow}
	for k := range want {
		if len(got[k]) != len(want[k]) {
			t.Fatalf("%s allows %v, want %v", k, got[k], want[k])
		}
		for i := range want[k] {
			if got[k][i] != want[k][i] {
				t.Errorf("%s allows %v, want %v", k, got[k], want[k])
			}
		}
	}
	if p.Publish.Deny != nil || p.Subscribe.Deny != nil || p.Response != nil {
		t.Errorf("unexpected denials or response permissions: %+v", p)
	}
}

// TestVersionAtLeast: truceline refuses NATS older than 2.11, whose
// JetStream cannot check a change's turn over a zone's subjects.
func TestVersionAtLeast(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{"2.9.25": false, "2.10.22": false, "2.11.0": true, "2.12.0-RC.1": true, "2.15.2": true, "3.0.0": true, "": false, "dev": false} {
		if got := versionAtLeast(v, 2, 11); got != want {
			t.Errorf("versionAtLeast(%q, 2, 11) = %v, want %v", v, got, want)
		}
	}
}
