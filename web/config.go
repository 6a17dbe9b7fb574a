package web

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/configs"
)

// ConfigStore keeps the configuration objects.
type ConfigStore interface {
	LoadConfig(ctx context.Context) (alerting.Config, int64, error)
	ApplyConfig(ctx context.Context, cfg alerting.Config, dryRun bool) (int64, []alerting.Problem, error)
	DeleteConfig(ctx context.Context, kind, id string) (int64, []alerting.Problem, error)
}

// maxConfigBytes bounds a configuration request.
const maxConfigBytes = 4 << 20

func (h *Handler) routeConfig() {
	for _, kind := range alerting.Kinds {
		h.route("GET /api/v1/"+kind, h.listConfig(kind))
		h.route("GET /api/v1/"+kind+"/{id}", h.getConfig(kind))
		h.route("PUT /api/v1/"+kind+"/{id}", h.putConfig(kind))
		h.route("DELETE /api/v1/"+kind+"/{id}", h.deleteConfig(kind))
	}
	h.route("POST /api/v1/config", h.applyConfig)
	h.route("POST /api/v1/rules/validate", h.validateConfig)
}

// objects returns the objects of one kind as a slice of any, and the id of
// each.
func objects(c alerting.Config, kind string) ([]any, []string) {
	var items []any
	var ids []string
	add := func(v any, id string) { items = append(items, v); ids = append(ids, id) }
	switch kind {
	case alerting.KindZones:
		for _, x := range c.Zones {
			add(x, x.ID)
		}
	case alerting.KindParties:
		for _, x := range c.Parties {
			add(x, x.ID)
		}
	case alerting.KindRegimes:
		for _, x := range c.Regimes {
			add(x, x.ID)
		}
	case alerting.KindPolicies:
		for _, x := range c.Policies {
			add(x, x.ID)
		}
	case alerting.KindRules:
		for _, x := range c.Rules {
			add(x, x.ID)
		}
	}
	if items == nil {
		items = []any{}
	}
	return items, ids
}

func (h *Handler) listConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg, version, err := h.opts.Config.LoadConfig(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		items, _ := objects(cfg, kind)
		writeJSON(w, http.StatusOK, map[string]any{kind: items, "version": version})
	}
}

func (h *Handler) getConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cfg, _, err := h.opts.Config.LoadConfig(r.Context())
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		items, ids := objects(cfg, kind)
		if i := slices.Index(ids, r.PathValue("id")); i >= 0 {
			writeJSON(w, http.StatusOK, items[i])
			return
		}
		h.writeError(w, r, alerting.Errorf(alerting.ENOTFOUND, "no %s %q", singular(kind), r.PathValue("id")))
	}
}

// putConfig adds or replaces one object; its id is the one in the path.
func (h *Handler) putConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		data, err := readBody(w, r, maxConfigBytes)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		// Decode the object as the one element of its kind's list, so
		// unknown fields and types are checked as for a whole file.
		var cfg alerting.Config
		wrapped := append(append([]byte(`{"`+kind+`":[`), data...), ']', '}')
		if err := decodeStrict(wrapped, &cfg); err != nil {
			h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad " + singular(kind),
				Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}})
			return
		}
		items, ids := objects(cfg, kind)
		id := r.PathValue("id")
		if len(ids) != 1 || (ids[0] != "" && ids[0] != id) {
			h.writeError(w, r, alerting.Errorf(alerting.EINVALID, "the body must be one %s whose id is %q (or has none)", singular(kind), id))
			return
		}
		setID(&cfg, kind, id)
		version, problems, err := h.opts.Config.ApplyConfig(r.Context(), cfg, false)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(problems) > 0 {
			h.writeError(w, r, problemsError(alerting.EINVALID, singular(kind)+" "+id+" is invalid", problems, "$."+kind+"[0]."))
			return
		}
		items, _ = objects(cfg, kind)
		w.Header().Set("Truceline-Config-Version", strconv.FormatInt(version, 10))
		writeJSON(w, http.StatusOK, items[0])
	}
}

