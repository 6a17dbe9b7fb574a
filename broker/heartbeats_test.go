package broker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
)

// heardSources keeps which monitors were heard (alerting.Sources).
type heardSources struct {
	mu    sync.Mutex
	heard []string
}

func (s *heardSources) Heard(_ context.Context, monitor string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heard = append(s.heard, monitor)
	return nil
}
func (s *heardSources) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.heard)
}
func (*heardSources) WatchSources(context.Context, []string, time.Time) error { return nil }
func (*heardSources) SourceStates(context.Context, []string) (map[string]alerting.Source, error) {
	return nil, nil
}
func (*heardSources) ClaimDueSources(context.Context, time.Time, int, time.Duration) ([]string, time.Time, error) {
	return nil, time.Time{}, nil
}
func (*heardSources) SetSourceTimer(context.Context, alerting.Source, *time.Time) error { return nil }

type fixedCatalog struct{ c *alerting.Catalog }

func (f fixedCatalog) Catalog() *alerting.Catalog { return f.c }

// heartbeatCatalog has an observation post of latakia that only its own
// account keeps alive, and a party system of latakia and idlib.
func heartbeatCatalog(t *testing.T) fixedCatalog {
	t.Helper()
	c, err := alerting.NewCatalog(1, alerting.Config{
		Zones: []alerting.Zone{{ID: "latakia", Name: "Latakia"}, {ID: "idlib", Name: "Idlib"}},
		Monitors: []alerting.Monitor{
			{ID: "op-north", Zones: []string{"latakia"}, Interval: alerting.Duration(time.Minute),
				Reports: &alerting.HeardBy{Accounts: []string{"op-north"}}},
			{ID: "party-b-system", Zones: []string{"latakia", "idlib"}, Interval: alerting.Duration(time.Minute)},
		},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fixedCatalog{c}
}

// TestHeartbeatsAreRefusedToWhoMayNotReport: over the embedded server,
// a liaison user's heartbeat counts only for a monitor all of whose zones
// it may report in and, when the monitor names accounts, that names it;
// the others are answered with the reason and kept on
// rejected.heartbeats, naming the sender.
func TestHeartbeatsAreRefusedToWhoMayNotReport(t *testing.T) {
	t.Parallel()
	users := []broker.EmbeddedUser{
		{Name: "op-north", PasswordHash: hash(t, "pw"), Zones: []string{"latakia"}},
		{Name: "party-b", PasswordHash: hash(t, "pw"), Zones: []string{"latakia", "idlib"}},
	}
	emb, own := embeddedWithIntake(t, users...)
	b, err := broker.New(context.Background(), broker.Options{Conn: own})
	if err != nil {
		t.Fatal(err)
	}
	sources := &heardSources{}
	watch := &alerting.SourceWatch{Sources: sources, Catalog: heartbeatCatalog(t)}
	hb, err := b.StartHeartbeats(broker.HeartbeatOptions{Handler: watch, Users: users, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hb.Shutdown(context.Background()) })
	rejected, err := own.SubscribeSync(broker.RejectedHeartbeats)
	if err != nil {
		t.Fatal(err)
	}
	if err := own.Flush(); err != nil {
		t.Fatal(err)
	}
	beat := func(user, monitor string) map[string]any {
		t.Helper()
		nc, err := nats.Connect(emb.ClientURL(), nats.UserInfo(user, "pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		m, err := nc.Request("heartbeats."+monitor, []byte("alive"), 10*time.Second)
		if err != nil {
			t.Fatalf("%s's heartbeat of %s: %v", user, monitor, err)
		}
		var answer map[string]any
		if err := json.Unmarshal(m.Data, &answer); err != nil {
			t.Fatalf("%s: %v", m.Data, err)
		}
		return answer
	}
	refused := func(user, monitor, code, reason string) {
		t.Helper()
		answer := beat(user, monitor)
		e, _ := answer["error"].(map[string]any)
		if e["code"] != code || e["description"] != reason {
			t.Errorf("%s's heartbeat of %s: %v, want %s %q", user, monitor, answer, code, reason)
		}
		m, err := rejected.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("no rejection of %s's heartbeat of %s: %v", user, monitor, err)
		}
		if m.Header.Get(broker.HeaderError) != reason || m.Header.Get(broker.HeaderSubject) != "heartbeats."+monitor ||
			m.Header.Get(broker.HeaderSender) != user || string(m.Data) != "alive" {
			t.Errorf("rejection: %v %q", m.Header, m.Data)
		}
	}

	if answer := beat("op-north", "op-north"); answer["monitor"] != "op-north" || answer["heard_at"] == nil {
		t.Errorf("op-north's own heartbeat: %v", answer)
	}
	if answer := beat("party-b", "party-b-system"); answer["monitor"] != "party-b-system" {
		t.Errorf("party-b's heartbeat of its system: %v", answer)
	}
	// party-b reports in latakia, but op-north names its account.
	refused("party-b", "op-north", "forbidden", "party-b may not send the heartbeats of monitor op-north")
	// op-north does not report in idlib.
	refused("op-north", "party-b-system", "forbidden", "op-north may not send the heartbeats of monitor party-b-system")
	refused("op-north", "op-nowhere", "not_found", `no monitor "op-nowhere"`)
	if got := sources.list(); !slices.Equal(got, []string{"op-north", "party-b-system"}) {
		t.Errorf("heard %v, want op-north and party-b-system only", got)
	}
}

// TestAnAnonymousHeartbeatIsNoNamedAccounts: on a server without users
// every publisher is anonymous: it keeps alive a monitor that names no
// accounts, never one that does.
func TestAnAnonymousHeartbeatIsNoNamedAccounts(t *testing.T) {
	t.Parallel()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Open: true, Prefix: "c1."})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	nc, err := nats.Connect(emb.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b, err := broker.New(context.Background(), broker.Options{Conn: nc, Prefix: "c1."})
	if err != nil {
		t.Fatal(err)
	}
	sources := &heardSources{}
	hb, err := b.StartHeartbeats(broker.HeartbeatOptions{Handler: &alerting.SourceWatch{Sources: sources, Catalog: heartbeatCatalog(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hb.Shutdown(context.Background()) })
	rejected, err := nc.SubscribeSync("c1." + broker.RejectedHeartbeats)
	if err != nil {
		t.Fatal(err)
	}
	for monitor, want := range map[string]string{
		"party-b-system": `{"heard_at":`,
		"op-north":       "an anonymous publisher is none of them",
		"op-north.x":     `is not c1.heartbeats.\u003cmonitor\u003e`,
	} {
		m, err := nc.Request("c1.heartbeats."+monitor, nil, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Data), want) {
			t.Errorf("heartbeat of %s: %s, want %s", monitor, m.Data, want)
		}
	}
	for range 2 {
		if _, err := rejected.NextMsg(10 * time.Second); err != nil {
			t.Fatalf("a refused heartbeat was not kept: %v", err)
		}
	}
	if got := sources.list(); !slices.Equal(got, []string{"party-b-system"}) {
		t.Errorf("heard %v", got)
	}
}
