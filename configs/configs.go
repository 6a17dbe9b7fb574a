// Package configs holds truceline's shipped configuration: the documented
// default server configuration (truceline.yaml) and the demo zones and
// parties (demo/), embedded so that `truceline serve --demo` needs no files,
// and the parser for configuration bundles in YAML.
package configs

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"

	"github.com/goccy/go-yaml"

	"github.com/truceline/truceline/alerting"
)

//go:embed truceline.yaml demo/*.yaml
var files embed.FS

// DefaultServerConfig is configs/truceline.yaml, every option at its default.
func DefaultServerConfig() []byte {
	data, _ := files.ReadFile("truceline.yaml")
	return data
}

// Bundle is a set of configuration objects, as one or more YAML files hold
// them.
type Bundle struct {
	Zones   []alerting.Zone
	Parties []alerting.Party
}

// file is the YAML shape of a configuration file.
type file struct {
	Zones   []zoneYAML       `yaml:"zones"`
	Parties []alerting.Party `yaml:"parties"`
}

type zoneYAML struct {
	ID       string         `yaml:"id"`
	Name     string         `yaml:"name"`
	Tags     []string       `yaml:"tags"`
	Geometry map[string]any `yaml:"geometry"`
}

// Parse reads one YAML configuration file; name is used in error messages.
// Unknown fields are errors, with their line and column.
func Parse(name string, data []byte) (*Bundle, error) {
	var f file
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%s: %s", name, yaml.FormatError(err, false, false))
	}
	b := &Bundle{Parties: f.Parties}
	for _, z := range f.Zones {
		zone := alerting.Zone{ID: z.ID, Name: z.Name, Tags: z.Tags}
		if z.Geometry != nil {
			geo, err := json.Marshal(z.Geometry)
			if err != nil {
				return nil, fmt.Errorf("%s: zone %s: geometry: %w", name, z.ID, err)
			}
			zone.Geometry = geo
		}
		b.Zones = append(b.Zones, zone)
	}
	for _, z := range b.Zones {
		if err := z.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for _, p := range b.Parties {
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return b, nil
}

// Demo returns the demo configuration of configs/demo/.
func Demo() (*Bundle, error) {
	entries, err := fs.Glob(files, "demo/*.yaml")
	if err != nil {
		return nil, err
	}
	all := &Bundle{}
	for _, name := range entries {
		data, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		b, err := Parse(path.Join("configs", name), data)
		if err != nil {
			return nil, err
		}
		all.Zones = append(all.Zones, b.Zones...)
		all.Parties = append(all.Parties, b.Parties...)
	}
	return all, nil
}
