package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// Phases of TestOutagesUnderLoad, in order. A reporter notes the phase in
// which it sent each report and the one in which it got the answer.
const (
	phaseUp            int32 = iota // both dependencies up
	phaseRedisDown                  // redis-server killed
	phaseRedisBack                  // redis-server restarted, from its AOF
	phaseNATSStopping               // nats-server shutting down
	phaseNATSDown                   // nats-server shut down
	phaseNATSRestarted              // nats-server restarting, truceline reconnecting
	phaseNATSReady                  // /readyz says ready again
)

var phaseNames = []string{"up", "redis-down", "redis-back", "nats-stopping", "nats-down", "nats-restarted", "nats-ready"}

// outcome is what one report sent by a reporter got.
type outcome struct {
	id, via        string // via "http" or "nats"
	sent, answered int32  // phases
	status         int    // HTTP status; 0 for NATS, or when no answer came
	err            string // transport, NATS or error-body problem
}

// reportLoad is reporters sending unique, valid reports at a steady pace
// over HTTP (and straight into JetStream), noting what each report got.
type reportLoad struct {
	phase atomic.Int32
	stop  chan struct{}
	wg    sync.WaitGroup

	mu       sync.Mutex
	outcomes []outcome
	accepted map[string]string // id → via, for every 202 and PubAck
}

// count counts the outcomes that satisfy f.
func (l *reportLoad) count(f func(outcome) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.outcomes {
		if f(o) {
			n++
		}
	}
	return n
}

func (l *reportLoad) record(o outcome, accepted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes = append(l.outcomes, o)
	if accepted {
		l.accepted[o.id] = o.via
	}
}

var (
	loadZones      = []string{"aleppo", "damascus-ghouta", "latakia", "idlib", "homs-north", "daraa"}
	loadCategories = []string{"shelling", "small_arms", "airstrike", "drone_strike", "explosion"}
)

// loadReport is the i-th report of a reporter: its id, zone and category.
func loadReport(reporter string, i int) (id, zone, category string) {
	return fmt.Sprintf("out-%s-%d", reporter, i), loadZones[i%len(loadZones)], loadCategories[(i/len(loadZones))%len(loadCategories)]
}

