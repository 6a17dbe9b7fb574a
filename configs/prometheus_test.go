package configs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promtool finds Prometheus's promtool (Debian: apt-get install
// prometheus); without it the test is skipped, except in CI, where that is
// a failure.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("promtool is needed (apt-get install prometheus): %v", err)
		}
		t.Skip("no promtool: install prometheus to check the alerting rules (with CI=true this is a failure)")
	}
	return path
}

// TestPrometheusRules: the shipped alerting rules are valid, and each alert
// fires on the trouble it names, and none on a healthy server
// (configs/prometheus/alerts_test.yml).
func TestPrometheusRules(t *testing.T) {
	t.Parallel()
	tool := promtool(t)
	dir := filepath.Join("prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(tool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
