package app_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// healZones and healCategories spread the reports of the heal tests.
var (
	healZones      = []string{"aleppo", "damascus-ghouta", "latakia", "idlib", "homs-north", "daraa"}
	healCategories = []string{"shelling", "small_arms", "airstrike"}
)

// sendReports sends n reports, every other one over HTTP and the rest as
// JetStream publications, and returns the ids truceline keeps them under
// once each was accepted (202 or a PubAck).
func sendReports(t *testing.T, a *app.App, js jetstream.JetStream, prefix string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		zone, category := healZones[i%len(healZones)], healCategories[(i/len(healZones))%len(healCategories)]
		body := reportJSON(id, zone, category)
		if i%2 == 0 {
			status, resp := post(t, a, "/api/v1/reports", body)
			if status != http.StatusAccepted {
				t.Fatalf("report %s: %d %v", id, status, resp)
			}
			id = resp["id"].(string) // kept under its id and a tag of the test admin
		} else {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := js.Publish(ctx, "violations."+zone+"."+category, body, jetstream.WithMsgID(id))
			cancel()
			if err != nil {
				t.Fatalf("publish report %s: %v", id, err)
			}
		}
		ids[i] = id
	}
	return ids
}

// reportCounts counts in how many alerts each report is, over every alert
// of the heal zones.
func reportCounts(t *testing.T, a *app.App) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, zone := range healZones {
		for _, al := range alerts(t, a, zone) {
			for _, id := range reportIDs(t, a, al.ID) {
				counts[id]++
			}
		}
	}
	return counts
}

// waitCounted waits until every report of ids is in an alert.
func waitCounted(t *testing.T, a *app.App, ids []string) {
	t.Helper()
	alertingtest.Eventually(t, 60*time.Second, "every report to be in an alert", func() bool {
		if !ready(t, a) {
			return false
		}
		counts := reportCounts(t, a)
		for _, id := range ids {
			if counts[id] == 0 {
				return false
			}
		}
		return true
	})
}

// ready reports whether /readyz says ready and heals nothing.
func ready(t *testing.T, a *app.App) bool {
	t.Helper()
	status, body := get(t, a, "/readyz")
	return status == http.StatusOK && body["healing"] == nil
}

// act posts an action on an alert and fails unless it is answered 200.
func act(t *testing.T, a *app.App, alertID, action, body string) {
	t.Helper()
	if status, resp := post(t, a, "/api/v1/alerts/"+alertID+"/"+action, []byte(body)); status != http.StatusOK {
		t.Fatalf("%s %s: %d %v", action, alertID, status, resp)
	}
}

// jetStream is a JetStream client of the test's NATS, for reporters.
func jetStream(t *testing.T, d *deps) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(d.nats.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// followBoard connects a board to a that follows the heal zones.
func followBoard(t *testing.T, a *app.App) *boardState {
	t.Helper()
	c := dial(t, a)
	c.subscribe(t, healZones, nil)
	return follow(c)
}

// countedOnce fails the test for every report in more than one alert.
func countedOnce(t *testing.T, a *app.App) {
	t.Helper()
	for id, n := range reportCounts(t, a) {
		if n != 1 {
			t.Errorf("report %s is in %d alerts, want 1", id, n)
		}
	}
}

// boardState is what a WebSocket client knows of every zone: each zone's
// sequence and its active alerts, kept from snapshots and changes.
type boardState struct {
	mu     sync.Mutex
	seq    map[string]int64
	alerts map[string]map[string]alerting.Alert // zone → id → alert
	err    error
}

// follow keeps a boardState from a client's frames until the client closes.
func follow(c *wsClient) *boardState {
	b := &boardState{seq: map[string]int64{}, alerts: map[string]map[string]alerting.Alert{}}
	go func() {
		for f := range c.frames {
			b.apply(f)
		}
	}()
	return b
}

func (b *boardState) apply(f frame) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch f.Type {
	case "snapshot":
		b.alerts[f.Zone] = map[string]alerting.Alert{}
		for _, al := range f.Alerts {
			b.alerts[f.Zone][al.ID] = al
		}
		b.seq[f.Zone] = f.Seq
	case "alert":
		if f.Seq <= b.seq[f.Zone] && b.err == nil {
			b.err = fmt.Errorf("zone %s: change %d after %d: the sequence went back", f.Zone, f.Seq, b.seq[f.Zone])
		}
		if f.Seq != b.seq[f.Zone]+1 && b.err == nil {
			b.err = fmt.Errorf("zone %s: change %d after %d: a gap nobody was told of", f.Zone, f.Seq, b.seq[f.Zone])
		}
		b.seq[f.Zone] = f.Seq
		if f.Alert.Active() {
			b.alerts[f.Zone][f.Alert.ID] = *f.Alert
		} else {
			delete(b.alerts[f.Zone], f.Alert.ID)
		}
	}
}

