package app_test

import (
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestTheDemoSourcesAreHeard: with --demo, even without a report feed,
// the demo's monitored sources are watched and beat: OP Sierra-3 is heard.
func TestTheDemoSourcesAreHeard(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	cfg := d.config(t)
	cfg.Demo, cfg.DemoRate = true, 0
	a := start(t, cfg)
	viewer := userToken(t, a, alerting.User{Name: "viewer", Role: alerting.RoleViewer})
	alertingtest.Eventually(t, 10*time.Second, "OP Sierra-3 heard", func() bool {
		return sourceState(t, a, viewer, "op-sierra-3").State == alerting.SourceHeard
	})
	for _, id := range []string{"op-latakia-north", "party-b-system"} {
		if s := sourceState(t, a, viewer, id); s.Kind == "" || len(s.Zones) == 0 {
			t.Errorf("%s: %+v", id, s)
		}
	}
}
