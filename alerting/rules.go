package alerting

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Env is what a rule's condition sees: plain data about the report and its
// context, named as docs/RULES.md documents them.
type Env struct {
	Report ReportEnv `expr:"report"`
	Zone   ZoneEnv   `expr:"zone"`
	// Regime is nil when no regime is in force: a condition that reads
	// one of its fields then fails (see ErrNoRegime).
	Regime        *RegimeEnv `expr:"regime"`
	AttributedTo  PartyEnv   `expr:"attributed_to"`
	Target        PartyEnv   `expr:"target"`
	NotApplicable bool       `expr:"not_applicable"`
	OutsideRegime bool       `expr:"outside_regime"`

	steps int // of the evaluation under way (MaxConditionSteps)
}

// ReportEnv is a report as conditions see it.
type ReportEnv struct {
	ID           string  `expr:"id"`
	Zone         string  `expr:"zone"`
	Category     string  `expr:"category"`
	Severity     string  `expr:"severity"`
	Certainty    string  `expr:"certainty"`
	SourceType   string  `expr:"source_type"`
	ReportedBy   string  `expr:"reported_by"`
	Weapon       string  `expr:"weapon"`
	AttributedTo string  `expr:"attributed_to"`
	Target       string  `expr:"target"`
	Count        int     `expr:"count"`
	Killed       int     `expr:"killed"`
	Injured      int     `expr:"injured"`
	Exercise     bool    `expr:"exercise"`
	HasLocation  bool    `expr:"has_location"`
	Lat          float64 `expr:"lat"`
	Lon          float64 `expr:"lon"`
	// DurationMinutes is from observed_at to observed_until; 0 without
	// an observed_until.
	DurationMinutes float64 `expr:"duration_minutes"`
	HasObserver     bool    `expr:"has_observer"`
	ObserverLat     float64 `expr:"observer_lat"`
	ObserverLon     float64 `expr:"observer_lon"`
	// DirectionDeg, DistanceMinM and DistanceMaxM are -1 when the report
	// gives none.
	DirectionDeg  float64 `expr:"direction_deg"`
	DistanceMinM  float64 `expr:"distance_min_m"`
	DistanceMaxM  float64 `expr:"distance_max_m"`
	WeaponCalibre string  `expr:"weapon_calibre"`
	// Impacts is 0 when the report counts none.
	Impacts int `expr:"impacts"`
	// Late: it arrived long after it was observed (Classification.Late).
	Late bool `expr:"late"`
}

// ZoneEnv is the report's zone.
type ZoneEnv struct {
	ID   string   `expr:"id"`
	Name string   `expr:"name"`
	Tags []string `expr:"tags"`
}

// RegimeEnv is the regime in force at the report's observed time (Env's
// Regime is nil when none is).
type RegimeEnv struct {
	ID   string `expr:"id"`
	Kind string `expr:"kind"`
	// HoursLeft is how long the regime still runs after the report, -1
	// when it has no end.
	HoursLeft float64 `expr:"hours_left"`
}

// PartyEnv is a party named by the report; empty fields when it names none.
type PartyEnv struct {
	ID     string `expr:"id"`
	Name   string `expr:"name"`
	Status string `expr:"status"`
}

// A condition's cost is bounded twice: its size when it is compiled, and
// its steps when it runs. A step is one element looked at by a predicate
// (all, any, filter, map, count, ...), nested ones included, so a
// condition that loops over a range inside a loop over a range stops
// after MaxConditionSteps instead of holding its zone for minutes.
const (
	MaxConditionNodes = 1000
	MaxConditionSteps = 100_000
)

// ErrConditionBudget is a condition that took more than MaxConditionSteps.
var ErrConditionBudget = fmt.Errorf("the condition took more than %d steps", MaxConditionSteps)

// compileCondition compiles a rule condition against Env; "" is true.
func compileCondition(condition string) (*vm.Program, error) {
	if strings.TrimSpace(condition) == "" {
		condition = "true"
	}
	return expr.Compile(condition, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(MaxConditionNodes),
		expr.Function(stepFunc, countStep, new(func(any) bool)), expr.Patch(stepPatch{}))
}

// stepFunc counts a step of the evaluation it is given ($env); stepPatch
// makes every predicate's body call it first.
const stepFunc = "_step"

func countStep(params ...any) (any, error) {
	if env, ok := params[0].(*Env); ok {
		if env.steps++; env.steps > MaxConditionSteps {
			return false, ErrConditionBudget
		}
	}
	return true, nil
}

type stepPatch struct{}

func (stepPatch) Visit(node *ast.Node) {
	p, ok := (*node).(*ast.PredicateNode)
	if !ok {
		return
	}
	if seq, ok := p.Node.(*ast.SequenceNode); ok && len(seq.Nodes) == 2 {
		if call, ok := seq.Nodes[0].(*ast.CallNode); ok {
			if id, ok := call.Callee.(*ast.IdentifierNode); ok && id.Value == stepFunc {
				return // counted already
			}
		}
	}
	step := &ast.CallNode{Callee: &ast.IdentifierNode{Value: stepFunc}, Arguments: []ast.Node{&ast.IdentifierNode{Value: "$env"}}}
	p.Node = &ast.SequenceNode{Nodes: []ast.Node{step, p.Node}}
}