// view is a boardState's state: zone → seq and the versions of its alerts.
func (b *boardState) view() (map[string]int64, map[string]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	seqs := map[string]int64{}
	alerts := map[string]string{}
	for zone, as := range b.alerts {
		seqs[zone] = b.seq[zone]
		var vs []string
		for id, al := range as {
			vs = append(vs, fmt.Sprintf("%s@%d", id, al.Version))
		}
		slices.Sort(vs)
		alerts[zone] = strings.Join(vs, " ")
	}
	return seqs, alerts, b.err
}

// sameBoard waits until a boardState followed throughout shows what a fresh
// client is shown.
func sameBoard(t *testing.T, a *app.App, old *boardState) {
	t.Helper()
	want := followBoard(t, a)
	alertingtest.Eventually(t, 30*time.Second, "the board followed throughout to show what a fresh one shows", func() bool {
		ws, wa, _ := want.view()
		gs, ga, err := old.view()
		if err != nil {
			t.Fatal(err)
		}
		return len(ws) == len(healZones) && fmt.Sprint(ws) == fmt.Sprint(gs) && fmt.Sprint(wa) == fmt.Sprint(ga)
	})
}

// TestRedisRestoredToASnapshotHeals restores Redis to a snapshot taken in
// the middle of the load: what it acknowledged since (reports over HTTP and
// NATS, and actions of every kind) is missing from it, and truceline must
// bring it back from the streams by itself.
func TestRedisRestoredToASnapshotHeals(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	js := jetStream(t, d)
	followed := followBoard(t, a)

	before := sendReports(t, a, js, "before", 120)
	waitCounted(t, a, before)
	snap := d.redis.Snapshot(t)

	after := sendReports(t, a, js, "after", 120)
	waitCounted(t, a, after)
	// Actions of every kind on alerts of the second half.
	as := alerts(t, a, "aleppo")
	if len(as) < 3 {
		t.Fatalf("aleppo has %d alerts, want 3", len(as))
	}
	act(t, a, as[0].ID, "ack", `{"note":"seen by the duty officer"}`)
	act(t, a, as[0].ID, "comment", `{"note":"comment that must survive"}`)
	dutyA := userToken(t, a, alerting.User{Name: "duty-a", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	if status, resp := postAs(t, a, dutyA, "/api/v1/alerts/"+as[1].ID+"/verify", []byte(`{"status":"confirmed","note":"UN patrol confirms"}`)); status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, resp)
	}
	act(t, a, as[1].ID, "snooze", `{"for":"2h","note":"waiting for the patrol"}`)
	act(t, a, as[2].ID, "resolve", `{"note":"closed"}`)
	want := map[string]alerting.Alert{}
	for _, id := range []string{as[0].ID, as[1].ID, as[2].ID} {
		_, body := get(t, a, "/api/v1/alerts/"+id)
		want[id] = alerting.Alert{Version: int64(body["version"].(float64)), State: alerting.State(body["state"].(string))}
	}

	d.redis.Restore(t, snap)

	all := append(before, after...)
	waitCounted(t, a, all)
	countedOnce(t, a)
	for id, w := range want {
		status, body := get(t, a, "/api/v1/alerts/"+id)
		if status != http.StatusOK || int64(body["version"].(float64)) != w.Version || alerting.State(body["state"].(string)) != w.State {
			t.Errorf("alert %s after healing: %d, version %v state %v; want version %d state %s", id, status, body["version"], body["state"], w.Version, w.State)
		}
	}
	_, body := get(t, a, "/api/v1/alerts/"+as[0].ID)
	if !strings.Contains(fmt.Sprint(body["timeline"]), "comment that must survive") {
		t.Errorf("the comment was lost: %v", body["timeline"])
	}
	// New reports still count once, after the heal.
	late := sendReports(t, a, js, "late", 12)
	waitCounted(t, a, late)
	sameBoard(t, a, followed)
}

