package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
)

// TestReportsReachTheBoard follows the whole path: a report published on
// NATS and another posted over HTTP become alert frames on a WebSocket.
func TestReportsReachTheBoard(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ws := dial(t, a)
	ws.subscribe(t, []string{"*"}, nil)
	zones := map[string]bool{}
	for range 6 {
		f := ws.next(t)
		if f.Type != "snapshot" || f.Seq != 0 || len(f.Alerts) != 0 {
			t.Fatalf("want an empty snapshot per zone, got %+v", f)
		}
		zones[f.Zone] = true
	}
	for _, z := range []string{"aleppo", "damascus-ghouta", "latakia", "idlib", "homs-north", "daraa"} {
		if !zones[z] {
			t.Errorf("no snapshot for demo zone %s", z)
		}
	}

	nc := d.nats.Connect(t)
	if err := nc.Publish("violations.aleppo.shelling", reportJSON("nats-1", "aleppo", "shelling")); err != nil {
		t.Fatal(err)
	}
	f := ws.until(t, "the NATS report's alert", func(f frame) bool { return hasReport(f, "nats-1") })
	// An anonymous NATS publisher's report keeps its id.
	if f.Type != "alert" || f.Event != "opened" || f.Zone != "aleppo" || f.Seq != 1 || f.ReportID != "nats-1" {
		t.Errorf("frame for the NATS report = %+v", f)
	}

	// A report over HTTP is kept under its id and a tag of its sender.
	status, body := post(t, a, "/api/v1/reports", reportJSON("http-1", "aleppo", "shelling"))
	if key, _ := body["id"].(string); status != http.StatusAccepted || !strings.HasPrefix(key, "http-1~") || body["submitted_id"] != "http-1" {
		t.Fatalf("POST report: %d %v", status, body)
	}
	f = ws.until(t, "the HTTP report's alert", func(f frame) bool { return hasReport(f, "http-1") })
	if f.Event != "updated" || f.Seq != 2 || f.Alert.ReportCount != 2 || !hasReport(f, "nats-1") {
		t.Errorf("frame for the HTTP report = %+v", f)
	}

	// A report without an id gets one, and the answer says which.
	status, body = post(t, a, "/api/v1/reports", []byte(strings.Replace(string(reportJSON("x", "daraa", "airstrike")), `"id":"x",`, "", 1)))
	id, _ := body["id"].(string)
	if status != http.StatusAccepted || !strings.HasPrefix(id, "r-") {
		t.Fatalf("POST report without id: %d %v", status, body)
	}
	ws.until(t, "the alert of the report without id", func(f frame) bool { return hasReport(f, id) })

	// Acknowledge and resolve reach the board too.
	alertID := f.Alert.ID
	dutyA := userToken(t, a, alerting.User{Name: "duty-a", FullName: "duty officer", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	liaisonB := userToken(t, a, alerting.User{Name: "liaison-b", FullName: "liaison B", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"*"}})
	if status, body := postAs(t, a, dutyA, "/api/v1/alerts/"+alertID+"/ack", []byte(`{"party":"party-a"}`)); status != 200 || body["state"] != "acknowledged" {
		t.Fatalf("ack: %d %v", status, body)
	}
	f = ws.until(t, "the acknowledgement", func(f frame) bool { return f.Event == "acknowledged" })
	if f.Alert.ID != alertID || f.Alert.Acks[0].Party != "party-a" || f.Alert.Acks[0].By != "duty officer" {
		t.Errorf("acknowledged frame = %+v", f.Alert)
	}
	if status, body := postAs(t, a, liaisonB, "/api/v1/alerts/"+alertID+"/verify", []byte(`{"status":"disputed","note":"cannot confirm"}`)); status != 200 || body["verification"] != "disputed" {
		t.Fatalf("verify: %d %v", status, body)
	}
	ws.until(t, "the verification", func(f frame) bool { return f.Event == "updated" && f.Alert.Verification == "disputed" })
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/verify", []byte(`{"status":"maybe"}`)); status != 400 || !strings.Contains(fmt.Sprint(body), "field:status") {
		t.Errorf("a bad verification: %d %v", status, body)
	}
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/ack", []byte(`{"by":"x","party":"isil"}`)); status != 400 || !strings.Contains(fmt.Sprint(body), "excluded") {
		t.Errorf("an excluded party acknowledging: %d %v, want 400", status, body)
	}
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/snooze", []byte(`{"by":"x"}`)); status != 400 || !strings.Contains(fmt.Sprint(body), "field:for") {
		t.Errorf("a snooze without a duration: %d %v, want 400 naming for", status, body)
	}
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/comment", []byte(`{"by":"duty officer","note":"imagery requested"}`)); status != 200 {
		t.Fatalf("comment: %d %v", status, body)
	}
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/snooze", []byte(`{"by":"duty officer","for":"30m"}`)); status != 200 || body["snoozed_until"] == nil {
		t.Fatalf("snooze: %d %v", status, body)
	}
	if status, _ := post(t, a, "/api/v1/alerts/"+alertID+"/resolve", []byte(`{"by":"duty officer","note":"shelling stopped"}`)); status != 200 {
		t.Fatalf("resolve: %d", status)
	}
	ws.until(t, "the resolution", func(f frame) bool { return f.Event == "resolved" && f.Alert.State == "resolved" })
	if status, body := post(t, a, "/api/v1/alerts/"+alertID+"/resolve", nil); status != http.StatusConflict {
		t.Errorf("resolving twice: %d %v, want 409", status, body)
	}
	if status, _ := get(t, a, "/api/v1/alerts/al-nope"); status != http.StatusNotFound {
		t.Errorf("unknown alert: %d, want 404", status)
	}
	status, body = get(t, a, "/api/v1/alerts/"+alertID)
	if status != 200 || body["state"] != "resolved" {
		t.Errorf("GET alert: %d %v", status, body)
	}
	// Prometheus sees the work done.
	resp, err := adminClient.Get("http://" + a.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`truceline_engine_reports_total{outcome="processed"} 3`, `truceline_http_reports_total{outcome="accepted"} 2`, "truceline_ws_clients 1"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// The change is also on alerts.<zone>.<event> in stream ALERTS.
	js, _ := jetstream.New(nc)
	stream, err := js.Stream(context.Background(), broker.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.GetLastMsgForSubject(context.Background(), "alerts.aleppo.resolved")
	if err != nil || !strings.Contains(string(msg.Data), alertID) {
		t.Errorf("ALERTS has no resolved change for %s: %v", alertID, err)
	}
}

// TestBadReportsAreRejectedAndChangeNothing sends each kind of bad report
// over HTTP and NATS: each gets its own error, and no state changes.
func TestBadReportsAreRejectedAndChangeNothing(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	now := time.Now().UTC()
	good := func(mod string) string {
		return fmt.Sprintf(`{"zone":"aleppo","category":"shelling","observed_at":%q,"reported_by":"x"%s}`, now.Add(-time.Minute).Format(time.RFC3339), mod)
	}
	tests := []struct {
		name, body, subject, field, problem string
		status                              int
	}{
		{"missing fields", `{"zone":"aleppo"}`, "violations.aleppo.shelling", "reported_by", "is required", 400},
		{"unknown zone", strings.Replace(good(""), "aleppo", "atlantis", 1), "violations.atlantis.shelling", "zone", "unknown zone", 400},
		{"bad time", strings.Replace(good(""), now.Add(-time.Minute).Format(time.RFC3339), "yesterday", 1), "violations.aleppo.shelling", "observed_at", "not an RFC 3339 time", 400},
		{"future time", strings.Replace(good(""), now.Add(-time.Minute).Format(time.RFC3339), now.Add(time.Hour).Format(time.RFC3339), 1), "violations.aleppo.shelling", "observed_at", "in the future", 400},
		{"coordinates out of range", good(`,"location":{"lat":-95,"lon":10}`), "violations.aleppo.shelling", "location.lat", "between -90 and 90", 400},
		{"unknown field", good(`,"sector":"7"`), "violations.aleppo.shelling", "sector", "unknown field", 400},
		{"subject disagrees", good(""), "violations.latakia.shelling", "zone", "subject names zone", 0},
		{"oversized", good(`,"description":"` + strings.Repeat("x", 20000) + `"`), "violations.aleppo.shelling", "", "", 413},
	}
	nc := d.nats.Connect(t)
	rejected := make(chan *nats.Msg, 16)
	sub, err := nc.ChanSubscribe("rejected.violations", rejected)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.status != 0 {
				status, body := post(t, a, "/api/v1/reports", []byte(tt.body))
				if status != tt.status {
					t.Errorf("HTTP status %d, want %d: %v", status, tt.status, body)
				}
				errBody, _ := body["error"].(map[string]any)
				if errBody == nil || errBody["code"] == "" || errBody["message"] == "" {
					t.Errorf("HTTP error body = %v", body)
				}
				if tt.field != "" && !strings.Contains(fmt.Sprint(errBody["fields"]), "field:"+tt.field+" problem:") {
					t.Errorf("HTTP error fields %v do not name %s", errBody["fields"], tt.field)
				}
			}
			if err := nc.Publish(tt.subject, []byte(tt.body)); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-rejected:
				if string(m.Data) != tt.body {
					t.Errorf("rejection does not carry the original bytes")
				}
				if m.Header.Get(broker.HeaderSubject) != tt.subject || m.Header.Get(broker.HeaderError) == "" {
					t.Errorf("rejection headers = %v", m.Header)
				}
				if tt.field != "" {
					var problems []struct{ Field, Problem string }
					_ = json.Unmarshal([]byte(m.Header.Get(broker.HeaderProblems)), &problems)
					found := false
					for _, p := range problems {
						found = found || (p.Field == tt.field && strings.Contains(p.Problem, tt.problem))
					}
					if !found {
						t.Errorf("rejection problems %v do not name %s: %s", problems, tt.field, tt.problem)
					}
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no message on rejected.violations")
			}
		})
	}
	for _, zone := range []string{"aleppo", "latakia"} {
		if got := alerts(t, a, zone); len(got) != 0 {
			t.Errorf("bad reports opened %d alerts in %s", len(got), zone)
		}
		if seq, err := a.Store.Seq(context.Background(), zone); err != nil || seq != 0 {
			t.Errorf("bad reports moved %s to seq %d (%v)", zone, seq, err)
		}
	}
}

