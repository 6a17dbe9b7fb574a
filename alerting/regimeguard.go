package alerting

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
)

// A condition's `regime` is nil when no regime is in force over the
// report's zone at its observed time. A condition that reads a field of it
// then fails (the rule does not match, and the report's classification
// names the rule in Failed), so that a comparison such as
// `regime.kind != "regime_of_silence"` can never be true of a report
// outside every regime and page people by accident. Config.Warnings warns
// of such reads when the configuration is applied.

// ErrNoRegime is the failure of a condition that read a field of the
// regime of a report that no regime covered.
var ErrNoRegime = errors.New("no regime was in force, and the condition reads the regime without checking regime != nil")

var noRegimeField = regexp.MustCompile(`^cannot get (\w+) from regime\b`)

// noRegimeError names the field a condition read of a nil regime, or
// returns err unchanged when err is something else.
func noRegimeError(err error, env *Env) error {
	if env.Regime != nil || err == nil {
		return err
	}
	if m := noRegimeField.FindStringSubmatch(err.Error()); m != nil {
		return noRegime{m[1]}
	}
	return err
}

// noRegime is ErrNoRegime naming the field read.
type noRegime struct{ field string }

func (e noRegime) Error() string {
	return "no regime was in force, and the condition reads regime." + e.field + " without checking regime != nil"
}

func (e noRegime) Unwrap() error { return ErrNoRegime }

// Warnings returns what is allowed in c but probably not meant: rule
// conditions that read a field of `regime` without guarding against its
// being nil (no regime in force). Such a rule fails, and so does not
// match, on every report outside any regime; the warning says so when the
// rules are applied, so that it is a decision and not a surprise.
func (c *Config) Warnings() []Problem {
	var ps []Problem
	for i, r := range c.Rules {
		for _, w := range unguardedRegimeReads(r.Condition) {
			ps = append(ps, Problem{Path: fmt.Sprintf("$.rules[%d].condition", i), Offset: w.offset,
				Message: fmt.Sprintf("reads regime.%s, but regime is nil when no regime is in force: the condition then fails and the rule matches nothing (write `regime != nil && …` or `regime == nil || …` to say what happens outside any regime)", w.field)})
		}
	}
	return ps
}

type regimeRead struct {
	field  string
	offset int // 1-based column in a one-line condition; 0 otherwise
}

// unguardedRegimeReads finds the reads of regime.<field> in a condition
// that nothing before them guards against a nil regime: the right side of
// an `&&` whose left side being true means regime != nil, of an `||` whose
// left side being false means it, and the branches of `?:` likewise. An
// optional read (regime?.kind) is deliberate and not reported. A condition
// that does not parse yields nothing (Validate reports it).
func unguardedRegimeReads(condition string) []regimeRead {
	if !strings.Contains(condition, "regime") {
		return nil
	}
	tree, err := parser.Parse(condition)
	if err != nil {
		return nil
	}
	var out []regimeRead
	oneLine := !strings.Contains(condition, "\n")
	var walk func(n ast.Node, guarded bool)
	walk = func(n ast.Node, guarded bool) {
		switch n := n.(type) {
		case nil:
		case *ast.BinaryNode:
			walk(n.Left, guarded)
			switch n.Operator {
			case "&&", "and":
				walk(n.Right, guarded || regimeIfTrue(n.Left))
			case "||", "or":
				walk(n.Right, guarded || regimeIfFalse(n.Left))
			default:
				walk(n.Right, guarded)
			}
		case *ast.ConditionalNode:
			walk(n.Cond, guarded)
			walk(n.Exp1, guarded || regimeIfTrue(n.Cond))
			walk(n.Exp2, guarded || regimeIfFalse(n.Cond))
		case *ast.MemberNode:
			if isRegime(n.Node) && !n.Optional && !guarded {
				r := regimeRead{field: "…"}
				if s, ok := n.Property.(*ast.StringNode); ok {
					r.field = s.Value
				}
				if oneLine {
					r.offset = n.Node.Location().From + 1
				}
				out = append(out, r)
			}
			walk(n.Node, guarded)
			walk(n.Property, guarded)
		case *ast.UnaryNode:
			walk(n.Node, guarded)
		case *ast.ChainNode:
			walk(n.Node, guarded)
		case *ast.SliceNode:
			walk(n.Node, guarded)
			walk(n.From, guarded)
			walk(n.To, guarded)
		case *ast.CallNode:
			walk(n.Callee, guarded)
			for _, a := range n.Arguments {
				walk(a, guarded)
			}
		case *ast.BuiltinNode:
			for _, a := range n.Arguments {
				walk(a, guarded)
			}
		case *ast.PredicateNode:
			walk(n.Node, guarded)
		case *ast.VariableDeclaratorNode:
			walk(n.Value, guarded)
			walk(n.Expr, guarded)
		case *ast.SequenceNode:
			for _, c := range n.Nodes {
				walk(c, guarded)
			}
		case *ast.ArrayNode:
			for _, c := range n.Nodes {
				walk(c, guarded)
			}
		case *ast.MapNode:
			for _, c := range n.Pairs {
				walk(c, guarded)
			}
		case *ast.PairNode:
			walk(n.Key, guarded)
			walk(n.Value, guarded)
		}
	}
	walk(tree.Node, false)
	return out
}

func isRegime(n ast.Node) bool {
	id, ok := n.(*ast.IdentifierNode)
	return ok && id.Value == "regime"
}

// regimeComparison reports whether n is `regime == nil` (eq) or
// `regime != nil` (!eq), either way round.
func regimeComparison(n ast.Node) (eq, ok bool) {
	b, isBinary := n.(*ast.BinaryNode)
	if !isBinary || (b.Operator != "==" && b.Operator != "!=") {
		return false, false
	}
	_, leftNil := b.Left.(*ast.NilNode)
	_, rightNil := b.Right.(*ast.NilNode)
	if (isRegime(b.Left) && rightNil) || (leftNil && isRegime(b.Right)) {
		return b.Operator == "==", true
	}
	return false, false
}

// regimeIfTrue reports whether n being true means regime != nil.
func regimeIfTrue(n ast.Node) bool {
	if eq, ok := regimeComparison(n); ok {
		return !eq
	}
	switch n := n.(type) {
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			return regimeIfFalse(n.Node)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "&&", "and":
			return regimeIfTrue(n.Left) || regimeIfTrue(n.Right)
		case "||", "or":
			return regimeIfTrue(n.Left) && regimeIfTrue(n.Right)
		}
	}
	return false
}

// regimeIfFalse reports whether n being false means regime != nil.
func regimeIfFalse(n ast.Node) bool {
	if eq, ok := regimeComparison(n); ok {
		return eq
	}
	switch n := n.(type) {
	case *ast.UnaryNode:
		if n.Operator == "!" || n.Operator == "not" {
			return regimeIfTrue(n.Node)
		}
	case *ast.BinaryNode:
		switch n.Operator {
		case "||", "or":
			return regimeIfFalse(n.Left) || regimeIfFalse(n.Right)
		case "&&", "and":
			return regimeIfFalse(n.Left) && regimeIfFalse(n.Right)
		}
	}
	return false
}