// TestAHealTakesChangesStoredOutOfTurn: ALERTS written by an older
// truceline may hold a zone's changes out of seq order (two replicas, or a
// publication retried after an outage). A heal redoes them in their order
// all the same.
func TestAHealTakesChangesStoredOutOfTurn(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	js := jetStream(t, d)
	ctx := context.Background()
	before := sendReports(t, a, js, "before", 60)
	waitCounted(t, a, before)
	snap := d.redis.Snapshot(t)
	stream, from := alertsStream(t, js)
	after := sendReports(t, a, js, "after", 60)
	waitCounted(t, a, after)
	want := storedSeqs(t, a)

	// Store aleppo's changes since the snapshot again, each pair swapped.
	_, to := alertsStream(t, js)
	var moved []*nats.Msg
	for seq := from + 1; seq <= to; seq++ {
		m, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(m.Subject, "alerts.aleppo.") {
			continue
		}
		moved = append(moved, &nats.Msg{Subject: m.Subject, Data: m.Data, Header: m.Header})
		if err := stream.DeleteMsg(ctx, seq); err != nil {
			t.Fatal(err)
		}
	}
	if len(moved) < 4 {
		t.Fatalf("aleppo has %d changes after the snapshot, want 4 or more", len(moved))
	}
	for i := 0; i+1 < len(moved); i += 2 {
		moved[i], moved[i+1] = moved[i+1], moved[i]
	}
	for _, m := range moved {
		m.Header.Set(jetstream.MsgIDHeader, m.Header.Get(jetstream.MsgIDHeader)+":swapped")
		// The first change of each of the outbox's runs expected the
		// stream's last sequence at the time; moved, it must not.
		m.Header.Del(jetstream.ExpectedLastSubjSeqHeader)
		m.Header.Del(jetstream.ExpectedLastSubjSeqSubjHeader)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}

	d.redis.Restore(t, snap)
	waitCounted(t, a, append(before, after...))
	countedOnce(t, a)
	if got := storedSeqs(t, a); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the heal the zones are at %v, want %v", got, want)
	}
}

// alertsStream returns ALERTS and the sequence of its last message.
func alertsStream(t *testing.T, js jetstream.JetStream) (jetstream.Stream, uint64) {
	t.Helper()
	stream, err := js.Stream(context.Background(), broker.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return stream, info.State.LastSeq
}

// storedSeqs reads each heal zone's sequence number as Redis has it.
func storedSeqs(t *testing.T, a *app.App) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, zone := range healZones {
		seq, err := a.Store.StoredSeq(context.Background(), zone)
		if err != nil {
			t.Fatal(err)
		}
		out[zone] = seq
	}
	return out
}