// TestTheSameReportCountsOnce sends one report id over HTTP twice and over
// NATS twice (with and without Nats-Msg-Id). A report id is its sender's:
// the test admin's over HTTP and an anonymous publisher's over NATS are
// two reports, each counted once.
func TestTheSameReportCountsOnce(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	body := reportJSON("dup-1", "idlib", "shelling")
	var key string
	for i := range 2 {
		status, resp := post(t, a, "/api/v1/reports", body)
		if status != http.StatusAccepted || sentID(fmt.Sprint(resp["id"])) != "dup-1" || (resp["duplicate"] == true) != (i == 1) {
			t.Fatalf("POST %d: %d %v", i+1, status, resp)
		}
		key = resp["id"].(string)
	}
	nc := d.nats.Connect(t)
	m := nats.NewMsg("violations.idlib.shelling")
	m.Data = body
	m.Header.Set(jetstream.MsgIDHeader, "dup-1")
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("violations.idlib.shelling", body); err != nil { // stored again: no Msg-Id
		t.Fatal(err)
	}
	// A later report on the same alert shows when the duplicates are behind.
	if err := nc.Publish("violations.idlib.shelling", reportJSON("after", "idlib", "shelling")); err != nil {
		t.Fatal(err)
	}
	var got []string
	alertingtest.Eventually(t, 10*time.Second, "the later report", func() bool {
		as := alerts(t, a, "idlib")
		if len(as) == 1 {
			got = as[0].ReportIDs
		}
		return len(got) > 0 && got[len(got)-1] == "after"
	})
	if len(got) != 3 || got[0] != key || got[1] != "dup-1" {
		t.Errorf("report ids = %v, want [%s dup-1 after]", got, key)
	}
}

