// Package configs holds truceline's shipped configuration, the documented
// default server configuration (truceline.yaml) and the demo zones, parties,
// regimes, policies and rules (demo/), embedded so that `truceline serve
// --demo` needs no files; and it reads configuration files in YAML, pointing
// every problem at its file, line and column.
package configs

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/truceline/truceline/alerting"
)

//go:embed truceline.yaml demo/*.yaml
var files embed.FS

// DefaultServerConfig is configs/truceline.yaml, every option at its default.
func DefaultServerConfig() []byte {
	data, _ := files.ReadFile("truceline.yaml")
	return data
}

// File is one parsed configuration file: a YAML mapping with any of the
// keys zones, parties, regimes, policies and rules, each a list of objects.
type File struct {
	Name   string
	Config alerting.Config
	ast    *ast.File
}

// ParseError is a file that is not valid YAML or does not fit the schema.
type ParseError struct {
	Problem alerting.Problem
}

func (e *ParseError) Error() string { return e.Problem.String() }

// geometry decodes a zone's GeoJSON geometry, written as YAML, into JSON.
var geometry = yaml.CustomUnmarshaler(func(dst *json.RawMessage, b []byte) error {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return err
	}
	*dst = json.RawMessage(strings.TrimSpace(string(j)))
	return nil
})

// duration and timestamp decode the scalar types strictly, so that a bad
// value is an error go-yaml can point at.
var (
	duration = yaml.CustomUnmarshaler(func(dst *alerting.Duration, b []byte) error {
		var s string
		if err := yaml.Unmarshal(b, &s); err != nil {
			return err
		}
		return dst.UnmarshalText([]byte(s))
	})
	timestamp = yaml.CustomUnmarshaler(func(dst *time.Time, b []byte) error {
		var s string
		if err := yaml.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time like 2016-05-01T00:00:00Z", s)
		}
		*dst = t
		return nil
	})
)

// Parse reads one configuration file; name is used in problems. Unknown
// fields and values of the wrong type are errors with their position.
// Parse does not judge the objects: Validate does, with Locate.
func Parse(name string, data []byte) (_ *File, err error) {
	// go-yaml v1.19.2 panics on some malformed input (see the fuzz corpus
	// in testdata); a bad file must be an error, never a crash.
	defer func() {
		if r := recover(); r != nil {
			err = &ParseError{Problem: alerting.Problem{File: name, Message: "the file is not valid YAML"}}
		}
	}()
	f := &File{Name: name}
	tree, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, parseError(name, err)
	}
	f.ast = tree
	if err := checkAliases(tree); err != nil {
		return nil, &ParseError{Problem: alerting.Problem{File: name, Message: err.Error()}}
	}
	if err := yaml.UnmarshalWithOptions(data, &f.Config, yaml.DisallowUnknownField(), yaml.Strict(), geometry, duration, timestamp); err != nil {
		return nil, locateValue(parseError(name, err), data)
	}
	return f, nil
}

// parseError turns a go-yaml error into a located problem.
func parseError(name string, err error) error {
	p := alerting.Problem{File: name, Message: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		p.Message = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Line, p.Column = tk.Position.Line, tk.Position.Column
		}
	}
	return &ParseError{Problem: p}
}

var quoted = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"`)

// locateValue gives a position to an error that go-yaml reported without
// one (those of the scalar decoders above, whose message starts with the
// bad value): the first token with that value.
func locateValue(err error, data []byte) error {
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Problem.Line > 0 {
		return err
	}
	m := quoted.FindStringSubmatch(pe.Problem.Message)
	if m == nil {
		return err
	}
	for _, tk := range lexer.Tokenize(string(data)) {
		if tk.Value == m[1] && tk.Position != nil {
			pe.Problem.Line, pe.Problem.Column = tk.Position.Line, tk.Position.Column
			break
		}
	}
	return err
}

