// Package openapitest holds what the tests that check truceline's answers
// against its OpenAPI document share. Only tests import it, so kin-openapi
// stays out of the server.
package openapitest

import (
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// CloseObjects forbids, for the tests, properties the document does not
// name in every object schema that lists properties and says nothing of
// others: an answer must not carry a field the document does not describe.
// GeoJSON geometries stay open: they are kept as given.
func CloseObjects(doc *openapi3.T) {
	no := false
	seen := map[*openapi3.Schema]bool{}
	if g := doc.Components.Schemas["Geometry"]; g != nil {
		seen[g.Value] = true
	}
	var walk func(s *openapi3.SchemaRef)
	walk = func(s *openapi3.SchemaRef) {
		if s == nil || s.Value == nil || seen[s.Value] {
			return
		}
		v := s.Value
		seen[v] = true
		if len(v.Properties) > 0 && v.AdditionalProperties.Has == nil && v.AdditionalProperties.Schema == nil {
			v.AdditionalProperties.Has = &no
		}
		for _, p := range v.Properties {
			walk(p)
		}
		walk(v.Items)
		walk(v.AdditionalProperties.Schema)
		for _, x := range slices.Concat(v.AllOf, v.AnyOf, v.OneOf) {
			walk(x)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
}

// SchemaProblem says where a value breaks its schema, and how, without
// printing the schema.
func SchemaProblem(e *openapi3.SchemaError) string {
	return fmt.Sprintf("at %q: %s", "/"+strings.Join(e.JSONPointer(), "/"), e.Reason)
}
