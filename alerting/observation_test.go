package alerting_test

import (
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestConditionsSeeTheObservation: the details monitors record of observed
// fire are in report.*, with -1 (or 0 impacts) where the report gives none.
func TestConditionsSeeTheObservation(t *testing.T) {
	t.Parallel()
	cond := func(id, c string) alerting.Rule { return alerting.Rule{ID: id, Condition: c} }
	cat, err := alerting.NewCatalog(1, alerting.Config{
		Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}},
		Rules: []alerting.Rule{
			cond("barrage", `report.impacts >= 20 && report.weapon_calibre == "122mm" && report.duration_minutes == 7`),
			cond("north-east", `report.has_observer && report.observer_lat == 36.25 && report.direction_deg >= 0 && report.direction_deg < 90`),
			cond("close", `report.distance_max_m >= 0 && report.distance_max_m <= 5000 && report.distance_min_m == 3000`),
			cond("no-bearing", `report.direction_deg == -1 && report.distance_min_m == -1 && report.impacts == 0 && !report.has_observer`),
		},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)
	until := at.Add(7 * time.Minute)
	bearing, impacts := 45.0, 24
	match := func(r *alerting.Report) string {
		r.ID, r.Zone, r.Category, r.ObservedAt, r.ReportedBy = "r", "aleppo", alerting.CategoryShelling, at, "OP Sierra-3"
		cl, env := cat.Classify(r)
		rules, failed := cat.Match(r, cl, env)
		if len(failed) > 0 {
			t.Fatalf("failed: %v", failed)
		}
		var ids []string
		for _, m := range rules {
			ids = append(ids, m.ID)
		}
		return strings.Join(ids, ",")
	}
	full := &alerting.Report{ObservedUntil: &until, Observer: &alerting.Position{Lat: 36.25, Lon: 37.1}, DirectionDeg: &bearing,
		DistanceM: &alerting.DistanceRange{Min: 3000, Max: 5000}, WeaponCalibre: "122mm", Impacts: &impacts}
	if got := match(full); got != "barrage,close,north-east" {
		t.Errorf("a report with every detail matched %q", got)
	}
	if got := match(&alerting.Report{}); got != "no-bearing" {
		t.Errorf("a report without details matched %q", got)
	}
}
