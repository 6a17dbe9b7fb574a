package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// APIVersion is the version of the HTTP API that openapi.json describes
// (its info.version).
const APIVersion = "1.0.0"

// openAPIDocument is the OpenAPI 3.0 description of the HTTP API, served
// at GET /api/v1/openapi.json. The tests in this package and in
// cmd/truceline/app hold it to the routes and the answers.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document (JSON).
func OpenAPI() []byte { return slices.Clone(openAPIDocument) }

// openAPI answers GET /api/v1/openapi.json.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(openAPIDocument)
}

// operationMethods are the path item fields of OpenAPI 3.0 that are
// operations.
var operationMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// DocumentedOperations lists the operations of the OpenAPI document as
// route patterns ("GET /api/v1/alerts/{id}"), sorted, to compare with
// (*Handler).Routes.
func DocumentedOperations() ([]string, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		return nil, fmt.Errorf("read openapi.json: %w", err)
	}
	var out []string
	for path, item := range doc.Paths {
		for method := range item {
			if slices.Contains(operationMethods, method) {
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