// startLoad starts httpReporters reporters posting to a and one publishing
// into JetStream with Nats-Msg-Id, each sending a report every interval.
func startLoad(t *testing.T, a *app.App, d *deps, httpReporters int, interval time.Duration) *reportLoad {
	t.Helper()
	l := &reportLoad{stop: make(chan struct{}), accepted: map[string]string{}}
	// The tests' transport adds the admin's token. The client's timeout is
	// far above the server's 5 s JetStream wait: every request is answered.
	client := &http.Client{Transport: tokenTransport{}, Timeout: 30 * time.Second}
	url := "http://" + a.HTTPAddr() + "/api/v1/reports"
	for r := range httpReporters {
		l.wg.Add(1)
		go l.run(fmt.Sprintf("h%d", r), interval, func(id, zone, category string) {
			o := outcome{id: id, via: "http", sent: l.phase.Load()}
			resp, err := client.Post(url, "application/json", bytes.NewReader(reportJSON(id, zone, category)))
			o.answered = l.phase.Load()
			if err != nil {
				o.err = err.Error()
				l.record(o, false)
				return
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.status = resp.StatusCode
			var body struct {
				ID    string `json:"id"`
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(data, &body); err != nil {
				o.err = fmt.Sprintf("answer is not JSON: %v: %q", err, data)
			} else if o.status == http.StatusAccepted && sentID(body.ID) != id {
				o.err = fmt.Sprintf("202 names report %q", body.ID)
			} else if o.status != http.StatusAccepted && (body.Error.Code == "" || body.Error.Message == "") {
				o.err = fmt.Sprintf("error answer without code and message: %s", data)
			} else if o.status == http.StatusServiceUnavailable && body.Error.Code != "unavailable" {
				o.err = fmt.Sprintf("503 with code %q", body.Error.Code)
			}
			l.record(o, o.status == http.StatusAccepted && o.err == "")
		})
	}
	nc := d.nats.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	l.wg.Add(1)
	go l.run("n", interval, func(id, zone, category string) {
		o := outcome{id: id, via: "nats", sent: l.phase.Load()}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ack, err := js.Publish(ctx, "violations."+zone+"."+category, reportJSON(id, zone, category), jetstream.WithMsgID(id))
		o.answered = l.phase.Load()
		if err == nil && ack.Stream != broker.StreamViolations {
			err = fmt.Errorf("PubAck from stream %q", ack.Stream)
		}
		if err != nil {
			o.err = err.Error()
		}
		l.record(o, err == nil)
	})
	t.Cleanup(l.halt)
	return l
}

// run calls send with a new report at every tick until the load stops; a
// send that takes longer than a tick makes the reporter skip ticks, not
// queue them.
func (l *reportLoad) run(reporter string, interval time.Duration, send func(id, zone, category string)) {
	defer l.wg.Done()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		send(loadReport(reporter, i))
	}
}

// halt stops the reporters and waits for their last answers. Idempotent.
func (l *reportLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// waitReady polls /readyz until it answers status with the checks of redis
// and nats ok or not as given.
func waitReady(t *testing.T, a *app.App, timeout time.Duration, status int, redisOK, natsOK bool) {
	t.Helper()
	var last map[string]any
	alertingtest.Eventually(t, timeout, fmt.Sprintf("/readyz to answer %d with redis ok=%t and nats ok=%t", status, redisOK, natsOK), func() bool {
		s, body := get(t, a, "/readyz")
		last = body
		checks, _ := body["checks"].(map[string]any)
		return s == status && body["ready"] == (status == http.StatusOK) &&
			(checks["redis"] == "ok") == redisOK && (checks["nats"] == "ok") == natsOK
	})
	t.Logf("/readyz: %v", last)
}

// TestOutagesUnderLoad kills Redis, then stops NATS, under a steady load of
// reports over HTTP and JetStream, and restarts each. /readyz names the
// dependency that is down; while Redis is down reports are still accepted
// (JetStream holds them); while NATS is down reporters get 503 with a JSON
// error, never a 202; truceline reconnects to both by itself; and every
// report that got a 202 or a PubAck ends up in exactly one alert.
func TestOutagesUnderLoad(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("restarts Redis and NATS under load")
	}
	begin := time.Now()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.RateReports = 0 // unlimited: every answer but 202 must come from an outage
	a := start(t, cfg)
	waitReady(t, a, 10*time.Second, http.StatusOK, true, true)

	l := startLoad(t, a, d, 4, 40*time.Millisecond)
	acceptedIn := func(via string, phase int32) int {
		return l.count(func(o outcome) bool {
			return o.via == via && o.sent == phase && o.answered == phase && o.err == "" && (o.status == http.StatusAccepted || via == "nats")
		})
	}
	alertingtest.Eventually(t, 20*time.Second, "reports accepted with both dependencies up", func() bool {
		return acceptedIn("http", phaseUp) >= 40 && acceptedIn("nats", phaseUp) >= 10
	})

	// Redis dies: readiness says so, and JetStream still takes reports.
	d.redis.Kill(t)
	l.phase.Store(phaseRedisDown)
	waitReady(t, a, 10*time.Second, http.StatusServiceUnavailable, false, true)
	alertingtest.Eventually(t, 20*time.Second, "reports accepted while redis is down", func() bool {
		return acceptedIn("http", phaseRedisDown) >= 40 && acceptedIn("nats", phaseRedisDown) >= 10
	})
	d.redis.Restart(t)
	l.phase.Store(phaseRedisBack)
	waitReady(t, a, 20*time.Second, http.StatusOK, true, true)
	alertingtest.Eventually(t, 20*time.Second, "reports accepted after redis is back", func() bool {
		return acceptedIn("http", phaseRedisBack) >= 20 && acceptedIn("nats", phaseRedisBack) >= 5
	})

	// NATS stops: readiness says so, and reports are refused with 503.
	// While it is stopping, a report may be stored or refused (truceline
	// answers 503 at once when its connection drops).
	l.phase.Store(phaseNATSStopping)
	d.nats.Shutdown()
	l.phase.Store(phaseNATSDown)
	waitReady(t, a, 10*time.Second, http.StatusServiceUnavailable, true, false)
	// A report posted while the connection is down is answered 503 at
	// once; one that was on its way as NATS stopped waits for JetStream's
	// 5 s timeout. Those sent and answered while it was down are checked
	// below.
	whileDown := func(o outcome) bool {
		return o.via == "http" && o.sent == phaseNATSDown && o.answered == phaseNATSDown
	}
	alertingtest.Eventually(t, 30*time.Second, "answers to reports sent while nats is down", func() bool {
		return l.count(whileDown) >= 4
	})
	l.phase.Store(phaseNATSRestarted)
	d.nats.Restart(t)
	waitReady(t, a, 30*time.Second, http.StatusOK, true, true)
	l.phase.Store(phaseNATSReady)
	alertingtest.Eventually(t, 30*time.Second, "reports accepted again after nats is back", func() bool {
		return acceptedIn("http", phaseNATSReady) >= 40 && acceptedIn("nats", phaseNATSReady) >= 10
	})
	l.halt()
	loadEnd := time.Now()

	// Every answer but a 202 (or a PubAck) came from the NATS outage, and
	// was a 503 with the JSON error body; no report sent and answered
	// while NATS was down was accepted.
	overlapsNATSOutage := func(o outcome) bool { return o.sent <= phaseNATSRestarted && o.answered >= phaseNATSStopping }
	statuses := map[string]int{}
	for _, o := range l.outcomes {
		key := fmt.Sprintf("%s %d", o.via, o.status)
		if o.via == "nats" {
			key = "nats pub-ack"
			if o.err != "" {
				key = "nats error"
			}
		}
		statuses[key]++
		accepted := o.err == "" && (o.via == "nats" || o.status == http.StatusAccepted)
		switch {
		case o.via == "http" && o.err != "":
			t.Errorf("report %s (sent %s, answered %s): %d: %s", o.id, phaseNames[o.sent], phaseNames[o.answered], o.status, o.err)
		case o.via == "http" && !accepted && o.status != http.StatusServiceUnavailable:
			t.Errorf("report %s (sent %s, answered %s): status %d, want 202 or 503", o.id, phaseNames[o.sent], phaseNames[o.answered], o.status)
		case !accepted && !overlapsNATSOutage(o):
			t.Errorf("report %s over %s was refused (sent %s, answered %s), away from the NATS outage: %d %s",
				o.id, o.via, phaseNames[o.sent], phaseNames[o.answered], o.status, o.err)
		case accepted && o.sent == phaseNATSDown && o.answered == phaseNATSDown:
			t.Errorf("report %s over %s was accepted while NATS was down", o.id, o.via)
		}
	}

	// Nothing accepted is lost, and nothing is counted twice.
	sent := map[string]bool{}
	for _, o := range l.outcomes {
		sent[o.id] = true
	}
	// Reports refused but stored anyway may still be in processing: poll
	// until every accepted one is in an alert and every alert's count
	// agrees with its list of reports.
	seen := map[string]int{}
	var missing, miscounted []string
	deadline := time.Now().Add(60 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for {
		clear(seen)
		miscounted = miscounted[:0]
		for _, zone := range loadZones {
			for _, al := range alerts(t, a, zone) {
				ids := reportIDs(t, a, al.ID)
				for _, id := range ids {
					seen[sentID(id)]++ // each reporter's ids are unique
				}
				if al.ReportCount != len(ids) {
					miscounted = append(miscounted, fmt.Sprintf("%s counts %d reports and lists %d", al.ID, al.ReportCount, len(ids)))
				}
			}
		}
		missing = missing[:0]
		for id := range l.accepted {
			if seen[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 && len(miscounted) == 0 || time.Now().After(deadline) {
			break
		}
		<-poll.C
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d accepted reports are in no alert after 60 s: %s", len(missing), strings.Join(missing[:min(len(missing), 20)], " "))
	}
	for _, m := range miscounted {
		t.Errorf("alert %s", m)
	}
	storedAnyway := 0 // refused, yet stored: JetStream got them after the timeout
	for id, n := range seen {
		if l.accepted[id] == "" {
			storedAnyway++
		}
		switch {
		case !sent[id]:
			t.Errorf("alerts hold report %s, which no reporter sent", id)
		case n != 1:
			t.Errorf("report %s is in %d alerts, want 1", id, n)
		}
	}
	keys := make([]string, 0, len(statuses))
	for k := range statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%s: %d", k, statuses[k]))
	}
	t.Logf("%d reports sent, %d accepted, %d in alerts (refused but stored anyway: %d); %s; load %s, whole test %s",
		len(l.outcomes), len(l.accepted), len(seen), storedAnyway, strings.Join(summary, ", "),
		loadEnd.Sub(begin).Round(100*time.Millisecond), time.Since(begin).Round(100*time.Millisecond))
}
