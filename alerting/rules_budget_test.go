package alerting_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestAnExpensiveConditionFailsItsRuleAlone: a condition that loops over a
// range inside a loop over a range (225 million steps) stops at the step
// budget; the report is matched against the other rules, and the rule is
// named as failed. A condition too big to be sensible does not compile.
func TestAnExpensiveConditionFailsItsRuleAlone(t *testing.T) {
	t.Parallel()
	cfg := alerting.Config{
		Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
		Rules: []alerting.Rule{
			{ID: "bomb", Zones: []string{"aleppo"}, Categories: []alerting.Category{alerting.CategoryShelling},
				Condition: "let a = 1..15000; all(a, {all(a, {# > 0})})"},
			{ID: "plain", Zones: []string{"aleppo"}, Categories: []alerting.Category{alerting.CategoryShelling}, Condition: "report.count >= 1"},
			{ID: "small-loop", Zones: []string{"aleppo"}, Categories: []alerting.Category{alerting.CategoryShelling},
				Condition: "all(1..100, {all(1..100, {# > 0})})"},
		},
	}
	cat, err := alerting.NewCatalog(1, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := &alerting.Report{ID: "r-1", Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: time.Now(), ReportedBy: "x", Count: 2}
	cl, env := cat.Classify(r)
	rules, failed := cat.Match(r, cl, env)
	var ids []string
	for _, rule := range rules {
		ids = append(ids, rule.ID)
	}
	if strings.Join(ids, ",") != "plain,small-loop" {
		t.Errorf("matched %v, want plain and small-loop", ids)
	}
	if len(failed) != 1 || failed[0].Rule != "bomb" || !errors.Is(failed[0].Err, alerting.ErrConditionBudget) {
		t.Errorf("failed %v, want bomb over its step budget", failed)
	}

	huge := strings.Repeat("report.count > 0 && ", alerting.MaxConditionNodes) + "true"
	cfg.Rules = []alerting.Rule{{ID: "huge", Zones: []string{"aleppo"}, Categories: []alerting.Category{alerting.CategoryShelling}, Condition: huge}}
	if _, err := alerting.NewCatalog(2, cfg, 0); err == nil {
		t.Errorf("a condition of %d nodes compiled", 3*alerting.MaxConditionNodes)
	}
}