// TestResumeGetsExactlyTheMissedChanges reconnects a board with its last
// sequence and checks it gets what it missed, no more and no less, and a
// snapshot with a reason when it cannot resume.
func TestResumeGetsExactlyTheMissedChanges(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	ws := dial(t, a)
	ws.subscribe(t, []string{"latakia"}, nil)
	if f := ws.next(t); f.Type != "snapshot" || f.Zone != "latakia" {
		t.Fatalf("first frame %+v", f)
	}
	post(t, a, "/api/v1/reports", reportJSON("l1", "latakia", "shelling"))
	last := ws.until(t, "l1", func(f frame) bool { return hasReport(f, "l1") }).Seq
	_ = ws.conn.Close()

	for i := range 5 { // missed while disconnected
		post(t, a, "/api/v1/reports", reportJSON(fmt.Sprintf("l%d", i+2), "latakia", "small_arms"))
	}
	alertingtest.Eventually(t, 10*time.Second, "the missed reports to be processed", func() bool {
		seq, _ := a.Store.Seq(context.Background(), "latakia")
		return seq == last+5
	})

	ws = dial(t, a)
	ws.subscribe(t, []string{"latakia"}, map[string]int64{"latakia": last})
	f := ws.next(t)
	if f.Type != "resumed" || f.From != last || f.Seq != last+5 {
		t.Fatalf("want resumed from %d to %d, got %+v", last, last+5, f)
	}
	for i := range int64(5) {
		f := ws.next(t)
		if f.Type != "alert" || f.Seq != last+1+i {
			t.Fatalf("missed change %d: got %+v", i, f)
		}
	}
	post(t, a, "/api/v1/reports", reportJSON("live", "latakia", "shelling"))
	if f := ws.next(t); f.Seq != last+6 || !hasReport(f, "live") {
		t.Fatalf("after the missed changes, want the live one (seq %d), got %+v", last+6, f)
	}

	// A resume point the server cannot serve gets a snapshot that says so.
	ws2 := dial(t, a)
	ws2.subscribe(t, []string{"latakia"}, map[string]int64{"latakia": 1_000_000})
	f = ws2.next(t)
	if f.Type != "snapshot" || f.Reason != "resume_unavailable" || f.Seq != last+6 || len(f.Alerts) != 2 {
		t.Fatalf("want a snapshot at %d with 2 alerts and reason resume_unavailable, got %+v", last+6, f)
	}
}