// TestTwoReplicasHealAtOnce restores Redis under two replicas: both notice,
// both heal, and each lost change is redone exactly once between them.
func TestTwoReplicasHealAtOnce(t *testing.T) {
	t.Parallel()
	d, a, b, _ := twoReplicas(t, time.Hour)
	js := jetStream(t, d)
	followed := followBoard(t, b)

	before := sendReports(t, a, js, "before", 60)
	waitCounted(t, a, before)
	snap := d.redis.Snapshot(t)
	atSnapshot := storedSeqs(t, a)
	after := sendReports(t, b, js, "after", 60)
	waitCounted(t, a, after)
	lost := 0.0
	for zone, seq := range storedSeqs(t, a) {
		lost += float64(seq - atSnapshot[zone])
	}

	d.redis.Restore(t, snap)
	waitCounted(t, a, append(before, after...))
	alertingtest.Eventually(t, 30*time.Second, "replica b to be ready", func() bool { return ready(t, b) })
	countedOnce(t, b)
	redone := 0.0
	for _, r := range []*app.App{a, b} {
		v, _ := sample(scrape(t, r), "truceline_healed_changes_total")
		redone += v
	}
	if redone != lost {
		t.Errorf("the replicas redid %v changes between them; %v were lost", redone, lost)
	}
	sameBoard(t, b, followed)
}

// TestLostReportsWithoutAlertChangesAreRecovered: reports that changed no
// alert yet (counted towards a rule's threshold) are in no alert change, so
// the stream of reports is where they are found again.
func TestLostReportsWithoutAlertChangesAreRecovered(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	if err := a.ApplyConfig(context.Background(), alerting.Config{Rules: []alerting.Rule{{ID: "three", GroupBy: []string{"zone"},
		Window: alerting.Duration(time.Hour), Threshold: 3}}}); err != nil {
		t.Fatal(err)
	}
	// A report elsewhere, and a checkpoint past it: the healer moves the
	// checkpoint every 2 s, and reads the reports after it.
	if status, resp := post(t, a, "/api/v1/reports", reportJSON("elsewhere", "daraa", "shelling")); status != http.StatusAccepted {
		t.Fatalf("report: %d %v", status, resp)
	}
	alertingtest.Eventually(t, 10*time.Second, "a checkpoint past the first report", func() bool {
		n, err := a.Store.Checkpoint(context.Background())
		return err == nil && n > 0
	})
	snap := d.redis.Snapshot(t)
	var ids []string
	for i := range 2 {
		id := fmt.Sprintf("held-%d", i)
		status, resp := post(t, a, "/api/v1/reports", reportJSON(id, "idlib", "shelling"))
		if status != http.StatusAccepted {
			t.Fatalf("report %s: %d %v", id, status, resp)
		}
		ids = append(ids, resp["id"].(string))
	}
	alertingtest.Eventually(t, 10*time.Second, "both reports to be counted", func() bool {
		done, err := a.Store.Processed(context.Background(), ids)
		return err == nil && done[0] && done[1]
	})

	d.redis.Restore(t, snap)
	alertingtest.Eventually(t, 30*time.Second, "the lost reports to be processed again", func() bool {
		done, err := a.Store.Processed(context.Background(), ids)
		return err == nil && ready(t, a) && done[0] && done[1]
	})
	if v, _ := sample(scrape(t, a), "truceline_reports_recovered_total"); v != 2 {
		t.Errorf("truceline_reports_recovered_total = %v, want the 2 reports Redis lost", v)
	}
	all := append(slices.Clone(ids), postKey(t, a, reportJSON("held-2", "idlib", "shelling")))
	slices.Sort(all)
	alertingtest.Eventually(t, 10*time.Second, "the third report to open the alert with all three", func() bool {
		for _, al := range alerts(t, a, "idlib") {
			if al.Rule == "three" {
				got := reportIDs(t, a, al.ID)
				slices.Sort(got)
				return slices.Equal(got, all)
			}
		}
		return false
	})
}

