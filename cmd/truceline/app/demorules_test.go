package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/configs"
)

// TestTheDemoRulesPageNobodyForAReportOutsideAnyRegime: under the demo's
// rules, a report observed three days ago, before the cessation of
// hostilities began, even one with deaths, is shown on the board by the
// rule outside-regime (minor, board only) and opens nothing under the
// joint-acknowledgement policy; the same report observed now does.
func TestTheDemoRulesPageNobodyForAReportOutsideAnyRegime(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	demo, err := configs.Demo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.ApplyConfig(ctx, demo); err != nil {
		t.Fatal(err)
	}
	old := time.Now().UTC().Add(-72 * time.Hour).Format(time.RFC3339)
	key := postKey(t, a, []byte(`{"id":"three-days-old","zone":"daraa","category":"shelling","observed_at":"`+old+
		`","reported_by":"OP Daraa-2","casualties":{"killed":2,"injured":0}}`))
	r := storedReport(t, a, key)
	if cl := r.Classification; !cl.OutsideRegime || cl.Regime != "" || !slices.Equal(cl.Rules, []string{"outside-regime"}) || len(cl.Failed) != 0 ||
		!cl.Late || len(cl.LateHeld) != 0 {
		t.Errorf("classification %+v, want outside any regime and late, matched by outside-regime alone, no rule failed or held", cl)
	}
	al := firstAlert(t, a, "daraa")
	if all := alerts(t, a, "daraa"); len(all) != 1 || al.Rule != "outside-regime" || al.Policy != "board-only" || al.Severity != alerting.SeverityMinor {
		t.Errorf("alerts %+v, want one minor board-only alert of outside-regime", all)
	}

	postKey(t, a, []byte(`{"id":"now","zone":"daraa","category":"shelling","observed_at":"`+time.Now().UTC().Format(time.RFC3339)+
		`","reported_by":"OP Daraa-2"}`))
	alertingtest.Eventually(t, 10*time.Second, "the violations rule's alert for the report of now", func() bool {
		for _, al := range alerts(t, a, "daraa") {
			if al.Rule == "violations" && al.Policy == "joint-ack" && al.Regime == "coh-all" {
				return true
			}
		}
		return false
	})
}
