package configs

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// MaxAliasNodes is how many values YAML aliases may add to a document
// when they are expanded. A few hundred bytes of nested anchors can
// otherwise expand to billions of values ("billion laughs") and hold the
// server for minutes.
const MaxAliasNodes = 10_000

// CheckAliases refuses YAML whose aliases expand to more than
// MaxAliasNodes values, or refer to themselves; it does not decode
// anything. Malformed YAML passes: decoding it says what is wrong.
func CheckAliases(data []byte) error {
	tree, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil
	}
	return checkAliases(tree)
}

func checkAliases(tree *ast.File) error {
	a := aliasCount{anchors: map[string]ast.Node{}, sizes: map[string]int{}, open: map[string]bool{}}
	for _, doc := range tree.Docs {
		ast.Walk(anchorFinder(a.anchors), doc)
	}
	if len(a.anchors) == 0 {
		return nil
	}
	added := 0
	for _, doc := range tree.Docs {
		n, err := a.aliased(doc)
		if err != nil {
			return err
		}
		if added += n; added > MaxAliasNodes {
			break
		}
	}
	if added > MaxAliasNodes {
		return fmt.Errorf("the YAML's aliases expand to more than %d values; write the values out, or use fewer aliases", MaxAliasNodes)
	}
	return nil
}

// anchorFinder collects every anchor's value by name.
type anchorFinder map[string]ast.Node

func (f anchorFinder) Visit(n ast.Node) ast.Visitor {
	if anchor, ok := n.(*ast.AnchorNode); ok && anchor.Name != nil && anchor.Value != nil {
		f[anchor.Name.String()] = anchor.Value
	}
	return f
}

// aliasCount counts what aliases add when expanded, each anchor's value
// counted once and remembered.
type aliasCount struct {
	anchors map[string]ast.Node
	sizes   map[string]int  // the expanded size of an anchor's value
	open    map[string]bool // anchors being counted: an alias within is a cycle
}

// aliased returns how many values the aliases under n add.
func (a *aliasCount) aliased(n ast.Node) (int, error) {
	v := &aliasVisitor{a: a}
	ast.Walk(v, n)
	return v.added, v.err
}

// size is the number of values in the expansion of anchor name's value.
func (a *aliasCount) size(name string) (int, error) {
	if s, ok := a.sizes[name]; ok {
		return s, nil
	}
	value, ok := a.anchors[name]
	if !ok {
		return 0, nil // an unknown alias: decoding says so
	}
	if a.open[name] {
		return 0, fmt.Errorf("the YAML alias *%s refers to itself", name)
	}
	a.open[name] = true
	defer delete(a.open, name)
	counter := &nodeCounter{}
	ast.Walk(counter, value)
	added, err := a.aliased(value)
	if err != nil {
		return 0, err
	}
	s := counter.n + added
	if s > MaxAliasNodes {
		s = MaxAliasNodes + 1 // enough to refuse; keeps the sums small
	}
	a.sizes[name] = s
	return s, nil
}

type aliasVisitor struct {
	a     *aliasCount
	added int
	err   error
}

func (v *aliasVisitor) Visit(n ast.Node) ast.Visitor {
	if v.err != nil || v.added > MaxAliasNodes {
		return nil
	}
	alias, ok := n.(*ast.AliasNode)
	if !ok || alias.Value == nil {
		return v
	}
	s, err := v.a.size(alias.Value.String())
	v.added, v.err = v.added+s, err
	return nil
}

// nodeCounter counts the nodes of a tree, aliases as one.
type nodeCounter struct{ n int }

func (c *nodeCounter) Visit(n ast.Node) ast.Visitor {
	if n != nil {
		c.n++
	}
	return c
}