// TestABacklogIsLeftToTheConsumer: reports that piled up in VIOLATIONS
// while truceline was stopped were never handed out, so the start's check
// does not take them for reports Redis lost: the consumer handles each
// once, in batches, instead of the check handling them all before the
// start ends and the consumer then again as redeliveries.
func TestABacklogIsLeftToTheConsumer(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	first := start(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	js := jetStream(t, d)
	const n = 120
	ids := make([]string, n)
	for i := range ids {
		zone := healZones[i%len(healZones)]
		ids[i] = fmt.Sprintf("backlog-%03d", i)
		if _, err := js.Publish(ctx, "violations."+zone+".shelling", reportJSON(ids[i], zone, "shelling"), jetstream.WithMsgID(ids[i])); err != nil {
			t.Fatalf("publish %s: %v", ids[i], err)
		}
	}
	second := start(t, cfg)
	alertingtest.Eventually(t, 60*time.Second, "every report of the backlog to be processed", func() bool {
		done, err := second.Store.Processed(context.Background(), ids)
		return err == nil && !slices.Contains(done, false)
	})
	if v, ok := sample(scrape(t, second), "truceline_reports_recovered_total"); !ok || v != 0 {
		t.Errorf("the start's check processed %v reports of the backlog itself (present %v); want 0", v, ok)
	}
	countedOnce(t, second)
}

// switchProxy forwards TCP connections to a backend that a test can switch,
// as a failover moves a service address from one server to another.
type switchProxy struct {
	l       net.Listener
	mu      sync.Mutex
	backend string
	conns   []net.Conn
}

func newSwitchProxy(t *testing.T, backend string) *switchProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{l: l, backend: backend}
	t.Cleanup(func() { _ = l.Close(); p.switchTo("") })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			backend := p.backend
			p.mu.Unlock()
			up, err := net.Dial("tcp", backend)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *switchProxy) addr() string { return p.l.Addr().String() }

// switchTo sends new connections to backend and cuts the current ones.
func (p *switchProxy) switchTo(backend string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.backend = backend
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestFailoverToALaggingReplicaHeals promotes a replica that stopped
// following its primary in the middle of the load, as a failover to a
// lagging replica does: everything the primary acknowledged since is
// missing from it.
func TestFailoverToALaggingReplicaHeals(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	replica := redistest.Start(t)
	proxy := newSwitchProxy(t, d.redis.Addr)
	cfg := d.config(t)
	cfg.RedisURL = "redis://" + proxy.addr()
	a := start(t, cfg)
	js := jetStream(t, d)
	ctx := context.Background()
	host, port, _ := net.SplitHostPort(d.redis.Addr)
	rc := replica.Client(t)
	if err := rc.ReplicaOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	followed := followBoard(t, a)

	before := sendReports(t, a, js, "before", 90)
	waitCounted(t, a, before)
	primary := d.redis.Client(t)
	alertingtest.Eventually(t, 20*time.Second, "the replica to catch up", func() bool {
		want, _ := primary.Info(ctx, "replication").Result()
		got, _ := rc.Info(ctx, "replication").Result()
		return offset(want, "master_repl_offset") > 0 && offset(want, "master_repl_offset") == offset(got, "slave_repl_offset")
	})
	// The replica falls behind: it stops following here.
	if err := rc.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	after := sendReports(t, a, js, "after", 90)
	waitCounted(t, a, after)
	as := alerts(t, a, "latakia")
	act(t, a, as[0].ID, "comment", `{"note":"said before the failover"}`)

	// Failover: the service address now leads to the replica.
	proxy.switchTo(replica.Addr)
	d.redis.Kill(t)

	waitCounted(t, a, append(before, after...))
	countedOnce(t, a)
	_, body := get(t, a, "/api/v1/alerts/"+as[0].ID)
	if !strings.Contains(fmt.Sprint(body["timeline"]), "said before the failover") {
		t.Errorf("the comment was lost in the failover: %v", body["timeline"])
	}
	sameBoard(t, a, followed)
}

// offset reads a number from INFO replication.
func offset(info, field string) int64 {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// TestRedisWipedIsRebuiltFromTheStreams wipes Redis (FLUSHALL) under a
// running truceline: the configuration, users, tokens, alerts with their
// actions and every report come back from the streams, through the rebuild.
func TestRedisWipedIsRebuiltFromTheStreams(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	js := jetStream(t, d)
	followed := followBoard(t, a)
	ids := sendReports(t, a, js, "wiped", 90)
	waitCounted(t, a, ids)
	as := alerts(t, a, "daraa")
	act(t, a, as[0].ID, "ack", `{"note":"seen before the wipe"}`)
	viewer := userToken(t, a, alerting.User{Name: "watcher", Role: alerting.RoleViewer})
	_, before := get(t, a, "/readyz")

	if err := d.redis.Client(t).FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}

	waitCounted(t, a, ids)
	countedOnce(t, a)
	if _, after := get(t, a, "/readyz"); after["config_version"] != before["config_version"] {
		t.Errorf("configuration version %v after the rebuild, want %v", after["config_version"], before["config_version"])
	}
	_, body := get(t, a, "/api/v1/alerts/"+as[0].ID)
	if body["state"] != "acknowledged" || !strings.Contains(fmt.Sprint(body["timeline"]), "seen before the wipe") {
		t.Errorf("the acknowledgement was lost: %v %v", body["state"], body["timeline"])
	}
	req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/api/v1/alerts?zone=daraa", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a viewer's token after the rebuild: %d, want 200", resp.StatusCode)
	}
	late := sendReports(t, a, js, "late", 12)
	waitCounted(t, a, late)
	countedOnce(t, a)
	sameBoard(t, a, followed)
}

