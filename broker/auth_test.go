package broker_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/crypto/bcrypt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestCheckEmbeddedUsersNamesEveryProblem(t *testing.T) {
	t.Parallel()
	good := hash(t, "pw")
	problems := broker.CheckEmbeddedUsers("c1.", []broker.EmbeddedUser{
		{Name: "a", PasswordHash: good, Zones: []string{"aleppo"}, NotifySubjects: []string{"liaison.a.>"}},
		{Name: "a", PasswordHash: good, Zones: []string{"aleppo"}},
		{Name: broker.InternalUser, PasswordHash: good, Zones: []string{"aleppo"}},
		{PasswordHash: "secret", Zones: []string{"Aleppo", "id.lib"}},
		{Name: "b", PasswordHash: good},
		{Name: "d", PasswordHash: strings.Replace(good, "$2a$", "$2$", 1), Zones: []string{"aleppo"}},
		{Name: "c", PasswordHash: good, Zones: []string{"idlib"},
			NotifySubjects: []string{"c1.>", "alerts.x", "$JS.API.>", "_INBOX.x", "*.a", "a..b", "ok.*.fine"}},
	})
	want := []string{
		"user a: is listed twice",
		`user truceline: the name "truceline" is reserved`,
		"user #4: has no name",
		"user #4: the password is not a bcrypt hash",
		`user #4: zone "Aleppo" does not match`,
		`user #4: zone "id.lib" does not match`,
		"user b: has no zones",
		"user d: the password is not a bcrypt hash",
		`user c: notify subject "c1.>" would reach truceline's own subjects`,
		`user c: notify subject "alerts.x" would reach`,
		`user c: notify subject "$JS.API.>" is reserved`,
		`user c: notify subject "_INBOX.x" is reserved`,
		`user c: notify subject "*.a" must start with a literal token`,
		`user c: notify subject "a..b" is not a valid subject`,
	}
	all := strings.Join(problems, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no problem %q in:\n%s", w, all)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(problems), len(want), all)
	}
	if strings.Contains(all, "secret") || strings.Contains(all, good) {
		t.Errorf("a password or hash was printed:\n%s", all)
	}
}