func (h *Handler) deleteConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, problems, err := h.opts.Config.DeleteConfig(r.Context(), kind, r.PathValue("id"))
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(problems) > 0 {
			h.writeError(w, r, problemsError(alerting.ECONFLICT, "other objects need "+singular(kind)+" "+r.PathValue("id"), problems, ""))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

// applyConfig adds or replaces every object of a configuration in one
// transaction (?dry_run=true only validates). Problems name paths into the
// body ($.rules[2].policy).
func (h *Handler) applyConfig(w http.ResponseWriter, r *http.Request) {
	cfg, ok := h.readConfig(w, r)
	if !ok {
		return
	}
	dryRun := r.URL.Query().Get("dry_run") == "true"
	version, problems, err := h.opts.Config.ApplyConfig(r.Context(), cfg, dryRun)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(problems) > 0 {
		h.writeError(w, r, problemsError(alerting.EINVALID, "the configuration is invalid", problems, ""))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": version, "dry_run": dryRun, "applied": counts(cfg)})
}

// validateConfig judges a configuration (JSON, or one YAML file whose
// problems then carry lines and columns) against the stored one, and writes
// nothing.
func (h *Handler) validateConfig(w http.ResponseWriter, r *http.Request) {
	var file *configs.File
	var cfg alerting.Config
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/yaml" || mt == "application/x-yaml" {
		r.Header.Set("Content-Type", "application/json") // readBody checks for JSON
		data, err := readBody(w, r, maxConfigBytes)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		name := r.URL.Query().Get("file")
		if name == "" {
			name = "(body)"
		}
		f, err := configs.Parse(name, data)
		if err != nil {
			var pe *configs.ParseError
			if errors.As(err, &pe) {
				writeJSON(w, http.StatusOK, map[string]any{"valid": false, "problems": []alerting.Problem{pe.Problem}})
				return
			}
			h.writeError(w, r, err)
			return
		}
		file, cfg = f, f.Config
	} else {
		var ok bool
		if cfg, ok = h.readConfig(w, r); !ok {
			return
		}
	}
	_, problems, err := h.opts.Config.ApplyConfig(r.Context(), cfg, true)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if file != nil {
		for i := range problems {
			problems[i] = file.Locate(problems[i])
		}
	}
	if problems == nil {
		problems = []alerting.Problem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"valid": len(problems) == 0, "problems": problems})
}

func (h *Handler) readConfig(w http.ResponseWriter, r *http.Request) (alerting.Config, bool) {
	var cfg alerting.Config
	data, err := readBody(w, r, maxConfigBytes)
	if err != nil {
		h.writeError(w, r, err)
		return cfg, false
	}
	if err := decodeStrict(data, &cfg); err != nil {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad configuration",
			Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}})
		return cfg, false
	}
	return cfg, true
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailing
	}
	return nil
}

// problemsError turns configuration problems into an API error whose
// fields are their paths, less a prefix.
func problemsError(code, message string, ps []alerting.Problem, prefix string) error {
	fields := make([]alerting.FieldProblem, len(ps))
	for i, p := range ps {
		field := strings.TrimPrefix(p.Path, prefix)
		if field == "" {
			field = p.Path
		}
		fields[i] = alerting.FieldProblem{Field: field, Problem: p.Message}
	}
	return &alerting.Error{Code: code, Message: message, Fields: fields}
}

func counts(c alerting.Config) map[string]int {
	return map[string]int{alerting.KindZones: len(c.Zones), alerting.KindParties: len(c.Parties),
		alerting.KindRegimes: len(c.Regimes), alerting.KindPolicies: len(c.Policies), alerting.KindRules: len(c.Rules)}
}

func setID(c *alerting.Config, kind, id string) {
	switch kind {
	case alerting.KindZones:
		c.Zones[0].ID = id
	case alerting.KindParties:
		c.Parties[0].ID = id
	case alerting.KindRegimes:
		c.Regimes[0].ID = id
	case alerting.KindPolicies:
		c.Policies[0].ID = id
	case alerting.KindRules:
		c.Rules[0].ID = id
	}
}

func singular(kind string) string {
	if kind == alerting.KindPolicies {
		return "policy"
	}
	if kind == alerting.KindParties {
		return "party"
	}
	return strings.TrimSuffix(kind, "s")
}