// Validate judges the file's objects on their own and returns every problem
// with its line and column.
func (f *File) Validate() []alerting.Problem {
	ps := f.Config.Validate()
	for i := range ps {
		ps[i] = f.Locate(ps[i])
	}
	return ps
}

// Locate fills a problem's file, line and column from its path.
func (f *File) Locate(p alerting.Problem) alerting.Problem {
	p.File = f.Name
	yp, err := yaml.PathString(p.Path)
	if err != nil || f.ast == nil {
		return p
	}
	node, err := yp.FilterFile(f.ast)
	if err != nil || node == nil {
		// The path names a field the file leaves out: point at its object.
		if i := strings.LastIndex(p.Path, "."); i > 0 {
			parent := p
			parent.Path = p.Path[:i]
			located := f.Locate(parent)
			p.Line, p.Column = located.Line, located.Column
		}
		return p
	}
	tk := node.GetToken()
	if tk == nil || tk.Position == nil {
		return p
	}
	p.Line, p.Column = tk.Position.Line, tk.Position.Column
	if p.Offset > 0 {
		quote := 0
		if tk.Type == token.SingleQuoteType || tk.Type == token.DoubleQuoteType {
			quote = 1
		}
		p.Column += quote + p.Offset - 1
	}
	return p
}

// demoEpoch is the day the demo regimes are written around.
var demoEpoch = time.Date(2016, 5, 1, 0, 0, 0, 0, time.UTC)

// Demo returns the demo configuration of configs/demo/, its regimes moved
// so that demoEpoch falls on the day of now (UTC).
func Demo(now time.Time) (alerting.Config, error) {
	entries, err := fs.Glob(files, "demo/*.yaml")
	if err != nil {
		return alerting.Config{}, err
	}
	var all alerting.Config
	for _, name := range entries {
		data, err := files.ReadFile(name)
		if err != nil {
			return all, err
		}
		f, err := Parse(path.Join("configs", name), data)
		if err != nil {
			return all, err
		}
		if err := Merge(&all, f.Config); err != nil {
			return all, err
		}
	}
	shift := now.UTC().Truncate(24 * time.Hour).Sub(demoEpoch)
	for i := range all.Regimes {
		r := &all.Regimes[i]
		r.StartsAt = r.StartsAt.Add(shift)
		if r.EndsAt != nil {
			end := r.EndsAt.Add(shift)
			r.EndsAt = &end
		}
		for j := range r.Extensions {
			r.Extensions[j].Until = r.Extensions[j].Until.Add(shift)
		}
	}
	if ps := all.Validate(); len(ps) > 0 {
		return all, fmt.Errorf("demo configuration: %w", &alerting.ConfigError{Problems: ps})
	}
	return all, nil
}

// Merge appends src's objects to dst.
func Merge(dst *alerting.Config, src alerting.Config) error {
	a, err := dst.Objects()
	if err != nil {
		return err
	}
	b, err := src.Objects()
	if err != nil {
		return err
	}
	merged, err := alerting.ConfigOf(append(a, b...))
	if err != nil {
		return err
	}
	*dst = merged
	return nil
}

// DemoInboxPath is where the demo's webhook receiver listens; the demo
// contacts' webhooks point at DemoInboxPath + contact id.
const DemoInboxPath = "/demo/inbox/"

// demoBase is the address the demo contacts' webhooks are written with.
const demoBase = "http://127.0.0.1:8080"

// PointDemoInbox points the demo contacts' webhooks at the inbox of the
// server at base (http://host:port), wherever it listens.
func PointDemoInbox(c *alerting.Config, base string) {
	for i := range c.Contacts {
		for j := range c.Contacts[i].Methods {
			m := &c.Contacts[i].Methods[j]
			if rest, ok := strings.CutPrefix(m.URL, demoBase+DemoInboxPath); ok {
				m.URL = strings.TrimRight(base, "/") + DemoInboxPath + rest
			}
		}
	}
}