// TestRestartLosesNoReport stops truceline abruptly while reports stream
// in, starts it again on the same NATS and Redis, and checks that every
// report JetStream acknowledged is in exactly one alert.
func TestRestartLosesNoReport(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	first := start(t, cfg)
	nc := d.nats.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	zones := []string{"aleppo", "idlib", "daraa"}
	ctx := context.Background()
	for i := range n {
		if i == n/2 {
			first.Kill()
		}
		zone := zones[i%len(zones)]
		if _, err := js.Publish(ctx, "violations."+zone+".shelling", reportJSON(fmt.Sprintf("k%d", i), zone, "shelling")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	second := start(t, cfg)
	seen := map[string]int{}
	alertingtest.Eventually(t, 45*time.Second, "every report in an alert", func() bool {
		clear(seen)
		for _, zone := range zones {
			for _, al := range alerts(t, second, zone) {
				for _, id := range reportIDs(t, second, al.ID) {
					seen[id]++
				}
			}
		}
		return len(seen) == n
	})
	for id, count := range seen {
		if count != 1 {
			t.Errorf("report %s is in %d alerts", id, count)
		}
	}
}

// TestEmbeddedModeKeepsStateAcrossRestarts runs truceline with its own NATS
// and Redis in a data directory, restarts it, and finds the alert again.
func TestEmbeddedModeKeepsStateAcrossRestarts(t *testing.T) {
	t.Parallel()
	cfg := startDeps(t).config(t)
	cfg.NATSURL, cfg.RedisURL = "embedded", "embedded"
	cfg.NATSListen = "127.0.0.1:0"
	first := start(t, cfg)
	post(t, first, "/api/v1/reports", reportJSON("e1", "homs-north", "airstrike"))
	alertingtest.Eventually(t, 10*time.Second, "the alert", func() bool { return len(alerts(t, first, "homs-north")) == 1 })
	first.Kill()

	second := start(t, cfg)
	got := alerts(t, second, "homs-north")
	if len(got) != 1 || sentID(got[0].ReportIDs[0]) != "e1" {
		t.Fatalf("after a restart: %+v", got)
	}
	post(t, second, "/api/v1/reports", reportJSON("e1", "homs-north", "airstrike")) // resent
	post(t, second, "/api/v1/reports", reportJSON("e2", "homs-north", "airstrike"))
	alertingtest.Eventually(t, 10*time.Second, "the second report", func() bool {
		got = alerts(t, second, "homs-north")
		return len(got) == 1 && got[0].ReportCount == 2
	})
	if sentID(got[0].ReportIDs[1]) != "e2" {
		t.Errorf("report ids %v", got[0].ReportIDs)
	}
}

// TestRedisOutage kills Redis under a running truceline: readiness and
// reads say so with 503, reports are still accepted into JetStream, and
// they become alerts once Redis is back.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	if status, body := get(t, a, "/readyz"); status != 200 || body["ready"] != true {
		t.Fatalf("readyz: %d %v", status, body)
	}
	// Tokens are checked in Redis; one used in the last ten minutes keeps
	// working while Redis is away, so reports are still taken.
	if status, _ := get(t, a, "/api/v1/alerts"); status != 200 {
		t.Fatalf("alerts: %d", status)
	}
	d.redis.Kill(t)
	alertingtest.Eventually(t, 10*time.Second, "readyz to report redis down", func() bool {
		status, body := get(t, a, "/readyz")
		checks, _ := body["checks"].(map[string]any)
		return status == http.StatusServiceUnavailable && checks["redis"] != "ok" && checks["nats"] == "ok"
	})
	if status, _ := get(t, a, "/healthz"); status != 200 {
		t.Errorf("healthz while redis is down: %d, want 200 (the process is alive)", status)
	}
	status, body := get(t, a, "/api/v1/alerts")
	if errBody, _ := body["error"].(map[string]any); status != http.StatusServiceUnavailable || errBody["code"] != "unavailable" {
		t.Errorf("listing alerts while redis is down: %d %v, want 503 unavailable", status, body)
	}
	if status, body := post(t, a, "/api/v1/reports", reportJSON("during-outage", "aleppo", "shelling")); status != http.StatusAccepted {
		t.Fatalf("a report while redis is down: %d %v; JetStream still takes it", status, body)
	}
	d.redis.Restart(t)
	alertingtest.Eventually(t, 30*time.Second, "the report to become an alert after redis is back", func() bool {
		for _, al := range alerts(t, a, "aleppo") {
			if slices.ContainsFunc(al.ReportIDs, func(id string) bool { return sentID(id) == "during-outage" }) {
				return true
			}
		}
		return false
	})
}

