package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/broker/natstest"
)

// TestKillNineBetweenABeatAndItsDeadline kills a real truceline process
// with SIGKILL right after an observation post's last heartbeat, before
// its deadline, and starts another: the silence is still noticed, one
// alert opens (not none, not two), and the post's next beat resolves it.
func TestKillNineBetweenABeatAndItsDeadline(t *testing.T) {
	t.Parallel()
	bin := build(t)
	n, r := natstest.Start(t), redistest.Start(t)
	env := demoEnv(n, r)
	first := startChild(t, bin, env)
	client, csrf := signIn(t, first.base, "admin", "demo-admin-password")
	do := func(base, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(data)
	}
	if status, body := do(first.base, "PUT", "/api/v1/monitors/op-crash", `{"name":"OP Crash","zones":["daraa"],"interval":"10s"}`); status != 200 {
		t.Fatalf("PUT monitor: %d %s", status, body)
	}
	if status, body := do(first.base, "POST", "/api/v1/monitors/op-crash/heartbeat", ""); status != 200 {
		t.Fatalf("heartbeat: %d %s", status, body)
	}
	_ = first.cmd.Process.Signal(syscall.SIGKILL)
	_ = first.cmd.Wait()

	second := startChild(t, bin, env)
	type alert struct {
		ID, Category, State string
	}
	silent := func() []alert {
		var list struct{ Alerts []alert }
		_, body := do(second.base, "GET", "/api/v1/alerts?limit=5000&zone=daraa", "")
		_ = json.Unmarshal([]byte(body), &list)
		var out []alert
		for _, a := range list.Alerts {
			if a.Category == "source_silent" {
				out = append(out, a)
			}
		}
		return out
	}
	alertingtest.Eventually(t, 60*time.Second, "the silent alert after the crash", func() bool { return len(silent()) > 0 })
	if status, body := do(second.base, "POST", "/api/v1/monitors/op-crash/heartbeat", ""); status != 200 {
		t.Fatalf("heartbeat: %d %s", status, body)
	}
	alertingtest.Eventually(t, 30*time.Second, "the silent alert resolved", func() bool {
		got := silent()
		return len(got) > 0 && got[0].State == "resolved"
	})
	if got := silent(); len(got) != 1 {
		t.Fatalf("silent alerts %+v, want one", got)
	}
}
