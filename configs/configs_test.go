package configs_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/configs"
)

func TestDemoConfigurationIsValid(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	demo, err := configs.Demo(now)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := alerting.NewCatalog(1, demo, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ws := demo.Warnings(); len(ws) > 0 {
		t.Errorf("the demo rules have warnings: %v", ws)
	}
	// The regimes are moved to the day of now, keeping their shape.
	for zone, want := range map[string]string{"latakia": "silence-latakia", "damascus-ghouta": "silence-ghouta", "aleppo": "aleppo-ceasefire", "daraa": "coh-all"} {
		if r := cat.RegimeAt(zone, now); r == nil || r.ID != want {
			t.Errorf("regime in %s at %s = %v, want %s", zone, now, r, want)
		}
	}
	if r := cat.RegimeAt("aleppo", now.Truncate(24*time.Hour).Add(11*time.Hour)); r == nil || r.ID != "coh-all" {
		t.Errorf("before noon Aleppo is under %v, want coh-all", r)
	}
	if r := cat.RegimeAt("damascus-ghouta", now.Add(30*time.Hour)); r == nil || r.ID != "silence-ghouta" {
		t.Errorf("the Ghouta extension is not applied: %v", r)
	}
	for _, z := range []string{"aleppo", "damascus-ghouta", "latakia", "idlib", "homs-north", "daraa"} {
		found := false
		for _, zone := range demo.Zones {
			found = found || zone.ID == z
		}
		if !found {
			t.Errorf("demo zone %s is missing", z)
		}
	}
}

// TestRegimeWarningsPointAtTheRead: a warning about a condition that
// reads the regime without guarding against none points at the read, in
// plain and in quoted YAML.
func TestRegimeWarningsPointAtTheRead(t *testing.T) {
	t.Parallel()
	for text, want := range map[string]string{
		"rules:\n  - id: r\n    condition: report.count > 1 && regime.kind == \"x\"\n": "t.yaml:3:36: reads regime.kind,",
		"rules:\n  - id: r\n    condition: 'regime.hours_left < 6'\n":                  "t.yaml:3:17: reads regime.hours_left,",
	} {
		f, err := configs.Parse("t.yaml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		ws := f.Config.Warnings()
		if len(ws) != 1 {
			t.Fatalf("%q: warnings %v, want one", text, ws)
		}
		if got := f.Locate(ws[0]).String(); !strings.HasPrefix(got, want) {
			t.Errorf("%q: warning %q, want it to start %q", text, got, want)
		}
	}
}

// TestProblemsPointAtTheirLine checks that every kind of mistake is reported
// with the file, line and column where it stands.
func TestProblemsPointAtTheirLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // "line:column: message part"
	}{
		{"unknown field", "zones:\n  - id: a\n    name: A\n    colour: red\n", []string{`4:5: unknown field "colour"`}},
		{"wrong type", "rules:\n  - id: r\n    threshold: many\n", []string{"3:16: cannot unmarshal string"}},
		{"bad syntax", "zones:\n  - id: a\n   name: A\n", []string{"t.yaml:"}},
		{"bad duration", "rules:\n  - id: r\n    window: 5 minutes\n", []string{`t.yaml:3:13: "5 minutes" is not a duration`}},
		{"bad time", "regimes:\n  - id: g\n    starts_at: yesterday\n", []string{`t.yaml:3:16: "yesterday" is not an RFC 3339 time`}},
		{"unknown references", `
zones:
  - {id: aleppo, name: Aleppo}
rules:
  - id: r
    zones: [aleppo, atlantis]
    policy: nowhere
    categories: [rumour]
    group_by: [colour]
`, []string{`6:21: unknown zone "atlantis"`, `7:13: unknown policy "nowhere"`, `8:18: unknown category "rumour"`, `9:16: cannot group by "colour"`}},
		{"condition does not compile", `
rules:
  - id: r
    condition: 'report.count > "x"'
`, []string{"4:30: condition does not compile"}},
		{"unknown variable in a condition", `
rules:
  - id: r
    condition: report.colour == "red"
`, []string{"4:23: condition does not compile", "has no field colour"}},
		{"policy needs an unknown party", `
policies:
  - id: p
    steps: [{after: 5m, notify: [board]}, {after: 1m, notify: []}]
    require_ack_from: [party-z]
`, []string{"4:51: must not be earlier", "4:63: must name at least one target", `5:24: unknown party "party-z"`}},
		{"monitor with bad values", `
zones:
  - {id: latakia, name: Latakia}
monitors:
  - id: op-north
    zones: [latakia, atlantis]
    interval: 1s
    policy: nowhere
    schedule: {from: "6 am", to: "20:00"}
  - {id: op-south, zones: [latakia], interval: soon}
`, []string{`10:48: "soon" is not a duration`}},
		{"monitor with unknown references", `
zones:
  - {id: latakia, name: Latakia}
monitors:
  - id: op-north
    zones: [latakia, atlantis]
    interval: 1s
    policy: nowhere
    schedule: {from: "6 am", to: "20:00"}
    reports: {}
`, []string{`6:22: unknown zone "atlantis"`, "7:15: must be between 10s and 168h", `8:13: unknown policy "nowhere"`, "9:22: must be a time of day", "10:14: must name reported_by values or accounts"}},
		{"regime ends before it starts", `
zones:
  - {id: a, name: A}
regimes:
  - {id: g, zones: [a], kind: truce, starts_at: 2016-05-04T00:00:00Z, ends_at: 2016-05-01T00:00:00Z}
`, []string{"5:31: must be cessation_of_hostilities", "5:80: must be after starts_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			f, err := configs.Parse("t.yaml", []byte(tt.yaml))
			var pe *configs.ParseError
			switch {
			case errors.As(err, &pe):
				got = append(got, pe.Error())
			case err != nil:
				t.Fatal(err)
			default:
				for _, p := range f.Validate() {
					got = append(got, p.String())
				}
			}
			all := strings.Join(got, "\n")
			for _, want := range tt.want {
				if !strings.Contains(all, want) {
					t.Errorf("problems do not mention %q:\n%s", want, all)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{"zones: []", "rules:\n  - {id: r, condition: 'report.count > 2'}", "regimes:\n  - {id: g}", "policies: [{id: p, steps: [{after: 1m}]}]", "{", ""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := configs.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, p := range file.Validate() {
			if p.Message == "" {
				t.Fatalf("a problem without a message: %+v", p)
			}
		}
		if len(file.Validate()) == 0 {
			if _, err := alerting.NewCatalog(1, file.Config, 0); err != nil {
				t.Fatalf("valid configuration does not compile: %v", err)
			}
		}
	})
}

func TestSuppressionProblems(t *testing.T) {
	t.Parallel()
	f, err := configs.Parse("s.yaml", []byte(`
suppressions:
  - id: s1
    rules: [nope]
    starts_at: 2026-11-23T00:00:00Z
    recurring: {from: "25:00", to: "06:00", days: [someday]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range f.Validate() {
		got = append(got, p.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{`4:13: unknown rule "nope"`, "is required: say who suppresses (at $.suppressions[0].created_by)", "is required: say why (at $.suppressions[0].reason)", "6:23: must be a time of day", "6:52: must be one of"} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not mention %q:\n%s", want, all)
		}
	}
}