// TestEmbeddedUsersArePermittedTheirZonesOnly runs the embedded server with
// a liaison user and a prefix: truceline's connection manages the streams,
// the user reports and follows alerts of its zone only.
func TestEmbeddedUsersArePermittedTheirZonesOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Prefix: "c1.",
		Users: []broker.EmbeddedUser{{Name: "liaison-a", PasswordHash: hash(t, "pw-a"), Zones: []string{"aleppo"},
			NotifySubjects: []string{"liaison.a.>"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	own, err := nats.Connect(emb.ClientURL(), emb.ConnectOptions()...)
	if err != nil {
		t.Fatalf("truceline's own connection: %v", err)
	}
	t.Cleanup(own.Close)
	startIntake(t, own, "c1.")

	for name, opts := range map[string][]nats.Option{
		"no credentials":           nil,
		"a wrong password":         {nats.UserInfo("liaison-a", "wrong")},
		"the internal user by TCP": {nats.UserInfo(broker.InternalUser, "")},
	} {
		if nc, err := nats.Connect(emb.ClientURL(), opts...); err == nil {
			nc.Close()
			t.Errorf("connected with %s", name)
		} else if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}

	asyncErrs := make(chan error, 16)
	nc, err := nats.Connect(emb.ClientURL(), nats.UserInfo("liaison-a", "pw-a"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErrs <- err }))
	if err != nil {
		t.Fatalf("liaison-a: %v", err)
	}
	t.Cleanup(nc.Close)
	alerts, err := nc.SubscribeSync("c1.alerts.aleppo.>")
	if err != nil {
		t.Fatal(err)
	}
	notes, err := nc.SubscribeSync("liaison.a.alerts")
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
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := js.Publish(pctx, "c1.violations.aleppo.shelling", []byte(`{}`))
	if err != nil || ack.Stream != broker.StreamViolations {
		t.Fatalf("JetStream publish of its zone: %+v, %v", ack, err)
	}
	for _, subj := range []string{"c1.alerts.aleppo.opened", "liaison.a.alerts"} {
		if err := own.Publish(subj, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := alerts.NextMsg(5 * time.Second); err != nil {
		t.Errorf("alerts of its zone: %v", err)
	}
	if _, err := notes.NextMsg(5 * time.Second); err != nil {
		t.Errorf("its notifications: %v", err)
	}

	denied := func(what, subject string) {
		t.Helper()
		select {
		case err := <-asyncErrs:
			if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), what) ||
				!strings.Contains(err.Error(), `"`+subject+`"`) {
				t.Errorf("%s to %s: async error %v, want a permissions violation", what, subject, err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s to %s: no permissions violation", what, subject)
		}
	}
	short, cancel2 := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel2()
	if _, err := js.Publish(short, "c1.violations.idlib.shelling", []byte(`{}`)); err == nil {
		t.Error("JetStream publish to another zone was acknowledged")
	} else {
		t.Logf("JetStream publish to another zone: %v", err)
	}
	denied("Publish", "c1.violations.idlib.shelling")
	for _, subj := range []string{"c1.alerts.idlib.>", "c1.alerts.>", "$JS.API.>", "c1.rejected.violations"} {
		if _, err := nc.SubscribeSync(subj); err != nil {
			t.Fatal(err)
		}
		denied("Subscription", subj)
	}
	for _, subj := range []string{"$JS.API.STREAM.DELETE.VIOLATIONS", "c1.alerts.aleppo.opened"} {
		if err := nc.Publish(subj, nil); err != nil {
			t.Fatal(err)
		}
		denied("Publish", subj)
	}
}

// TestLiaisonCannotPublishThroughReplies: the reply subject of a report is
// where JetStream sends its acknowledgement, so it must not let a user
// write into truceline's subjects, nor reach other users.
func TestLiaisonCannotPublishThroughReplies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emb, own := embeddedWithIntake(t,
		broker.EmbeddedUser{Name: "liaison-a", PasswordHash: hash(t, "pw-a"), Zones: []string{"aleppo"}},
		broker.EmbeddedUser{Name: "liaison-b", PasswordHash: hash(t, "pw-b"), Zones: []string{"idlib"}})
	ownSub, err := own.SubscribeSync("alerts.idlib.>")
	if err != nil {
		t.Fatal(err)
	}
	b, err := nats.Connect(emb.ClientURL(), nats.UserInfo("liaison-b", "pw-b"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	bAlerts, err := b.SubscribeSync("alerts.idlib.>")
	if err != nil {
		t.Fatal(err)
	}
	bInboxes, err := b.SubscribeSync("_INBOX.>")
	if err != nil {
		t.Fatal(err)
	}
	for _, nc := range []*nats.Conn{own, b} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}

	a, err := nats.Connect(emb.ClientURL(), nats.UserInfo("liaison-a", "pw-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	spoof := nats.NewMsg("violations.aleppo.shelling")
	spoof.Reply, spoof.Data = "alerts.idlib.opened", []byte(`{}`)
	if err := a.PublishMsg(spoof); err != nil {
		t.Fatal(err)
	}
	// A real report after it: its acknowledgement follows the spoof's.
	js, err := jetstream.New(a)
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ack, err := js.Publish(pctx, "violations.aleppo.shelling", []byte(`{}`))
	if err != nil || ack.Sequence != 2 {
		t.Fatalf("publish after the spoof: %+v, %v", ack, err)
	}
	for _, nc := range []*nats.Conn{own, b} {
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for name, sub := range map[string]*nats.Subscription{"truceline's alerts.idlib.>": ownSub,
		"liaison-b's alerts.idlib.>": bAlerts, "liaison-b's _INBOX.>": bInboxes} {
		if n, _, _ := sub.Pending(); n != 0 {
			m, _ := sub.NextMsg(time.Second)
			t.Errorf("%s got %d message(s) from liaison-a, e.g. on %s: %s", name, n, m.Subject, m.Data)
		}
	}
	s, err := jetstream.New(own)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := s.Stream(ctx, broker.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := stream.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("ALERTS holds %d message(s) (%v), want none", info.State.Msgs, err)
	}
}

// TestEmbeddedStoreSurvivesTurningUsersOnAndOff: truceline's streams stay
// in the global account, so opening the server, adding or removing users
// keeps them.
func TestEmbeddedStoreSurvivesTurningUsersOnAndOff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	users := []broker.EmbeddedUser{{Name: "liaison-a", PasswordHash: hash(t, "pw-a"), Zones: []string{"aleppo"}}}
	for i, o := range []broker.EmbeddedOptions{{Open: true}, {Users: users}, {}, {Open: true}, {Users: users}} {
		us := o.Users
		o.Listen, o.StoreDir = "127.0.0.1:0", dir
		emb, err := broker.StartEmbedded(o)
		if err != nil {
			t.Fatal(err)
		}
		nc, err := nats.Connect(emb.ClientURL(), emb.ConnectOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := broker.New(ctx, broker.Options{Conn: nc}); err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		ack, err := js.Publish(ctx, "violations.aleppo.shelling", []byte(`{}`))
		if err != nil || ack.Sequence != uint64(i+1) {
			t.Errorf("start %d (open %v, users: %d): publish got %+v, %v; want sequence %d", i+1, o.Open, len(us), ack, err, i+1)
		}
		nc.Close()
		emb.Shutdown()
	}
}

// embeddedWithIntake starts an embedded server with users, truceline's
// own connection to it, the streams and the intake.
func embeddedWithIntake(t *testing.T, users ...broker.EmbeddedUser) (*broker.Embedded, *nats.Conn) {
	t.Helper()
	emb, err := broker.StartEmbedded(broker.EmbeddedOptions{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emb.Shutdown)
	own, err := nats.Connect(emb.ClientURL(), emb.ConnectOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(own.Close)
	startIntake(t, own, "")
	return emb, own
}

// startIntake sets up the streams as truceline's own connection and starts
// the intake that takes the liaison users' reports.
func startIntake(t *testing.T, own *nats.Conn, prefix string) *broker.Broker {
	t.Helper()
	b, err := broker.New(context.Background(), broker.Options{Conn: own, Prefix: prefix})
	if err != nil {
		t.Fatalf("set up the streams as the internal user: %v", err)
	}
	in, err := b.StartIntake(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = in.Shutdown(context.Background()) })
	return b
}

// TestTheIntakeRecordsWhoSent: a liaison user's report reaches VIOLATIONS
// with its user as the submitter, whatever headers it set, and its
// Nats-Msg-Id scoped to it and the zone; the acknowledgement is the
// stream's.
func TestTheIntakeRecordsWhoSent(t *testing.T) {
	t.Parallel()
	emb, own := embeddedWithIntake(t, broker.EmbeddedUser{Name: "liaison-a", PasswordHash: hash(t, "pw-a"), Zones: []string{"aleppo"}})
	nc, err := nats.Connect(emb.ClientURL(), nats.UserInfo("liaison-a", "pw-a"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := nats.NewMsg("violations.aleppo.shelling")
	m.Data = []byte(`{"zone":"aleppo"}`)
	m.Header.Set(broker.HeaderSubmittedBy, `{"via":"http","user":"liaison-b"}`)
	m.Header.Set(broker.HeaderReportID, "r-forged")
	m.Header.Set("Nats-Rollup", "sub")
	m.Header.Set(jetstream.MsgIDHeader, "pa-0001")
	ack, err := js.PublishMsg(ctx, m)
	if err != nil || ack.Stream != broker.StreamViolations || ack.Duplicate {
		t.Fatalf("publish: %+v, %v", ack, err)
	}
	if again, err := js.PublishMsg(ctx, m); err != nil || !again.Duplicate || again.Sequence != ack.Sequence {
		t.Errorf("the same message again: %+v, %v; want a duplicate of %d", again, err, ack.Sequence)
	}
	ownJS, err := jetstream.New(own)
	if err != nil {
		t.Fatal(err)
	}
	stream, err := ownJS.Stream(ctx, broker.StreamViolations)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatal(err)
	}
	by := alerting.Submitter{Via: alerting.ViaNATS, User: "liaison-a"}
	want := map[string]string{
		broker.HeaderSubmittedBy: by.HeaderValue(),
		broker.HeaderSenderMsgID: "pa-0001",
		jetstream.MsgIDHeader:    alerting.ReportKey(by, "aleppo", "pa-0001"),
		broker.HeaderReportID:    "",
		"Nats-Rollup":            "",
		"Nats-Request-Info":      "",
	}
	for k, v := range want {
		if got := stored.Header.Get(k); got != v {
			t.Errorf("stored header %s = %q, want %q", k, got, v)
		}
	}
	if string(stored.Data) != `{"zone":"aleppo"}` || stored.Subject != "violations.aleppo.shelling" {
		t.Errorf("stored %s: %s", stored.Subject, stored.Data)
	}
}
