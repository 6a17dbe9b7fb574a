package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		// Everyone signed in reads the zones they may see and the
		// parties; the rest names every zone.
		read := readsConfig
		switch kind {
		case alerting.KindZones, alerting.KindParties, alerting.KindRegimes, alerting.KindPolicies:
			// Regimes and policies as a read view of the caller's zones
			// (see zoneView), so that liaisons see what governs them.
			read = signedIn
		}
		h.route("GET /api/v1/"+kind, read, h.listConfig(kind))
		h.route("GET /api/v1/"+kind+"/{id}", read, h.getConfig(kind))
		h.route("PUT /api/v1/"+kind+"/{id}", adminOnly, h.putConfig(kind))
		h.route("DELETE /api/v1/"+kind+"/{id}", adminOnly, h.deleteConfig(kind))
	}
	h.route("POST /api/v1/config", adminOnly, h.applyConfig)
	h.route("POST /api/v1/rules/validate", adminOnly, h.validateConfig)
}

// ofKind returns the configuration's objects of one kind.
func ofKind(c alerting.Config, kind string) ([]alerting.Object, error) {
	all, err := c.Objects()
	if err != nil {
		return nil, err
	}
	out := []alerting.Object{}
	for _, o := range all {
		if o.Kind == kind {
			out = append(out, o)
		}
	}
	return out, nil
}

// zoneView is what a caller who may not read the whole configuration
// sees of one kind: the zones it sees (or reports on) and every party; the
// regimes covering any of those zones, listing only those; and the name and
// acknowledgement rules of the policies of the rules judging those zones,
// without their steps, which name contacts and schedules.
func zoneView(cfg alerting.Config, kind string, sees func(zone string) bool) ([]alerting.Object, error) {
	var zones []string
	for _, z := range cfg.Zones {
		if sees(z.ID) {
			zones = append(zones, z.ID)
		}
	}
	var view alerting.Config
	switch kind {
	case alerting.KindZones:
		view.Zones = slices.DeleteFunc(slices.Clone(cfg.Zones), func(z alerting.Zone) bool { return !sees(z.ID) })
	case alerting.KindParties:
		view.Parties = cfg.Parties
	case alerting.KindRegimes:
		for _, rg := range cfg.Regimes {
			covered := slices.DeleteFunc(slices.Clone(zones), func(z string) bool { return !rg.Covers(z) })
			if len(covered) > 0 {
				rg.Zones = covered
				view.Regimes = append(view.Regimes, rg)
			}
		}
	case alerting.KindPolicies:
		used := map[string]bool{}
		for _, rule := range cfg.Rules {
			if rule.Policy != "" && slices.ContainsFunc(zones, rule.Covers) {
				used[rule.Policy] = true
			}
		}
		for _, pol := range cfg.Policies {
			if used[pol.ID] {
				view.Policies = append(view.Policies, alerting.Policy{ID: pol.ID, Name: pol.Name,
					RequireAckFrom: pol.RequireAckFrom, OnWorsened: pol.OnWorsened, Steps: []alerting.Step{}})
			}
		}
	default:
		return nil, alerting.Errorf(alerting.EFORBIDDEN, "reading %s needs a role that reads the configuration", kind)
	}
	return ofKind(view, kind)
}

// loadKind reads the stored objects of one kind, answering the error itself.
func (h *Handler) loadKind(w http.ResponseWriter, r *http.Request, kind string) ([]alerting.Object, int64, bool) {
	cfg, version, err := h.opts.Config.LoadConfig(r.Context())
	if err == nil {
		var objs []alerting.Object
		if p := principal(r); !p.ReadsConfig() {
			objs, err = zoneView(cfg, kind, func(zone string) bool { return p.SeesZone(zone) || p.Submits(zone) })
		} else {
			objs, err = ofKind(cfg.Redacted(), kind)
		}
		if err == nil {
			return objs, version, true
		}
	}
	h.writeError(w, r, err)
	return nil, 0, false
}

func (h *Handler) listConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		objs, version, ok := h.loadKind(w, r, kind)
		if !ok {
			return
		}
		items := make([]json.RawMessage, len(objs))
		for i, o := range objs {
			items[i] = o.JSON
		}
		writeJSON(w, http.StatusOK, map[string]any{kind: items, "version": version})
	}
}

func (h *Handler) getConfig(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		objs, _, ok := h.loadKind(w, r, kind)
		if !ok {
			return
		}
		for _, o := range objs {
			if o.ID == r.PathValue("id") {
				writeJSON(w, http.StatusOK, o.JSON)
				return
			}
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
		id := r.PathValue("id")
		bad := func(problem string) {
			h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad " + singular(kind),
				Fields: []alerting.FieldProblem{{Field: "(body)", Problem: problem}}})
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
			bad("must be a JSON object")
			return
		}
		if raw, ok := fields["id"]; ok {
			var bodyID string
			if json.Unmarshal(raw, &bodyID) != nil || bodyID != id {
				bad(fmt.Sprintf("id must be %q, as in the path, or absent", id))
				return
			}
		}
		fields["id"], _ = json.Marshal(id)
		obj, _ := json.Marshal(fields)
		cfg, err := alerting.ConfigOf([]alerting.Object{{Kind: kind, ID: id, JSON: obj}})
		if err != nil {
			bad(err.Error())
			return
		}
		version, problems, err := h.opts.Config.ApplyConfig(r.Context(), cfg, false)
		if err != nil {
			h.writeError(w, r, err)
			return
		}
		if len(problems) > 0 {
			h.writeError(w, r, problemsError(alerting.EINVALID, singular(kind)+" "+id+" is invalid", problems, "$."+kind+"[0]."))
			return
		}
		h.audit(r, "config.put", kind+"/"+id, "", "version "+strconv.FormatInt(version, 10))
		stored, _ := ofKind(cfg.Redacted(), kind)
		w.Header().Set("Truceline-Config-Version", strconv.FormatInt(version, 10))
		writeJSON(w, http.StatusOK, stored[0].JSON)
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
		h.audit(r, "config.delete", kind+"/"+r.PathValue("id"), "", "")
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
	if !dryRun {
		h.audit(r, "config.apply", "configuration", "", fmt.Sprintf("version %d: %v", version, cfg.Counts()))
	}
	writeJSON(w, http.StatusOK, map[string]any{"version": version, "dry_run": dryRun, "applied": cfg.Counts(),
		"warnings": warnings(cfg, nil)})
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
	writeJSON(w, http.StatusOK, map[string]any{"valid": len(problems) == 0, "problems": problems, "warnings": warnings(cfg, file)})
}

// warnings are what cfg allows but its author probably did not mean
// (alerting.Config.Warnings), located in file when it came from one;
// never nil.
func warnings(cfg alerting.Config, file *configs.File) []alerting.Problem {
	ws := cfg.Warnings()
	for i := range ws {
		if file != nil {
			ws[i] = file.Locate(ws[i])
		}
	}
	if ws == nil {
		ws = []alerting.Problem{}
	}
	return ws
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

func singular(kind string) string {
	if kind == alerting.KindPolicies {
		return "policy"
	}
	if kind == alerting.KindParties {
		return "party"
	}
	return strings.TrimSuffix(kind, "s")
}