// TestInMemoryModeServes runs truceline where no redis-server is installed:
// the in-memory fallback must run the whole path.
func TestInMemoryModeServes(t *testing.T) {
	cfg := startDeps(t).config(t)
	cfg.RedisURL = "embedded"
	t.Setenv("PATH", t.TempDir())
	a := start(t, cfg)
	ws := dial(t, a)
	ws.subscribe(t, []string{"daraa"}, nil)
	ws.next(t)
	post(t, a, "/api/v1/reports", reportJSON("m1", "daraa", "shelling"))
	post(t, a, "/api/v1/reports", reportJSON("m2", "daraa", "shelling"))
	f := ws.until(t, "both reports", func(f frame) bool { return hasReport(f, "m2") })
	if f.Seq != 2 || f.Alert.ReportCount != 2 {
		t.Errorf("in memory: %+v", f)
	}
}

// TestEscalationSurvivesAKill kills truceline with an escalation step
// pending; the step fires once after the restart, neither lost nor doubled.
func TestEscalationSurvivesAKill(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	first := start(t, cfg)
	policy := alerting.Config{
		Contacts: []alerting.Contact{webhookContact("duty-officers", "", "http://127.0.0.1:9/nobody-listens")},
		Policies: []alerting.Policy{{ID: "fast", Steps: []alerting.Step{
			{After: 0, Notify: []string{"board"}},
			{After: alerting.Duration(2 * time.Second), Notify: []string{"duty-officers"}},
		}}},
		Rules: []alerting.Rule{{ID: "all", Policy: "fast"}},
	}
	if err := first.ApplyConfig(context.Background(), policy); err != nil {
		t.Fatal(err)
	}
	post(t, first, "/api/v1/reports", reportJSON("k1", "idlib", "shelling"))
	var id string
	alertingtest.Eventually(t, 10*time.Second, "the alert", func() bool {
		as := alerts(t, first, "idlib")
		if len(as) == 1 {
			id = as[0].ID
		}
		return id != ""
	})
	first.Kill()
	second := start(t, cfg)
	alertingtest.Eventually(t, 15*time.Second, "the pending step to fire after the restart", func() bool {
		_, body := get(t, second, "/api/v1/alerts/"+id)
		ns, _ := body["notifications"].([]any)
		return len(ns) == 2
	})
	_, body := get(t, second, "/api/v1/alerts/"+id)
	esc, _ := body["escalation"].(map[string]any)
	if ns := body["notifications"].([]any); len(ns) != 2 || esc["stopped"] != "exhausted" || esc["level"] != float64(2) {
		t.Errorf("after the restart: notifications %v, escalation %v", ns, esc)
	}
}

