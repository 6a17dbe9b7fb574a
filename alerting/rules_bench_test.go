package alerting_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// BenchmarkMatch measures classifying a report and matching it against n
// rules spread over 50 zones: each rule covers a few zones (some by glob)
// and categories, with a condition, as an operator would write them.
func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			var cfg alerting.Config
			for z := range 50 {
				cfg.Zones = append(cfg.Zones, alerting.Zone{ID: fmt.Sprintf("zone-%02d", z), Name: fmt.Sprintf("Zone %d", z)})
			}
			cfg.Parties = []alerting.Party{{ID: "gov", Name: "Gov", Status: alerting.PartyAdherent}, {ID: "isil", Name: "ISIL", Status: alerting.PartyExcluded}}
			cfg.Regimes = []alerting.Regime{{ID: "coh", Zones: []string{"*"}, Kind: alerting.CessationOfHostilities, StartsAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
			conditions := []string{"report.killed > 0", `attributed_to.id == "gov"`, `regime != nil && regime.kind == "cessation_of_hostilities" && report.count >= 3`, ""}
			for i := range n {
				r := alerting.Rule{ID: fmt.Sprintf("rule-%04d", i), Condition: conditions[i%len(conditions)],
					Categories: []alerting.Category{alerting.Categories[i%len(alerting.Categories)], alerting.Categories[(i+3)%len(alerting.Categories)]}}
				if i%10 == 0 {
					r.Zones = []string{fmt.Sprintf("zone-%d*", i%5)}
				} else {
					r.Zones = []string{fmt.Sprintf("zone-%02d", i%50), fmt.Sprintf("zone-%02d", (i+17)%50)}
				}
				cfg.Rules = append(cfg.Rules, r)
			}
			cat, err := alerting.NewCatalog(1, cfg, 0)
			if err != nil {
				b.Fatal(err)
			}
			reports := make([]alerting.Report, 64)
			for i := range reports {
				reports[i] = alerting.Report{ID: fmt.Sprint(i), Zone: fmt.Sprintf("zone-%02d", i%50), Category: alerting.Categories[i%len(alerting.Categories)],
					ObservedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), ReportedBy: "x", AttributedTo: "gov", Count: i % 5,
					Casualties: &alerting.Casualties{Killed: i % 2}}
			}
			matched := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				r := &reports[i%len(reports)]
				cl, env := cat.Classify(r)
				rules, failed := cat.Match(r, cl, env)
				if len(failed) > 0 {
					b.Fatal(failed)
				}
				matched += len(rules)
			}
			b.ReportMetric(float64(matched)/float64(b.N), "matches/report")
		})
	}
}
