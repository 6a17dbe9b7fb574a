package alerting

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"time"
)

var zoneIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// ValidZoneID reports whether id has the form of a zone id ([a-z0-9-]{1,64}).
// Zone ids appear in NATS subjects and Redis keys, so the form is strict.
func ValidZoneID(id string) bool { return zoneIDPattern.MatchString(id) }

// Zone is an area that regimes cover and reports are filed against.
type Zone struct {
	ID   string   `json:"id" yaml:"id"`
	Name string   `json:"name" yaml:"name"`
	Tags []string `json:"tags,omitempty" yaml:"tags"`
	// Geometry is an RFC 7946 GeoJSON geometry ([lon, lat] order), kept as
	// given: the board draws it, the engine never needs it.
	Geometry json.RawMessage `json:"geometry,omitempty" yaml:"geometry"`
}

// PartyStatus says whether the ceasefire covers a party.
type PartyStatus string

// Party statuses. Acts against an excluded party are not violations.
const (
	PartyAdherent PartyStatus = "adherent"
	PartyExcluded PartyStatus = "excluded"
	PartyObserver PartyStatus = "observer"
)

// Party is a side of the conflict, a guarantor or a monitor.
type Party struct {
	ID     string      `json:"id" yaml:"id"`
	Name   string      `json:"name" yaml:"name"`
	Status PartyStatus `json:"status" yaml:"status"`
}

// Catalog is an immutable snapshot of the configuration the engine judges
// reports against, with its rules compiled and indexed. Version increases
// with every change in the store, so a cached Catalog is replaced only when
// the version moves.
type Catalog struct {
	Version   int64
	config    Config
	zones     map[string]Zone
	parties   map[string]Party
	policies  map[string]Policy
	contacts  map[string]Contact
	schedules map[string]*Schedule
	rules     []*compiledRule
	index     ruleIndex
}

// NewCatalog validates and compiles a configuration. Without any rule, the
// built-in rule "default" groups every report by zone and category within
// defaultWindow (0 means DefaultWindow), so a fresh installation alerts.
func NewCatalog(version int64, c Config, defaultWindow time.Duration) (*Catalog, error) {
	if ps := c.Validate(); len(ps) > 0 {
		return nil, &ConfigError{Problems: ps}
	}
	cat := &Catalog{Version: version, config: c, zones: make(map[string]Zone, len(c.Zones)),
		parties: make(map[string]Party, len(c.Parties)), policies: make(map[string]Policy, len(c.Policies))}
	for _, z := range c.Zones {
		cat.zones[z.ID] = z
	}
	for _, p := range c.Parties {
		cat.parties[p.ID] = p
	}
	for _, p := range c.Policies {
		cat.policies[p.ID] = p
	}
	cat.contacts = make(map[string]Contact, len(c.Contacts))
	for _, ct := range c.Contacts {
		cat.contacts[ct.ID] = ct
	}
	cat.schedules = make(map[string]*Schedule, len(c.Schedules))
	for i := range c.Schedules {
		cat.schedules[c.Schedules[i].ID] = &c.Schedules[i]
	}
	rules := c.Rules
	if len(rules) == 0 {
		rules = []Rule{{ID: DefaultRule, Name: "Every report, grouped by zone and category", Window: Duration(defaultWindow)}}
	}
	for _, r := range sortedRules(rules) {
		program, err := compileCondition(r.Condition)
		if err != nil { // Validate compiled it already
			return nil, err
		}
		cat.rules = append(cat.rules, &compiledRule{Rule: r, program: program})
	}
	cat.index = newRuleIndex(cat.rules, c.Zones)
	return cat, nil
}

// MustCatalog is NewCatalog for configurations known to be valid, such as
// those written inline in tests.
func MustCatalog(version int64, c Config) *Catalog {
	cat, err := NewCatalog(version, c, 0)
	if err != nil {
		panic(err)
	}
	return cat
}

// ConfigError lists every problem of a configuration.
type ConfigError struct{ Problems []Problem }