// TestRevokedTokenStaysRevoked revokes a token after a snapshot and
// restores Redis to it: the token must not come back to life.
func TestRevokedTokenStaysRevoked(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	tok := userToken(t, a, alerting.User{Name: "leaver", Role: alerting.RoleViewer})
	whoAmI := func() int {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/api/v1/session", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := adminClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := whoAmI(); got != http.StatusOK {
		t.Fatalf("the token before revoking it: %d", got)
	}
	snap := d.redis.Snapshot(t)
	id := strings.SplitN(strings.TrimPrefix(tok, "tlt_"), "_", 2)[0]
	req, _ := http.NewRequest("DELETE", "http://"+a.HTTPAddr()+"/api/v1/tokens/"+id, nil)
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("revoke token %s: %d", id, resp.StatusCode)
	}
	if got := whoAmI(); got != http.StatusUnauthorized {
		t.Fatalf("the revoked token: %d, want 401", got)
	}

	d.redis.Restore(t, snap)
	alertingtest.Eventually(t, 30*time.Second, "truceline to check the restored Redis", func() bool { return ready(t, a) })
	if got := whoAmI(); got != http.StatusUnauthorized {
		t.Errorf("the revoked token after Redis was restored to before its revocation: %d, want 401", got)
	}
}

