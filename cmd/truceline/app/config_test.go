package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/alertingtest"
)

func do(t *testing.T, method, url, contentType string, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, decode(t, resp.Body)
}

// TestConfigurationAPI manages rules and policies over HTTP and checks that
// every replica uses a change without a restart.
func TestConfigurationAPI(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	b := start(t, d.config(t)) // a second replica on the same NATS and Redis
	base := "http://" + a.HTTPAddr() + "/api/v1"

	status, body := do(t, "PUT", base+"/rules/aleppo-pairs", "application/json",
		`{"zones":["aleppo"],"threshold":2,"policy":"joint","condition":"report.count >= 1 &&"}`)
	fields := fmt.Sprint(body["error"].(map[string]any)["fields"])
	if status != 400 || !strings.Contains(fields, "field:policy") || !strings.Contains(fields, "field:condition") {
		t.Fatalf("a rule with an unknown policy and a broken condition: %d %v", status, body)
	}
	if status, body := do(t, "PUT", base+"/policies/joint", "application/json",
		`{"steps":[{"after":"0s","notify":["board"]}],"require_ack_from":["party-a","party-b"]}`); status != 200 || body["id"] != "joint" {
		t.Fatalf("PUT policy: %d %v", status, body)
	}
	req, _ := http.NewRequest("PUT", base+"/rules/aleppo-pairs", strings.NewReader(
		`{"zones":["aleppo"],"threshold":2,"window":"15m","policy":"joint","condition":"report.category != \"other\""}`))
	resp, err := adminClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT rule: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	version := resp.Header.Get("Truceline-Config-Version")
	if version == "" {
		t.Fatal("no Truceline-Config-Version header")
	}
	// The replica that took the change uses it at once; the other within
	// its polling interval, without a restart.
	if _, body := get(t, a, "/readyz"); fmt.Sprint(body["config_version"]) != version {
		t.Errorf("replica a is at configuration %v, want %s", body["config_version"], version)
	}
	alertingtest.Eventually(t, 10*time.Second, "replica b to load configuration "+version, func() bool {
		_, body := get(t, b, "/readyz")
		return fmt.Sprint(body["config_version"]) == version
	})
	if status, body := do(t, "GET", base+"/rules/aleppo-pairs", "", ""); status != 200 || body["window"] != "15m0s" {
		t.Errorf("GET rule: %d %v", status, body)
	}
	if status, body := do(t, "GET", base+"/rules", "", ""); status != 200 || len(body["rules"].([]any)) != 1 {
		t.Errorf("GET rules: %d %v", status, body)
	}

	// The rule is in force on both replicas: one report opens nothing,
	// the second (sent to the other replica) opens the alert.
	post(t, a, "/api/v1/reports", reportJSON("p1", "aleppo", "shelling"))
	post(t, b, "/api/v1/reports", reportJSON("p2", "aleppo", "shelling"))
	alertingtest.Eventually(t, 10*time.Second, "the alert at the second report", func() bool {
		as := alerts(t, a, "aleppo")
		return len(as) == 1 && as[0].ReportCount == 2 && as[0].Rule == "aleppo-pairs" && as[0].Policy == "joint"
	})

	if status, body := do(t, "DELETE", base+"/policies/joint", "", ""); status != 409 {
		t.Errorf("deleting a policy a rule uses: %d %v, want 409", status, body)
	}
	if status, _ := do(t, "DELETE", base+"/rules/aleppo-pairs", "", ""); status != 204 {
		t.Errorf("DELETE rule: %d", status)
	}
	if status, _ := do(t, "DELETE", base+"/rules/aleppo-pairs", "", ""); status != 404 {
		t.Errorf("DELETE a deleted rule: %d, want 404", status)
	}

	// Validation reads YAML and points at lines; nothing is written.
	yaml := "rules:\n  - id: r1\n    policy: nowhere\n    condition: report.colour == 1\n"
	status, body = do(t, "POST", base+"/rules/validate?file=rules.yaml", "application/yaml", yaml)
	problems := fmt.Sprint(body["problems"])
	if status != 200 || body["valid"] != false || !strings.Contains(problems, "line:3") || !strings.Contains(problems, "line:4") ||
		!strings.Contains(problems, "file:rules.yaml") {
		t.Errorf("validate: %d %v", status, body)
	}
	// A condition that reads the regime without guarding against none is
	// valid, with a warning pointing at the read.
	yaml = "rules:\n  - id: r1\n    condition: regime.kind != \"regime_of_silence\"\n"
	status, body = do(t, "POST", base+"/rules/validate?file=rules.yaml", "application/yaml", yaml)
	if warnings := fmt.Sprint(body["warnings"]); status != 200 || body["valid"] != true || !strings.Contains(warnings, "column:16") ||
		!strings.Contains(warnings, "line:3") || !strings.Contains(warnings, "reads regime.kind") {
		t.Errorf("validate an unguarded regime read: %d %v", status, body)
	}
	status, body = do(t, "POST", base+"/config?dry_run=true", "application/json", `{"rules":[{"id":"ok-rule"},{"id":"x","condition":"regime.hours_left < 6"}]}`)
	if warnings := fmt.Sprint(body["warnings"]); status != 200 || body["dry_run"] != true || !strings.Contains(warnings, "path:$.rules[1].condition") {
		t.Errorf("dry run: %d %v", status, body)
	}
	if _, body := do(t, "GET", base+"/rules", "", ""); len(body["rules"].([]any)) != 0 {
		t.Errorf("a dry run stored rules: %v", body)
	}
}