func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid configuration: " + strings.Join(parts, "; ")
}

// Config returns the configuration the catalog was built from.
func (c *Catalog) Config() Config { return c.config }

// Zone returns the zone with the given id.
func (c *Catalog) Zone(id string) (Zone, bool) { z, ok := c.zones[id]; return z, ok }

// Party returns the party with the given id.
func (c *Catalog) Party(id string) (Party, bool) { p, ok := c.parties[id]; return p, ok }

// Contact returns a contact by id.
func (c *Catalog) Contact(id string) (Contact, bool) { ct, ok := c.contacts[id]; return ct, ok }

// Schedule returns a schedule by id.
func (c *Catalog) Schedule(id string) (*Schedule, bool) { s, ok := c.schedules[id]; return s, ok }

// Policy returns the policy with the given id.
func (c *Catalog) Policy(id string) (Policy, bool) { p, ok := c.policies[id]; return p, ok }

// rule returns the compiled rule with the id, or nil.
func (c *Catalog) rule(id string) *compiledRule {
	for _, r := range c.rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// Zones returns every zone, ordered by id.
func (c *Catalog) Zones() []Zone {
	out := make([]Zone, 0, len(c.zones))
	for _, z := range c.zones {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Parties returns every party, ordered by id.
func (c *Catalog) Parties() []Party {
	out := make([]Party, 0, len(c.parties))
	for _, p := range c.parties {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// RegimeAt returns the regime in force over zone at t: of those in force,
// the most recently started (a regime of silence agreed within a wider
// cessation of hostilities), or nil.
func (c *Catalog) RegimeAt(zone string, t time.Time) *Regime {
	var best *Regime
	for i := range c.config.Regimes {
		r := &c.config.Regimes[i]
		if r.Covers(zone) && r.InForce(t) && (best == nil || r.StartsAt.After(best.StartsAt)) {
			best = r
		}
	}
	return best
}

// Suppression returns the suppression holding back rule's alerts in zone
// at t, or nil.
func (c *Catalog) Suppression(zone, rule string, t time.Time) *Suppression {
	for i := range c.config.Suppressions {
		if s := &c.config.Suppressions[i]; s.Covers(zone, rule, t) {
			return s
		}
	}
	return nil
}

// Classify establishes what the engine knows of a report before matching
// rules, and the environment rule conditions see.
func (c *Catalog) Classify(r *Report) (Classification, *Env) {
	var cl Classification
	env := &Env{Report: ReportEnv{
		ID: r.ID, Zone: r.Zone, Category: string(r.Category), Severity: string(r.EffectiveSeverity()),
		Certainty: r.Certainty, SourceType: r.SourceType, ReportedBy: r.ReportedBy, Weapon: r.Weapon,
		AttributedTo: r.AttributedTo, Target: r.Target, Count: r.Count, Exercise: r.Exercise,
	}}
	if r.Casualties != nil {
		env.Report.Killed, env.Report.Injured = r.Casualties.Killed, r.Casualties.Injured
	}
	if r.Location != nil {
		env.Report.HasLocation, env.Report.Lat, env.Report.Lon = true, r.Location.Lat, r.Location.Lon
	}
	observedFire(&env.Report, r)
	if z, ok := c.zones[r.Zone]; ok {
		env.Zone = ZoneEnv{ID: z.ID, Name: z.Name, Tags: z.Tags}
	}
	if p, ok := c.parties[r.AttributedTo]; ok {
		env.AttributedTo = PartyEnv{ID: p.ID, Name: p.Name, Status: string(p.Status)}
	}
	if p, ok := c.parties[r.Target]; ok {
		env.Target = PartyEnv{ID: p.ID, Name: p.Name, Status: string(p.Status)}
		cl.NotApplicable = p.Status == PartyExcluded
	}
	if reg := c.RegimeAt(r.Zone, r.ObservedAt); reg != nil {
		cl.Regime = reg.ID
		env.Regime = &RegimeEnv{ID: reg.ID, Kind: string(reg.Kind), HoursLeft: -1}
		if end := reg.End(); end != nil {
			env.Regime.HoursLeft = end.Sub(r.ObservedAt).Hours()
		}
	} else {
		cl.OutsideRegime = len(c.config.Regimes) > 0
	}
	env.NotApplicable, env.OutsideRegime = cl.NotApplicable, cl.OutsideRegime
	return cl, env
}

// observedFire fills what conditions see of the observation's details.
func observedFire(env *ReportEnv, r *Report) {
	env.DirectionDeg, env.DistanceMinM, env.DistanceMaxM, env.WeaponCalibre = -1, -1, -1, r.WeaponCalibre
	if r.ObservedUntil != nil {
		env.DurationMinutes = r.ObservedUntil.Sub(r.ObservedAt).Minutes()
	}
	if o := r.Observer; o != nil {
		env.HasObserver, env.ObserverLat, env.ObserverLon = true, o.Lat, o.Lon
	}
	if r.DirectionDeg != nil {
		env.DirectionDeg = *r.DirectionDeg
	}
	if d := r.DistanceM; d != nil {
		env.DistanceMinM, env.DistanceMaxM = d.Min, d.Max
	}
	if r.Impacts != nil {
		env.Impacts = *r.Impacts
	}
}

// Match returns the rules a classified report matches, in id order. A
// report against an excluded party matches only rules that opt in. A rule
// whose condition fails on the report, or takes more than
// MaxConditionSteps, is left out and named in failed: a broken rule is
// its author's problem, not the report's, nor its zone's.
func (c *Catalog) Match(r *Report, cl Classification, env *Env) (matched []*compiledRule, failed []RuleFailure) {
	for _, rule := range c.index.candidates(r.Zone, r.Category) {
		if cl.NotApplicable && !rule.IncludeNotApplicable {
			continue
		}
		ok, err := rule.eval(env)
		if err != nil {
			failed = append(failed, RuleFailure{Rule: rule.ID, Err: noRegimeError(err, env)})
			continue
		}
		if ok {
			matched = append(matched, rule)
		}
	}
	return matched, failed
}

// RuleFailure is a rule whose condition could not be judged on a report.
type RuleFailure struct {
	Rule string
	Err  error
}

func (f RuleFailure) String() string { return f.Rule + " (" + f.Reason() + ")" }

// Reason is what failed, in one line: without the source excerpt that
// expr adds to its errors.
func (f RuleFailure) Reason() string {
	line, _, _ := strings.Cut(f.Err.Error(), "\n")
	return strings.TrimSuffix(strings.TrimSpace(line), " (1:1)")
}

// RuleFault is what admins see of a rule whose condition fails on
// reports: how often since the rule was last written (or the fault
// dismissed), and the latest failure. The reports are handled without
// the rule meanwhile.
type RuleFault struct {
	Rule   string    `json:"rule"`
	Count  int64     `json:"count"`
	Since  time.Time `json:"since"`  // the first failure counted
	At     time.Time `json:"at"`     // the latest
	Report string    `json:"report"` // the latest failure's report
	Zone   string    `json:"zone"`
	Error  string    `json:"error"`
}

// Validate checks a zone definition.
func (z Zone) Validate() error {
	var p problems
	if !ValidZoneID(z.ID) {
		p.add("id", "must match [a-z0-9-]{1,64}")
	}
	if z.Name == "" {
		p.add("name", "is required")
	}
	if len(z.Geometry) > 0 && !json.Valid(z.Geometry) {
		p.add("geometry", "is not valid JSON")
	}
	return p.err("zone " + z.ID)
}

// Validate checks a party definition.
func (pt Party) Validate() error {
	var p problems
	if !ValidZoneID(pt.ID) {
		p.add("id", "must match [a-z0-9-]{1,64}")
	}
	if pt.Name == "" {
		p.add("name", "is required")
	}
	switch pt.Status {
	case PartyAdherent, PartyExcluded, PartyObserver:
	default:
		p.add("status", "must be adherent, excluded or observer")
	}
	return p.err("party " + pt.ID)
}