// conditionProblem turns a compile error into a Problem pointing into the
// condition.
func conditionProblem(path string, err error) Problem {
	p := Problem{Path: path, Message: "condition does not compile: " + err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		p.Message = "condition does not compile: " + fe.Message
		p.Offset = fe.Column + 1
	}
	return p
}

// Classification is what the engine establishes about a report before
// matching rules.
type Classification struct {
	// NotApplicable: the report's target is an excluded party; the
	// ceasefire does not cover acts against it.
	NotApplicable bool `json:"not_applicable,omitempty"`
	// OutsideRegime: no regime covered the zone at the observed time.
	OutsideRegime bool `json:"outside_regime,omitempty"`
	// Regime is the regime in force, when one was.
	Regime string `json:"regime,omitempty"`
	// Rules are the rules the report matched and acted on.
	Rules []string `json:"rules,omitempty"`
	// Suppressed are the rules it matched whose alerts a suppression
	// window held back, as "rule (suppression)".
	Suppressed []string `json:"suppressed,omitempty"`
	// Failed are the rules whose condition could not be judged on the
	// report (it failed, or took more than MaxConditionSteps), as
	// "rule (why)": the report was handled without them.
	Failed []string `json:"failed,omitempty"`
	// Late: the report arrived long after it was observed (the engine's
	// LateAfter, 6 hours unless configured). Rules that do not take late
	// reports (Rule.Late) let it join their active alert without paging,
	// and otherwise hold it: see LateHeld.
	Late bool `json:"late,omitempty"`
	// LateHeld are the rules the late report matched that opened,
	// reopened and counted nothing for it, because they do not take late
	// reports and had no active alert for it to join. The report is
	// stored and shown all the same.
	LateHeld []string `json:"late_held,omitempty"`
	// Amended are the alerts the report changed by updating or
	// withdrawing an earlier report of its sender (Report.Amends),
	// instead of through rules.
	Amended []string `json:"amended,omitempty"`
}

// compiledRule is a rule ready to evaluate.
type compiledRule struct {
	Rule
	program *vm.Program
}

// window is the rule's grouping window, with the default applied.
func (r *compiledRule) window() time.Duration {
	if r.Window == 0 {
		return DefaultWindow
	}
	return time.Duration(r.Window)
}

func (r *compiledRule) threshold() int { return max(1, r.Threshold) }

// groupKey names the group a report falls in for this rule: the rule and
// the values of its grouping fields.
func (r *compiledRule) groupKey(rep *Report) string {
	keys := r.GroupBy
	if len(keys) == 0 {
		keys = defaultGroupBy
	}
	var b strings.Builder
	b.WriteString(r.ID)
	for _, k := range keys {
		b.WriteByte(':')
		b.WriteString(groupValue(rep, k))
	}
	return b.String()
}

var defaultGroupBy = []string{"zone", "category"}

// title is the title of the rule's alerts in zone: "" (the report's
// category in the zone) when the rule groups by category, else the rule's
// name and the zone.
func (r *compiledRule) title(zone Zone) string {
	if len(r.GroupBy) == 0 || slices.Contains(r.GroupBy, "category") || r.Name == "" {
		return ""
	}
	return r.Name + " · " + zone.Name
}

func groupValue(r *Report, key string) string {
	switch key {
	case "zone":
		return r.Zone
	case "category":
		return string(r.Category)
	case "attributed_to":
		return r.AttributedTo
	case "target":
		return r.Target
	case "weapon":
		return r.Weapon
	case "reported_by":
		return r.ReportedBy
	case "source_type":
		return r.SourceType
	case "severity":
		return string(r.EffectiveSeverity())
	}
	return ""
}

// ruleIndex finds the rules that may match a report by its zone and
// category without looking at the others.
type ruleIndex struct {
	byZone map[string]map[Category][]*compiledRule
}

func newRuleIndex(rules []*compiledRule, zones []Zone) ruleIndex {
	idx := ruleIndex{byZone: make(map[string]map[Category][]*compiledRule, len(zones))}
	for _, z := range zones {
		byCat := make(map[Category][]*compiledRule)
		for _, r := range rules {
			if r.Disabled || !matchAny(r.Zones, z.ID) {
				continue
			}
			cats := r.Categories
			if len(cats) == 0 {
				cats = Categories
			}
			for _, c := range cats {
				byCat[c] = append(byCat[c], r)
			}
		}
		idx.byZone[z.ID] = byCat
	}
	return idx
}

func (idx ruleIndex) candidates(zone string, c Category) []*compiledRule {
	return idx.byZone[zone][c]
}

var vmPool = sync.Pool{New: func() any { return new(vm.VM) }}

// eval runs a compiled condition on env with a pooled VM.
func (r *compiledRule) eval(env *Env) (bool, error) {
	v := vmPool.Get().(*vm.VM)
	defer vmPool.Put(v)
	env.steps = 0
	out, err := v.Run(r.program, env)
	if err != nil {
		return false, err
	}
	ok, _ := out.(bool)
	return ok, nil
}

// sortedRules orders rules by id, so matching is deterministic.
func sortedRules(rules []Rule) []Rule {
	out := append([]Rule(nil), rules...)
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