// TestTwoReplicas runs two truceline instances on one NATS and Redis:
// reports published over NATS are each counted once, in one alert, every
// escalation step fires once, and every notification is delivered once,
// whichever replica does the work.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	d, a, b, in := twoReplicas(t, time.Second)
	nc := d.nats.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	const n = 120
	zones := []string{"aleppo", "idlib", "daraa", "latakia"}
	categories := []string{"shelling", "small_arms", "airstrike"}
	for i := range n {
		zone, cat := zones[i%len(zones)], categories[(i/len(zones))%len(categories)]
		if _, err := js.Publish(context.Background(), "violations."+zone+"."+cat, reportJSON(fmt.Sprintf("two-%d", i), zone, cat)); err != nil {
			t.Fatal(err)
		}
	}
	var all []alerting.Alert
	alertingtest.Eventually(t, 30*time.Second, "every report in an alert and every step fired", func() bool {
		all = all[:0]
		count, done := 0, true
		for _, z := range zones {
			for _, al := range alerts(t, b, z) {
				all = append(all, al)
				count += al.ReportCount
				done = done && al.Escalation != nil && al.Escalation.Stopped == "exhausted"
			}
		}
		return count == n && done
	})
	if len(all) != len(zones)*len(categories) {
		t.Errorf("%d alerts, want one per zone and category (%d)", len(all), len(zones)*len(categories))
	}
	seen := map[string]bool{}
	for _, al := range all {
		for _, id := range reportIDs(t, a, al.ID) {
			if seen[id] {
				t.Errorf("report %s counted twice", id)
			}
			seen[id] = true
		}
		if len(al.Notifications) != 2 {
			t.Errorf("alert %s: %d notifications, want each of the 2 steps once", al.ID, len(al.Notifications))
		}
	}
	// Each step's webhook reaches the receiver once, whichever replica
	// delivered it.
	alertingtest.Eventually(t, 20*time.Second, "a webhook per alert", func() bool { return len(in.rc.Received()) == len(all) })
	for k, n := range in.counts() {
		if n != 1 {
			t.Errorf("key %s delivered %d times", k, n)
		}
	}
}
