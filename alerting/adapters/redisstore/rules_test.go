package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/adapters/redisstore/redistest"
	"github.com/truceline/truceline/configs"
)

// baseConfig is the zones and parties every rule test shares.
const baseConfig = `
zones:
  - {id: aleppo, name: Aleppo, tags: [north]}
  - {id: latakia, name: Latakia, tags: [coast]}
  - {id: daraa, name: Daraa, tags: [south]}
parties:
  - {id: party-a, name: Co-chair A, status: adherent}
  - {id: gov, name: Government forces, status: adherent}
  - {id: isil, name: ISIL, status: excluded}
regimes:
  - id: silence-latakia
    name: 72-hour regime of silence
    zones: [latakia]
    kind: regime_of_silence
    starts_at: 2026-11-23T00:00:00Z
    ends_at: 2026-11-26T00:00:00Z
policies:
  - id: joint
    steps: [{after: 0s, notify: [board]}]
    require_ack_from: [party-a, gov]
`

// step is one report in a rule test and what it must do.
type step struct {
	id       string
	zone     string
	category alerting.Category
	at       time.Duration // observed at t0 + at
	mod      func(*alerting.Report)
	// want lists the changes, "rule:event" in order; empty for none.
	want []string
}

func TestRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules string
		steps []step
		check func(t *testing.T, f *fixture)
	}{
		{
			name:  "no rules: the default groups by zone and category",
			rules: ``,
			steps: []step{
				{id: "a", zone: "aleppo", category: "shelling", want: []string{"default:opened"}},
				{id: "b", zone: "aleppo", category: "shelling", at: time.Minute, want: []string{"default:updated"}},
				{id: "c", zone: "aleppo", category: "airstrike", want: []string{"default:opened"}},
			},
		},
		{
			name: "threshold opens at the Nth report within the window",
			rules: `
rules:
  - {id: aleppo-shelling, zones: [aleppo], categories: [shelling], threshold: 3, window: 10m, severity: extreme}`,
			steps: []step{
				{id: "a", zone: "aleppo", category: "shelling"},
				{id: "b", zone: "aleppo", category: "shelling", at: 4 * time.Minute},
				{id: "c", zone: "aleppo", category: "shelling", at: 8 * time.Minute, want: []string{"aleppo-shelling:opened"}},
				{id: "d", zone: "aleppo", category: "shelling", at: 9 * time.Minute, want: []string{"aleppo-shelling:updated"}},
				{id: "e", zone: "latakia", category: "shelling"},
			},
			check: func(t *testing.T, f *fixture) {
				a := f.onlyAlert(t, "aleppo")
				if a.ReportCount != 4 || a.Severity != alerting.SeverityExtreme || a.FirstSeen != t0 {
					t.Errorf("alert = count %d, severity %s, first seen %s", a.ReportCount, a.Severity, a.FirstSeen)
				}
				ids, _, _ := f.store.AlertReports(context.Background(), a.ID, 0, 10)
				if fmt.Sprint(ids) != "[a b c d]" {
					t.Errorf("report ids %v, want [a b c d]", ids)
				}
			},
		},
		{
			name: "reports outside the window do not count towards the threshold",
			rules: `
rules:
  - {id: pair, threshold: 2, window: 5m}`,
			steps: []step{
				{id: "a", zone: "aleppo", category: "shelling"},
				{id: "b", zone: "aleppo", category: "shelling", at: 6 * time.Minute},
				{id: "c", zone: "aleppo", category: "shelling", at: 8 * time.Minute, want: []string{"pair:opened"}},
			},
			check: func(t *testing.T, f *fixture) {
				if a := f.onlyAlert(t, "aleppo"); a.ReportCount != 2 || a.FirstSeen != t0.Add(6*time.Minute) {
					t.Errorf("alert = count %d from %s; want b and c only", a.ReportCount, a.FirstSeen)
				}
			},
		},
		{
			name: "conditions see the report, its zone and the parties",
			rules: `
rules:
  - id: casualties
    condition: report.killed > 0 || report.injured >= 5
  - id: north-by-gov
    condition: '"north" in zone.tags && attributed_to.id == "gov"'
    group_by: [zone, attributed_to]`,
			steps: []step{
				{id: "a", zone: "aleppo", category: "shelling"},
				{id: "b", zone: "aleppo", category: "shelling", mod: func(r *alerting.Report) { r.Casualties = &alerting.Casualties{Injured: 5} },
					want: []string{"casualties:opened"}},
				{id: "c", zone: "aleppo", category: "small_arms", mod: func(r *alerting.Report) { r.AttributedTo = "gov" },
					want: []string{"north-by-gov:opened"}},
				{id: "d", zone: "aleppo", category: "airstrike", mod: func(r *alerting.Report) {
					r.AttributedTo = "gov"
					r.Casualties = &alerting.Casualties{Killed: 2}
				}, want: []string{"casualties:opened", "north-by-gov:updated"}},
				{id: "e", zone: "daraa", category: "shelling", mod: func(r *alerting.Report) { r.AttributedTo = "gov" }},
			},
		},
		{
			name: "acts against an excluded party are not applicable unless a rule opts in",
			rules: `
rules:
  - {id: all}
  - {id: excluded-too, condition: not_applicable, include_not_applicable: true}`,
			steps: []step{
				{id: "a", zone: "aleppo", category: "airstrike", mod: func(r *alerting.Report) { r.Target = "isil" },
					want: []string{"excluded-too:opened"}},
				{id: "b", zone: "aleppo", category: "airstrike", at: time.Minute, want: []string{"all:opened"}},
			},
			check: func(t *testing.T, f *fixture) {
				for _, a := range f.alerts(t, "aleppo") {
					want := alerting.Unverified
					if a.Rule == "excluded-too" {
						want = alerting.NotApplicable
					}
					if a.Verification != want {
						t.Errorf("alert of %s: verification %s, want %s", a.Rule, a.Verification, want)
					}
				}
			},
		},
		{
			name: "the regime in force is known to conditions and alerts",
			rules: `
rules:
  - {id: silence-broken, condition: 'regime != nil && regime.kind == "regime_of_silence"', policy: joint}
  - {id: outside, condition: outside_regime}`,
			steps: []step{
				{id: "a", zone: "latakia", category: "shelling", want: []string{"silence-broken:opened"}},
				{id: "b", zone: "latakia", category: "shelling", at: 80 * time.Hour, want: []string{"outside:opened"}},
				{id: "c", zone: "aleppo", category: "shelling", want: []string{"outside:opened"}},
			},
			check: func(t *testing.T, f *fixture) {
				for _, a := range f.alerts(t, "latakia") {
					if a.Rule == "silence-broken" && (a.Regime != "silence-latakia" || a.Policy != "joint") {
						t.Errorf("alert regime %q policy %q", a.Regime, a.Policy)
					}
				}
			},
		},
		{
			name: "a report that matches no rule is stored but opens nothing",
			rules: `
rules:
  - {id: airstrikes-only, categories: [airstrike]}`,
			steps: []step{{id: "a", zone: "aleppo", category: "shelling"}},
			check: func(t *testing.T, f *fixture) {
				r, err := f.store.Report(context.Background(), "a")
				if err != nil || r.ID != "a" || len(r.Classification.Rules) != 0 {
					t.Errorf("the report is not stored, or matched: %v %+v", err, r)
				}
			},
		},
		{
			name: "suppression windows hold alerts back and mark the reports",
			rules: `
rules:
  - {id: all}
  - {id: deaths, condition: report.killed > 0}
suppressions:
  - id: convoy
    zones: [aleppo]
    rules: [all]
    starts_at: 2026-11-23T11:00:00Z
    ends_at: 2026-11-23T13:00:00Z
    created_by: duty officer Rahman
    reason: agreed convoy movement, expect small-arms fire
  - id: nightly
    zones: [latakia]
    starts_at: 2026-11-01T00:00:00Z
    recurring: {from: "22:00", to: "06:00", timezone: Asia/Damascus, days: [mon, tue]}
    created_by: duty officer Rahman
    reason: night exercises announced by both sides`,
			steps: []step{
				{id: "a", zone: "aleppo", category: "small_arms"},
				{id: "b", zone: "aleppo", category: "small_arms", mod: func(r *alerting.Report) { r.Casualties = &alerting.Casualties{Killed: 1} },
					want: []string{"deaths:opened"}},
				{id: "c", zone: "aleppo", category: "small_arms", at: 2 * time.Hour, want: []string{"all:opened"}},
				// t0 is Monday 15:00 in Damascus: 20:00 UTC is 23:00 there, 04:00 UTC is 07:00 on Tuesday.
				{id: "d", zone: "latakia", category: "shelling", at: 8 * time.Hour},
				{id: "e", zone: "latakia", category: "shelling", at: 16 * time.Hour, want: []string{"all:opened"}},
			},
			check: func(t *testing.T, f *fixture) {
				for id, want := range map[string]string{"a": "[all (convoy)]", "b": "[all (convoy)]", "d": "[all (nightly)]", "c": "[]", "e": "[]"} {
					r, err := f.store.Report(context.Background(), id)
					if err != nil || fmt.Sprint(r.Classification.Suppressed) != want {
						t.Errorf("report %s: suppressed %v (%v), want %s", id, r.Classification.Suppressed, err, want)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := setupRules(t, tt.rules)
			for _, s := range tt.steps {
				r := rep(s.id, s.zone, s.category, t0.Add(s.at))
				if s.mod != nil {
					s.mod(r)
				}
				before := len(f.pub.all())
				f.handle(t, r)
				var got []string
				for _, c := range f.pub.all()[before:] {
					got = append(got, c.Alert.Rule+":"+string(c.Event))
				}
				if fmt.Sprint(got) != fmt.Sprint(s.want) {
					t.Errorf("report %s: changes %v, want %v", s.id, got, s.want)
				}
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

// storeWith starts a Redis holding the configuration written as YAML.
func storeWith(t testing.TB, yaml string) (*redistest.Server, *redisstore.Store) {
	t.Helper()
	file, err := configs.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	srv := redistest.Start(t)
	store, err := redisstore.New(redisstore.Options{Client: srv.Client(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, ps, err := store.ApplyConfig(context.Background(), file.Config, false); err != nil || len(ps) > 0 {
		t.Fatal(err, ps)
	}
	return srv, store
}

// setupRules starts a Redis with the base configuration and rules, written
// as a demo file would be.
func setupRules(t *testing.T, rules string) *fixture {
	t.Helper()
	srv, store := storeWith(t, baseConfig+rules)
	f := &fixture{redis: srv, store: store, pub: &recorder{}}
	f.eng = newEngine(t, store, f.pub)
	return f
}

func (f *fixture) alerts(t *testing.T, zone string) []*alerting.Alert {
	t.Helper()
	as, err := f.store.Alerts(context.Background(), alerting.AlertFilter{Zones: []string{zone}})
	if err != nil {
		t.Fatal(err)
	}
	return as
}

func (f *fixture) onlyAlert(t *testing.T, zone string) *alerting.Alert {
	t.Helper()
	as := f.alerts(t, zone)
	if len(as) != 1 {
		t.Fatalf("%d alerts in %s, want 1", len(as), zone)
	}
	return as[0]
}

// TestHandlingReportsTogetherEqualsOneByOne: reports handled in one batch
// (HandleReports, as the consumer does under load) leave exactly the state
// and changes that handling them one at a time does — thresholds,
// grouping, a report seen before in the middle of the batch, and a
// duplicate within the batch.
func TestHandlingReportsTogetherEqualsOneByOne(t *testing.T) {
	t.Parallel()
	const rules = `
rules:
  - {id: pair, zones: [aleppo], categories: [shelling], threshold: 2, window: 10m, group_by: [zone], policy: joint}
  - {id: all, categories: [shelling, small_arms], group_by: [zone, category]}
`
	reports := func() []*alerting.Report {
		var rs []*alerting.Report
		for i := range 12 {
			cat := alerting.CategoryShelling
			if i%3 == 2 {
				cat = alerting.CategorySmallArms
			}
			rs = append(rs, rep(fmt.Sprintf("b%d", i), "aleppo", cat, t0.Add(time.Duration(i)*time.Minute)))
		}
		return append(rs, rep("b4", "aleppo", alerting.CategoryShelling, t0.Add(4*time.Minute))) // again, in the same batch
	}
	ctx := context.Background()
	received := func(n int) []time.Time {
		ts := make([]time.Time, n)
		for i := range ts {
			ts[i] = t0
		}
		return ts
	}

	alone := setupRules(t, rules)
	alone.handle(t, rep("b5", "aleppo", alerting.CategorySmallArms, t0.Add(5*time.Minute))) // seen before the batch
	for _, r := range reports() {
		alone.handle(t, r)
	}

	together := setupRules(t, rules)
	counting := &countingStore{Store: together.store}
	together.eng = newEngineOn(t, together.store, counting, together.pub)
	together.handle(t, rep("b5", "aleppo", alerting.CategorySmallArms, t0.Add(5*time.Minute)))
	rs := reports()
	for i, err := range together.eng.HandleReports(ctx, rs, received(len(rs))) {
		if err != nil {
			t.Fatalf("report %d (%s): %v", i, rs[i].ID, err)
		}
	}

	summary := func(f *fixture) []string {
		var out []string
		for _, c := range f.pub.all() {
			out = append(out, fmt.Sprintf("%s/%d %s %s %s count=%d reports=%v", c.Zone, c.Seq, c.Event, c.ReportID, c.Alert.Rule, c.Alert.ReportCount, c.Alert.ReportIDs))
		}
		for _, a := range f.alerts(t, "aleppo") {
			ids, total, err := f.store.AlertReports(ctx, a.ID, 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("alert %s count=%d stored=%d %v", a.Rule, a.ReportCount, total, ids))
		}
		return out
	}
	want, got := summary(alone), summary(together)
	if !slices.Equal(got, want) {
		t.Errorf("handled together:\n  %s\nwant, as one by one:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// b0-b4 are committed in one step; b5 was processed before, so the
	// step stops there and the rest are handled alone.
	if len(counting.applied) == 0 || counting.applied[0] != 5 {
		t.Errorf("commits applied per CommitAll: %v, want the first to apply 5", counting.applied)
	}
	if len(want) < 15 {
		t.Errorf("the scenario published only %d changes: %v", len(want), want)
	}
}

// countingStore is the Redis store, noting how many commits each CommitAll
// applied.
type countingStore struct {
	*redisstore.Store
	applied []int
}

func (c *countingStore) CommitAll(ctx context.Context, cs []alerting.Commit) ([][]alerting.Change, error) {
	done, err := c.Store.CommitAll(ctx, cs)
	c.applied = append(c.applied, len(done))
	return done, err
}
