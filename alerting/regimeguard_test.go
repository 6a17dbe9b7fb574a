package alerting_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestAConditionOverAMissingRegimeCannotMatch: outside every regime,
// `regime` is nil. A condition that reads one of its fields fails, so
// `regime.kind != "regime_of_silence"` cannot match (and page) a report
// that no truce covered; the failure names the field read. Guarded
// conditions say what they mean outside a regime, and do it.
func TestAConditionOverAMissingRegimeCannotMatch(t *testing.T) {
	t.Parallel()
	silence := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	end := silence.Add(72 * time.Hour)
	shelling := []alerting.Category{alerting.CategoryShelling}
	rule := func(id, cond string) alerting.Rule {
		return alerting.Rule{ID: id, Categories: shelling, Condition: cond}
	}
	cat, err := alerting.NewCatalog(1, alerting.Config{
		Zones:   []alerting.Zone{{ID: "latakia", Name: "Latakia"}},
		Regimes: []alerting.Regime{{ID: "silence", Zones: []string{"latakia"}, Kind: alerting.RegimeOfSilence, StartsAt: silence, EndsAt: &end}},
		Rules: []alerting.Rule{
			rule("not-silence", `regime.kind != "regime_of_silence"`),
			rule("hours", `regime.hours_left < 100`),
			rule("guarded", `regime != nil && regime.kind != "cessation_of_hostilities"`),
			rule("outside", `regime == nil`),
			rule("or-guarded", `regime == nil || regime.hours_left < 100`),
		},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	judge := func(at time.Time) (matched []string, failed map[string]error) {
		r := &alerting.Report{ID: "r", Zone: "latakia", Category: alerting.CategoryShelling, ObservedAt: at, ReportedBy: "x"}
		cl, env := cat.Classify(r)
		rules, fails := cat.Match(r, cl, env)
		for _, m := range rules {
			matched = append(matched, m.ID)
		}
		failed = map[string]error{}
		for _, f := range fails {
			failed[f.Rule] = f.Err
		}
		return matched, failed
	}

	matched, failed := judge(silence.Add(-72 * time.Hour)) // three days before any regime
	if got := strings.Join(matched, ","); got != "or-guarded,outside" {
		t.Errorf("outside any regime matched %s, want or-guarded,outside", got)
	}
	for rule, field := range map[string]string{"not-silence": "regime.kind", "hours": "regime.hours_left"} {
		err := failed[rule]
		if !errors.Is(err, alerting.ErrNoRegime) || !strings.Contains(err.Error(), field+" without checking regime != nil") {
			t.Errorf("rule %s failed with %v, want ErrNoRegime naming %s", rule, err, field)
		}
	}
	if len(failed) != 2 {
		t.Errorf("failed %v, want not-silence and hours only", failed)
	}

	matched, failed = judge(silence.Add(time.Hour)) // under the regime of silence
	if got := strings.Join(matched, ","); got != "guarded,hours,or-guarded" || len(failed) != 0 {
		t.Errorf("under the regime matched %s (failed %v), want guarded,hours,or-guarded", got, failed)
	}
}

// TestUnguardedRegimeReadsAreWarnedOf: applying a rule whose condition
// reads regime.<field> with nothing guarding against a nil regime gives a
// warning naming the field and pointing at it; guarded conditions give
// none.
func TestUnguardedRegimeReadsAreWarnedOf(t *testing.T) {
	t.Parallel()
	warned := map[string][]string{ // condition → fields warned of
		`regime.kind != "regime_of_silence" && regime.id != "aleppo-ceasefire"`: {"kind", "id"},
		`regime.hours_left < 6`:                                   {"hours_left"},
		`report.killed > 0 && regime.kind == "x"`:                 {"kind"},
		`regime.kind == "x" && regime != nil`:                     {"kind"},
		`(regime != nil || report.count > 2) && regime.id == "a"`: {"id"},
		`regime == nil ? regime.id == "a" : true`:                 {"id"},
		`regime["kind"] == "x"`:                                   {"kind"},
		`outside_regime || regime.kind == "x"`:                    {"kind"},

		`regime != nil && regime.kind != "regime_of_silence" && regime.id != "aleppo-ceasefire"`: nil,
		`regime == nil || regime.hours_left < 6`:                                                 nil,
		`not (regime == nil) and regime.kind == "x"`:                                             nil,
		`regime != nil ? regime.kind == "x" : report.killed > 0`:                                 nil,
		`regime == nil ? false : regime.kind == "x"`:                                             nil,
		`(regime?.kind ?? "") == "x"`:                                                            nil,
		`report.killed > 0 && regime != nil && regime.hours_left < 6`:                            nil,
		`outside_regime`:   nil,
		`report.count > 1`: nil,
	}
	for cond, fields := range warned {
		cfg := alerting.Config{Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
			Rules: []alerting.Rule{{ID: "ok"}, {ID: "r", Condition: cond}}}
		if ps := cfg.Validate(); len(ps) > 0 {
			t.Fatalf("%s: %v", cond, ps)
		}
		ws := cfg.Warnings()
		if len(ws) != len(fields) {
			t.Errorf("%s: warnings %v, want one for each of %v", cond, ws, fields)
			continue
		}
		for i, w := range ws {
			if w.Path != "$.rules[1].condition" || !strings.Contains(w.Message, "reads regime."+fields[i]+",") ||
				!strings.Contains(w.Message, "regime != nil") {
				t.Errorf("%s: warning %+v, want regime.%s at $.rules[1].condition", cond, w, fields[i])
			}
		}
	}
}