// alertSeqs reads every change of a zone that ALERTS holds, in stream order.
func alertSeqs(t *testing.T, a *app.App, zone string) []int64 {
	t.Helper()
	var seqs []int64
	err := a.Broker.Changes(context.Background(), zone, time.Time{}, func(c alerting.Change) error {
		seqs = append(seqs, c.Seq)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs
}

// TestNATSRestartLeavesNoHoleInALERTS stops NATS while escalation steps fire
// and notifications go out: they go on without it, and once NATS is back
// ALERTS holds every change of every zone, each once.
func TestNATSRestartLeavesNoHoleInALERTS(t *testing.T) {
	t.Parallel()
	d, a, b, in := twoReplicas(t, time.Second)
	// The steps run over and over, every second: some come due while NATS
	// is down however long the reports took to count on a loaded machine.
	cfg := alerting.Config{
		Contacts: []alerting.Contact{webhookContact("duty-officers", "", in.URL+"/duty")},
		Policies: []alerting.Policy{{ID: "p", Repeat: 100, RepeatAfter: alerting.Duration(time.Second), Steps: []alerting.Step{
			{After: 0, Notify: []string{"board"}},
			{After: alerting.Duration(time.Second), Notify: []string{"duty-officers"}},
		}}},
		Rules: []alerting.Rule{{ID: "all", Policy: "p"}},
	}
	if err := a.ApplyConfig(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 10*time.Second, "replica b to load the repeating policy", func() bool {
		_, ra := get(t, a, "/readyz")
		_, rb := get(t, b, "/readyz")
		return ra["config_version"] == rb["config_version"]
	})
	ids := make([]string, 0, 24)
	for i := range 24 {
		id := fmt.Sprintf("outage-%02d", i)
		zone := healZones[i%len(healZones)]
		ids = append(ids, postKey(t, a, reportJSON(id, zone, healCategories[i%2])))
	}
	waitCounted(t, a, ids)
	total := func() (n int64) {
		for _, seq := range storedSeqs(t, a) {
			n += seq
		}
		return n
	}
	before, delivered := total(), len(in.counts())

	d.nats.Shutdown()
	alertingtest.Eventually(t, 30*time.Second, "escalation steps and deliveries to go on without NATS", func() bool {
		return total() > before && len(in.counts()) > delivered
	})
	d.nats.Restart(t)

	// Acknowledged, the alerts escalate no more, and ALERTS can catch up
	// with Redis for good.
	status, list := get(t, a, "/api/v1/alerts")
	alerts, _ := list["alerts"].([]any)
	if status != 200 || len(alerts) == 0 {
		t.Fatalf("the alerts: %d %v", status, list)
	}
	for _, x := range alerts {
		id, _ := x.(map[string]any)["id"].(string)
		if status, body := post(t, a, "/api/v1/alerts/"+id+"/ack", []byte(`{}`)); status != 200 {
			t.Fatalf("acknowledge %s: %d %v", id, status, body)
		}
	}
	alertingtest.Eventually(t, 60*time.Second, "ALERTS to hold every change of every zone, each once, in order", func() bool {
		return orderProblem(t, a) == ""
	})
}

// inOrder fails unless ALERTS holds each heal zone's changes from 1 to the
// zone's sequence number in Redis, each once, in order.
func inOrder(t *testing.T, a *app.App) {
	t.Helper()
	if problem := orderProblem(t, a); problem != "" {
		t.Fatal(problem)
	}
}

// orderProblem says how ALERTS differs from each heal zone's changes from 1
// to the zone's sequence number in Redis, each once, in order; "" when it
// does not.
func orderProblem(t *testing.T, a *app.App) string {
	t.Helper()
	seqs := storedSeqs(t, a)
	for _, zone := range healZones {
		got := alertSeqs(t, a, zone)
		for i, seq := range got {
			if seq != int64(i+1) {
				return fmt.Sprintf("zone %s: ALERTS holds changes %v, want 1 to %d once each, in order", zone, got, len(got))
			}
		}
		if int64(len(got)) != seqs[zone] {
			return fmt.Sprintf("zone %s: ALERTS holds changes 1 to %d, Redis is at %d", zone, len(got), seqs[zone])
		}
	}
	return ""
}

// TestAChangeNobodyPublishedReachesALERTS: a replica that dies between
// committing a change and publishing it leaves the change in Redis only;
// another replica stores it in ALERTS, in its place, though no later
// change comes in the zone to reveal it.
func TestAChangeNobodyPublishedReachesALERTS(t *testing.T) {
	t.Parallel()
	_, a, _, _ := twoReplicas(t, time.Hour)
	ids := []string{"silent-1", "silent-2"}
	for i, id := range ids {
		ids[i] = postKey(t, a, reportJSON(id, healZones[i], healCategories[0]))
	}
	waitCounted(t, a, ids)
	// Committed as the replica that dies would: in Redis, never published.
	ctx := context.Background()
	al := alerts(t, a, healZones[0])[0]
	current, err := a.Store.Alert(ctx, al.ID)
	if err != nil {
		t.Fatal(err)
	}
	next, err := current.Comment(alerting.Actor{Name: "duty-a"}, "written just before the crash", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	changes, err := a.Store.Commit(ctx, alerting.Commit{Alerts: []alerting.AlertChange{{Alert: next, Event: alerting.EventUpdated}}})
	if err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 30*time.Second, "the change to reach ALERTS", func() bool {
		got := alertSeqs(t, a, healZones[0])
		return len(got) > 0 && got[len(got)-1] == changes[0].Seq
	})
	inOrder(t, a)
}

// auditState reads Redis's audit log: its length, its head, and what
// verification finds wrong with it.
func auditState(t *testing.T, a *app.App) (int64, int64, []alerting.AuditProblem) {
	t.Helper()
	ctx := context.Background()
	n, err := a.Store.AuditLength(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, _, err := a.Store.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	problems, _, err := a.Store.VerifyAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n, head, problems
}

// TestAuditLogSurvivesARollbackAndACut: audit entries are in the stream
// AUDIT too, so a Redis restored to before them gets them back, and a list
// cut short directly in Redis is noticed and mended; the chain verifies.
func TestAuditLogSurvivesARollbackAndACut(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ids := sendReports(t, a, jetStream(t, d), "audited", 6)
	waitCounted(t, a, ids)
	al := alerts(t, a, "aleppo")[0]
	act(t, a, al.ID, "comment", `{"note":"before the snapshot"}`)
	snap := d.redis.Snapshot(t)
	for i := range 5 {
		act(t, a, al.ID, "comment", fmt.Sprintf(`{"note":"after the snapshot %d"}`, i))
	}
	n, head, problems := auditState(t, a)
	if len(problems) > 0 || n != head || n < 6 {
		t.Fatalf("the audit log before: %d entries, head %d, problems %v", n, head, problems)
	}

	d.redis.Restore(t, snap)
	alertingtest.Eventually(t, 30*time.Second, "the audit log back in Redis after the restore", func() bool {
		if !ready(t, a) {
			return false
		}
		got, gotHead, problems := auditState(t, a)
		return got >= n && gotHead == got && len(problems) == 0
	})

	// Someone cuts the list directly in Redis, leaving the head.
	if err := d.redis.Client(t).LTrim(context.Background(), "tl:audit", 0, 1).Err(); err != nil {
		t.Fatal(err)
	}
	if _, _, problems := auditState(t, a); len(problems) == 0 {
		t.Fatal("the cut went unnoticed by the chain's own check")
	}
	alertingtest.Eventually(t, 30*time.Second, "the cut audit log mended from the stream", func() bool {
		got, gotHead, problems := auditState(t, a)
		return got >= n && gotHead == got && len(problems) == 0
	})
}

// TestRebuildPastWhatALERTSKeeps wipes Redis after ALERTS has lost its
// older changes (its age or size limit): the alerts come back from the
// compacted record, the changes after it from ALERTS, and every report
// counts once.
func TestRebuildPastWhatALERTSKeeps(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	js := jetStream(t, d)
	ctx := context.Background()
	early := sendReports(t, a, js, "early", 60)
	waitCounted(t, a, early)
	al := alerts(t, a, "homs-north")[0]
	act(t, a, al.ID, "ack", `{"note":"acknowledged long ago"}`)
	alertingtest.Eventually(t, 60*time.Second, "the compacted record to cover every zone", func() bool {
		seqs := storedSeqs(t, a)
		for _, zone := range healZones {
			at, _, err := a.Broker.CompactedSeq(ctx, zone)
			if err != nil || at != seqs[zone] {
				return false
			}
		}
		return true
	})
	stream, last := alertsStream(t, js)
	late := sendReports(t, a, js, "late", 12)
	waitCounted(t, a, late)
	// ALERTS loses everything the compacted record covers.
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(last+1)); err != nil {
		t.Fatal(err)
	}
	if err := d.redis.Client(t).FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	waitCounted(t, a, append(early, late...))
	countedOnce(t, a)
	_, body := get(t, a, "/api/v1/alerts/"+al.ID)
	if body["state"] != "acknowledged" {
		t.Errorf("the alert acknowledged before the compaction is %v after the rebuild", body["state"])
	}
}
