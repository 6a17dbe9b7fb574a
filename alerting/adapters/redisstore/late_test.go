package redisstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// TestLateReports: a report that arrives more than 6 hours after it was
// observed is late. Under a rule that does not take late reports it joins
// the rule's active alert of its group without reopening it or starting
// its escalation over, and otherwise opens and counts towards nothing,
// which its classification says (late_held); a rule with late: include
// alerts on it like on any other, and conditions see report.late.
func TestLateReports(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	cfg := alerting.Config{
		Policies: []alerting.Policy{{ID: "page", Steps: []alerting.Step{{After: 0, Notify: []string{"board"}}, {After: alerting.Duration(time.Hour), Notify: []string{"board"}}}}},
		Rules: []alerting.Rule{
			{ID: "held", Categories: []alerting.Category{alerting.CategoryShelling}, Window: alerting.Duration(8 * time.Hour), Policy: "page"},
			{ID: "threshold", Categories: []alerting.Category{alerting.CategorySmallArms}, Threshold: 2, Policy: "page"},
			{ID: "takes-late", Categories: []alerting.Category{alerting.CategoryAirstrike}, Late: alerting.LateInclude, Policy: "page"},
			{ID: "only-late", Categories: []alerting.Category{alerting.CategoryExplosion}, Condition: "report.late", Late: alerting.LateInclude},
		},
	}
	if _, ps, err := f.store.ApplyConfig(ctx, cfg, false); err != nil || len(ps) > 0 {
		t.Fatal(err, ps)
	}
	f.eng = newEngine(t, f.store, f.pub)
	late := t0.Add(-7 * time.Hour) // received at t0
	events := func() []string {
		var out []string
		for _, c := range f.pub.all() {
			out = append(out, c.Alert.Rule+":"+string(c.Event)+":"+c.ReportID)
		}
		return out
	}
	classified := func(id string) alerting.Classification {
		t.Helper()
		r, err := f.store.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Classification
	}

	// Late, and no alert to join: stored, held, nothing opened.
	f.handle(t, rep("late-1", "aleppo", alerting.CategoryShelling, late))
	f.handle(t, rep("late-2", "aleppo", alerting.CategorySmallArms, late))
	f.handle(t, rep("late-3", "aleppo", alerting.CategorySmallArms, late.Add(time.Minute)))
	if got := events(); len(got) != 0 {
		t.Fatalf("late reports made changes %v, want none", got)
	}
	for id, rule := range map[string]string{"late-1": "held", "late-2": "threshold", "late-3": "threshold"} {
		if cl := classified(id); !cl.Late || !slices.Equal(cl.LateHeld, []string{rule}) || len(cl.Rules) != 0 {
			t.Errorf("%s classified %+v, want late, held by %s", id, cl, rule)
		}
	}

	// A report of now opens the alert; a late one joins it, paging nobody.
	f.handle(t, rep("now-1", "aleppo", alerting.CategoryShelling, t0.Add(-time.Minute)))
	opened := f.pub.all()[0].Alert
	f.handle(t, rep("late-4", "aleppo", alerting.CategoryShelling, late.Add(30*time.Minute)))
	got := events()
	if strings.Join(got, " ") != "held:opened:now-1 held:updated:late-4" {
		t.Fatalf("changes %v, want the alert opened by now-1 and updated by late-4", got)
	}
	joined := f.pub.all()[1].Alert
	if joined.ReportCount != 2 || joined.Late || joined.Escalation == nil || opened.Escalation == nil ||
		joined.Escalation.NextAt == nil || opened.Escalation.NextAt == nil || !joined.Escalation.NextAt.Equal(*opened.Escalation.NextAt) || joined.Escalation.Level != opened.Escalation.Level {
		t.Errorf("after the late report the alert is %+v (escalation %+v), want two reports and its escalation as it was (%+v)",
			joined, joined.Escalation, opened.Escalation)
	}
	if cl := classified("late-4"); !cl.Late || !slices.Equal(cl.Rules, []string{"held"}) || len(cl.LateHeld) != 0 {
		t.Errorf("late-4 classified %+v, want late, acted on by held", cl)
	}
	// Resolved, the alert is not reopened by a late report.
	if _, err := f.eng.Resolve(ctx, opened.ID, alerting.Actor{Name: "duty"}, ""); err != nil {
		t.Fatal(err)
	}
	f.handle(t, rep("late-5", "aleppo", alerting.CategoryShelling, late.Add(20*time.Minute)))
	if got := events(); len(got) != 3 || got[2] != "held:resolved:" {
		t.Errorf("changes %v: a late report reopened a resolved alert", got)
	}
	if cl := classified("late-5"); !slices.Equal(cl.LateHeld, []string{"held"}) {
		t.Errorf("late-5 classified %+v, want held", cl)
	}

	// A rule that takes late reports alerts on them, and says so.
	f.handle(t, rep("late-6", "aleppo", alerting.CategoryAirstrike, late))
	f.handle(t, rep("now-2", "latakia", alerting.CategoryExplosion, t0))
	f.handle(t, rep("late-7", "latakia", alerting.CategoryExplosion, late))
	got = events()
	if strings.Join(got[3:], " ") != "takes-late:opened:late-6 only-late:opened:late-7" {
		t.Fatalf("changes %v, want takes-late opened by late-6 and only-late by late-7 alone", got[3:])
	}
	if a := f.pub.all()[3].Alert; !a.Late || !strings.Contains(a.Timeline[0].Note, "a late report, observed 23 Nov 05:00 UTC") {
		t.Errorf("the alert of a late report: late %t, timeline %q", a.Late, a.Timeline[0].Note)
	}
	if cl := classified("now-2"); cl.Late || len(cl.Rules) != 0 {
		t.Errorf("now-2 classified %+v, want on time and matching nothing", cl)
	}
}

// TestALateRuleValueIsChecked: a rule's late is include, join or nothing.
func TestALateRuleValueIsChecked(t *testing.T) {
	t.Parallel()
	cfg := alerting.Config{Rules: []alerting.Rule{{ID: "a", Late: "always"}, {ID: "b", Late: alerting.LateJoin}, {ID: "c", Late: alerting.LateInclude}}}
	ps := cfg.Validate()
	if len(ps) != 1 || ps[0].Path != "$.rules[0].late" || !strings.Contains(ps[0].Message, "must be include") {
		t.Errorf("problems %v, want one for rules[0].late", ps)
	}
}
