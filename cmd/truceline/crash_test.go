package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// child is truceline running as a real process.
type child struct {
	cmd  *exec.Cmd
	base string
	logs *bytes.Buffer
}

// startChild runs the truceline binary against the test's NATS and Redis on
// a free port and waits until it is ready.
func startChild(t *testing.T, bin string, env []string) *child {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &child{base: "http://" + addr, logs: &bytes.Buffer{}}
	c.cmd = exec.Command(bin, "serve", "--http-addr", addr, "--data-dir", t.TempDir(), "--log-level", "warn")
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("truceline's output:\n%s", c.logs)
		}
	})
	alertingtest.Eventually(t, 60*time.Second, "truceline ready", func() bool {
		resp, err := http.Get(c.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return c
}

// waitExit waits for the process, stopped with SIGTERM, to exit 0.
func (c *child) waitExit(t *testing.T) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("truceline did not stop within 40 s of SIGTERM")
	}
}

// TestKillNineLosesNothing kills a real truceline process with SIGKILL
// while reports stream in over HTTP, starts another, and checks that every
// report that got a 202 is processed, in exactly one alert; then stops the
// second with SIGTERM and checks it drains and exits cleanly.
func TestKillNineLosesNothing(t *testing.T) {
	t.Parallel()
	bin := build(t)
	n, r := natstest.Start(t), redistest.Start(t)
	env := demoEnv(n, r, "TRUCELINE_RATE_REPORTS_PER_MINUTE=0")
	first := startChild(t, bin, env)

	// Sign in as the demo's duty officer; reports go with the session.
	client, csrf := signIn(t, first.base, "duty", "demo-duty-password")
	zones := []string{"idlib", "daraa", "homs-north", "latakia", "damascus-ghouta"}
	var accepted []string
	post := func(base string, i int) bool {
		body := fmt.Sprintf(`{"id":"crash-%d","zone":%q,"category":"shelling","observed_at":%q,"reported_by":"OP %d"}`,
			i, zones[i%len(zones)], time.Now().UTC().Add(-time.Minute).Format(time.RFC3339), i)
		req, _ := http.NewRequest("POST", base+"/api/v1/reports", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var answer struct{ ID string }
		if resp.StatusCode == http.StatusAccepted && json.NewDecoder(resp.Body).Decode(&answer) == nil {
			// The id truceline keeps the report under: crash-<i>~<tag>.
			if !strings.HasPrefix(answer.ID, fmt.Sprintf("crash-%d~", i)) {
				t.Errorf("report crash-%d was accepted as %q", i, answer.ID)
			}
			accepted = append(accepted, answer.ID)
			return true
		}
		return false
	}
	// Stream reports; kill -9 in the middle of the stream.
	i := 0
	for ; i < 300; i++ {
		post(first.base, i)
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		_ = first.cmd.Process.Signal(syscall.SIGKILL)
		_ = first.cmd.Wait()
	}()
	for ; i < 400; i++ { // some of these land before the kill, some fail
		post(first.base, i)
	}
	<-killed

	second := startChild(t, bin, env)
	// The session lives in Redis: the same cookie works on the new process.
	for ; i < 500; i++ {
		post(second.base, i)
	}
	if len(accepted) < 400 {
		t.Fatalf("only %d reports accepted", len(accepted))
	}
	get := func(path string, v any) int {
		resp, err := client.Get(second.base + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_ = json.NewDecoder(resp.Body).Decode(v)
		return resp.StatusCode
	}
	alertingtest.Eventually(t, 60*time.Second, "every accepted report processed", func() bool {
		for _, id := range accepted {
			var rep map[string]any
			if get("/api/v1/reports/"+id, &rep) != 200 {
				return false
			}
		}
		return true
	})
	// Exactly once: the alerts' complete report lists hold each id once.
	seen := map[string]int{}
	for _, zone := range zones {
		var list struct{ Alerts []struct{ ID string } }
		get("/api/v1/alerts?limit=5000&zone="+zone, &list)
		for _, a := range list.Alerts {
			var ids struct {
				ReportIDs []string `json:"report_ids"`
			}
			get("/api/v1/alerts/"+a.ID+"/reports?limit=10000", &ids)
			for _, id := range ids.ReportIDs {
				seen[id]++
			}
		}
	}
	for _, id := range accepted {
		if seen[id] != 1 {
			t.Errorf("report %s is in %d alerts, want 1", id, seen[id])
		}
	}

	// SIGTERM: the second process drains and exits 0.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	second.waitExit(t)
}

// build returns the truceline binary, built once for every test of the
// package that runs it; -short skips such tests.
func build(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// binary builds the truceline binary into a directory TestMain removes.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "truceline-bin-")
	if err != nil {
		return "", err
	}
	builtIn = dir
	bin := filepath.Join(dir, "truceline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build: %w\n%s", err, out)
	}
	return bin, nil
})

// builtIn is the directory binary built in, if it did.
var builtIn string

