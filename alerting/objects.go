package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Object is one configuration object as the store keeps it: its kind, id
// and JSON. Handling objects this way keeps storage, merging and the HTTP
// API free of a case per kind.
type Object struct {
	Kind string
	ID   string
	JSON json.RawMessage
}

// Objects lists the configuration's objects, kind by kind in Kinds order.
func (c Config) Objects() ([]Object, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	var byKind map[string][]json.RawMessage
	if err := json.Unmarshal(data, &byKind); err != nil {
		return nil, fmt.Errorf("encode configuration: %w", err)
	}
	var out []Object
	for _, kind := range Kinds {
		for _, raw := range byKind[kind] {
			var head struct{ ID string }
			if err := json.Unmarshal(raw, &head); err != nil {
				return nil, fmt.Errorf("encode configuration: %w", err)
			}
			out = append(out, Object{Kind: kind, ID: head.ID, JSON: raw})
		}
	}
	return out, nil
}

// ConfigOf builds a configuration from objects; unknown fields are errors.
func ConfigOf(objects []Object) (Config, error) {
	byKind := make(map[string][]json.RawMessage, len(Kinds))
	for _, o := range objects {
		if !slices.Contains(Kinds, o.Kind) {
			return Config{}, fmt.Errorf("unknown kind of configuration %q", o.Kind)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o.JSON)
	}
	data, err := json.Marshal(byKind)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := decodeStrictJSON(data, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// MergeConfig replaces current's objects by kind and id with add's, keeping
// the others first. Offsets says, per kind, how many kept objects precede
// add's, so problems found in the merge can be pointed back at add.
func MergeConfig(current, add Config) (merged Config, offsets map[string]int, err error) {
	cur, err := current.Objects()
	if err != nil {
		return Config{}, nil, err
	}
	adds, err := add.Objects()
	if err != nil {
		return Config{}, nil, err
	}
	replaced := map[[2]string]bool{}
	for _, o := range adds {
		replaced[[2]string{o.Kind, o.ID}] = true
	}
	offsets = map[string]int{}
	var out []Object
	for _, o := range cur {
		if !replaced[[2]string{o.Kind, o.ID}] {
			out = append(out, o)
			offsets[o.Kind]++
		}
	}
	merged, err = ConfigOf(append(out, adds...))
	return merged, offsets, err
}

// Without returns the configuration less one object.
func (c Config) Without(kind, id string) (Config, error) {
	objs, err := c.Objects()
	if err != nil {
		return Config{}, err
	}
	return ConfigOf(slices.DeleteFunc(objs, func(o Object) bool { return o.Kind == kind && o.ID == id }))
}

// Counts says how many objects of each kind the configuration holds.
func (c Config) Counts() map[string]int {
	objs, _ := c.Objects()
	out := make(map[string]int, len(Kinds))
	for _, o := range objs {
		out[o.Kind]++
	}
	return out
}

func decodeStrictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