func TestMain(m *testing.M) {
	flag.Parse()
	// The tests wait on their truceline children: all of them at once.
	alertingtest.Parallel(8)
	code := m.Run()
	if builtIn != "" {
		_ = os.RemoveAll(builtIn)
	}
	os.Exit(code)
}

// demoEnv is the environment of a truceline child with the demo's
// configuration and users and no feed, on the test's NATS and Redis.
func demoEnv(n *natstest.Server, r *redistest.Server, extra ...string) []string {
	return append([]string{"TRUCELINE_NATS_URL=" + n.URL(), "TRUCELINE_REDIS_URL=" + r.URL(), "TRUCELINE_DEMO=true",
		"TRUCELINE_DEMO_RATE=0", "TRUCELINE_BOOTSTRAP_ADMIN="}, extra...)
}

// signIn signs in to a child as user: a client holding the session, and
// the session's CSRF token.
func signIn(t *testing.T, base, user, password string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 60 * time.Second} // a sign-in spends bcrypt at cost 12
	body := fmt.Sprintf(`{"user":%q,"password":%q}`, user, password)
	resp, err := client.Post(base+"/api/v1/session", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("sign in as %s: %v %v", user, err, resp)
	}
	defer resp.Body.Close()
	var session struct{ CSRF string }
	if err := json.NewDecoder(resp.Body).Decode(&session); err != nil {
		t.Fatal(err)
	}
	return client, session.CSRF
}

// TestSIGTERMDrains stops a real truceline process with SIGTERM while a
// backlog of reports is being worked through and a board follows every
// zone: the board gets a close frame saying why (1001, "server shutting
// down"), the process exits 0, and a new process then finds every report
// either done or still to do: each is counted once.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	bin := build(t)
	n, r := natstest.Start(t), redistest.Start(t)
	c := startChild(t, bin, demoEnv(n, r))

	client, _ := signIn(t, c.base, "viewer", "demo-viewer-password")
	d := websocket.Dialer{Subprotocols: []string{"truceline.v1"}, Jar: client.Jar}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(c.base, "http")+"/ws", http.Header{"Origin": {c.base}})
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	defer conn.Close()
	if err := conn.WriteJSON(map[string]any{"type": "subscribe", "zones": []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan *websocket.CloseError, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				ce, _ := err.(*websocket.CloseError)
				closed <- ce
				return
			}
		}
	}()

	nc := n.Connect(t)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	zones := []string{"aleppo", "idlib", "daraa", "homs-north", "latakia", "damascus-ghouta"}
	observed := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	for i := range 3000 {
		zone := zones[i%len(zones)]
		body := fmt.Sprintf(`{"id":"term-%d","zone":%q,"category":"shelling","observed_at":%q,"reported_by":"OP"}`, i, zone, observed)
		if _, err := js.PublishAsync("violations."+zone+".shelling", []byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("JetStream did not take the reports")
	}
	cons, err := js.Consumer(t.Context(), broker.StreamViolations, broker.EngineConsumer)
	if err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 30*time.Second, "truceline to be working through the backlog", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.AckFloor.Consumer > 0
	})

	// A load balancer checks readiness; on SIGTERM it is told to drain
	// (503) before the listener closes.
	if resp, err := http.Get(c.base + "/readyz"); err == nil {
		resp.Body.Close()
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 10*time.Second, "/readyz to answer 503 before the listener closes", func() bool {
		resp, err := http.Get(c.base + "/readyz")
		if err != nil {
			t.Fatalf("the listener closed before /readyz said the server was shutting down: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable && strings.Contains(string(body), "shutting down")
	})
	select {
	case ce := <-closed:
		if ce == nil || ce.Code != websocket.CloseGoingAway || !strings.Contains(ce.Text, "shutting down") {
			t.Errorf("the board's connection ended with %v, want close 1001 \"server shutting down…\"", ce)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("no close frame within 40 s of SIGTERM")
	}
	c.waitExit(t)
	info, err := cons.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// What the process took it finished; a message still on its way to it
	// when the pull subscription drained stays unacknowledged (none to a
	// few) and is redelivered after the ack wait. Nothing is lost: a new
	// process finishes the backlog, each report once.
	t.Logf("after the drain: %d reports waiting, %d delivered and unacknowledged", info.NumPending, info.NumAckPending)
	next := startChild(t, bin, demoEnv(n, r))
	client, _ = signIn(t, next.base, "viewer", "demo-viewer-password")
	alertingtest.Eventually(t, 90*time.Second, "the whole backlog processed after the restart", func() bool {
		info, err := cons.Info(t.Context())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	counted := 0
	for _, zone := range zones {
		var list struct {
			Alerts []struct {
				ReportCount int `json:"report_count"`
			}
		}
		resp, err := client.Get(next.base + "/api/v1/alerts?limit=5000&zone=" + zone)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		for _, a := range list.Alerts {
			counted += a.ReportCount
		}
	}
	if counted != 3000 {
		t.Errorf("the alerts count %d reports, want each of the 3,000 once", counted)
	}
	if info.NumPending == 0 {
		t.Logf("the whole backlog was done before the stop; the drain check is weaker this run")
	}
}
