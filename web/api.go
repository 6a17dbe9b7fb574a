package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
)

// maxActionBytes bounds the body of an alert action (ack, resolve).
const maxActionBytes = 8 << 10

// postReport admits a report and answers 202 once JetStream has stored it.
func (h *Handler) postReport(w http.ResponseWriter, r *http.Request) {
	p, now := principal(r), h.limits.now()
	caller := p.User
	if p.TokenID != "" {
		caller = "token " + p.TokenID
	}
	if h.limited(w, r, h.limits.reportsByCaller.allow(caller, now) && h.limits.reportsByAddress.allow(clientAddress(r), now)) {
		h.metrics.reports.WithLabelValues("rate_limited").Inc()
		return
	}
	data, fromCAP, err := h.reportBody(w, r)
	if err != nil {
		h.metrics.reports.WithLabelValues("rejected").Inc()
		h.writeError(w, r, err)
		return
	}
	arrival := alerting.Arrival{By: alerting.Submitter{Via: alerting.ViaHTTP, User: p.User, Token: p.TokenID},
		AssignedID: h.opts.NewReportID()}
	if fromCAP != nil {
		arrival.By.Via, arrival.Amends, arrival.Withdraws = alerting.ViaCAP, fromCAP.Amends, fromCAP.Withdraws
	}
	report, err := h.opts.Intake.Admit(data, arrival)
	err = fromCAP.Explain(err)
	if err == nil && !p.Submits(report.Zone) {
		err = alerting.Errorf(alerting.EFORBIDDEN, "%s may not submit reports for zone %q", p.User, report.Zone)
		if !p.SeesZone(report.Zone) {
			// To the caller, a zone it may not see does not exist.
			err = &alerting.Error{Code: alerting.EINVALID, Message: "invalid report",
				Fields: []alerting.FieldProblem{{Field: "zone", Problem: "unknown zone " + strconv.Quote(report.Zone)}}}
		}
	}
	var warnings []string
	if fromCAP != nil {
		warnings = fromCAP.Warnings
	}
	if err == nil && report.Amends != "" {
		warnings, err = h.amends(r.Context(), &report, warnings)
	}
	if err != nil {
		h.metrics.reports.WithLabelValues("rejected").Inc()
		h.writeError(w, r, err)
		return
	}
	duplicate, err := h.opts.Reports.PublishReport(r.Context(), &report)
	if err != nil {
		h.metrics.reports.WithLabelValues("unavailable").Inc()
		h.writeError(w, r, err)
		return
	}
	h.metrics.reports.WithLabelValues("accepted").Inc()
	writeJSON(w, http.StatusAccepted, struct {
		ID          string   `json:"id"`
		SubmittedID string   `json:"submitted_id,omitempty"`
		Amends      string   `json:"amends,omitempty"`
		Withdraws   bool     `json:"withdraws,omitempty"`
		Duplicate   bool     `json:"duplicate,omitempty"`
		Warnings    []string `json:"warnings,omitempty"`
	}{report.ID, report.SubmittedID, report.Amends, report.Withdraws, duplicate, warnings})
}

// amends checks that the report a CAP Update or Cancel names is one the
// engine has processed, so that every replica finds it when it handles
// the amendment, whatever order they take reports in. A Cancel of any
// other is refused; an Update of one is a report of its own, and the
// answer warns of it.
func (h *Handler) amends(ctx context.Context, report *alerting.Report, warnings []string) ([]string, error) {
	_, err := h.opts.Alerts.Report(ctx, report.Amends)
	switch {
	case alerting.ErrorCode(err) != alerting.ENOTFOUND:
		return warnings, err
	case report.Withdraws:
		return warnings, &alerting.Error{Code: alerting.ECONFLICT, Message: "nothing to withdraw",
			Fields: []alerting.FieldProblem{{Field: "references", Problem: fmt.Sprintf(
				"%q names no report of yours in zone %q that truceline has processed; if you sent it a moment ago, send the Cancel again shortly",
				report.References[len(report.References)-1], report.Zone)}}}
	}
	report.Amends = ""
	return append(warnings, fmt.Sprintf("references: %q names no report of yours in zone %q that truceline has processed; this Update counts as a report of its own",
		report.References[len(report.References)-1], report.Zone)), nil
}

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, alerting.Errorf(alerting.EINVALID, "Content-Type must be application/json, not %q", ct)
		}
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, alerting.Errorf(alerting.ETOOLARGE, "request body exceeds %d bytes", limit)
	case err != nil:
		return nil, alerting.Errorf(alerting.EINVALID, "cannot read request body: %v", err)
	}
	return data, nil
}

func (h *Handler) getReport(w http.ResponseWriter, r *http.Request) {
	report, err := h.opts.Alerts.Report(r.Context(), r.PathValue("id"))
	if err == nil && !principal(r).SeesZone(report.Zone) {
		err = alerting.Errorf(alerting.ENOTFOUND, "report %s not found", r.PathValue("id"))
	}
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, report)
}

func (h *Handler) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f alerting.AlertFilter
	catalog := h.opts.Catalog.Catalog()
	var problems []alerting.FieldProblem
	p := principal(r)
	if zones := q.Get("zone"); zones != "" {
		for zone := range strings.SplitSeq(zones, ",") {
			if _, ok := catalog.Zone(zone); !ok || !p.SeesZone(zone) {
				problems = append(problems, alerting.FieldProblem{Field: "zone", Problem: "unknown zone " + strconv.Quote(zone)})
			}
			f.Zones = append(f.Zones, zone)
		}
	} else {
		for _, z := range catalog.Zones() {
			if p.SeesZone(z.ID) {
				f.Zones = append(f.Zones, z.ID)
			}
		}
		if len(f.Zones) == 0 {
			writeJSON(w, http.StatusOK, struct {
				Alerts []*alerting.Alert `json:"alerts"`
			}{[]*alerting.Alert{}})
			return
		}
	}
	switch state := alerting.State(q.Get("state")); state {
	case "", alerting.StateOpen, alerting.StateAcknowledged, alerting.StateResolved:
		f.State = state
	default:
		problems = append(problems, alerting.FieldProblem{Field: "state", Problem: "must be open, acknowledged or resolved"})
	}
	f.Limit = intParam(r, "limit", 0, 1, 5000, &problems)
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	alerts, err := h.opts.Alerts.Alerts(r.Context(), f)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Alerts []*alerting.Alert `json:"alerts"`
	}{alerts})
}

func (h *Handler) getAlert(w http.ResponseWriter, r *http.Request) {
	a, err := h.visibleAlert(r, r.PathValue("id"))
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if h.answerCAP(w, r, a) {
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// visibleAlert reads an alert the caller may see; one it may not is not
// found, like one that does not exist.
func (h *Handler) visibleAlert(r *http.Request, id string) (*alerting.Alert, error) {
	a, err := h.opts.Alerts.Alert(r.Context(), id)
	if err == nil && !principal(r).SeesZone(a.Zone) {
		return nil, alerting.Errorf(alerting.ENOTFOUND, "alert %s not found", id)
	}
	return a, err
}

// alertReports lists every report id of an alert, a page at a time.
func (h *Handler) alertReports(w http.ResponseWriter, r *http.Request) {
	var problems []alerting.FieldProblem
	offset := intParam(r, "offset", 0, 0, math.MaxInt, &problems)
	limit := intParam(r, "limit", 1000, 1, 10000, &problems)
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad query", Fields: problems})
		return
	}
	if _, err := h.visibleAlert(r, r.PathValue("id")); err != nil {
		h.writeError(w, r, err)
		return
	}
	ids, total, err := h.opts.Alerts.AlertReports(r.Context(), r.PathValue("id"), offset, limit)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		ReportIDs []string `json:"report_ids"`
		Total     int      `json:"total"`
		Offset    int      `json:"offset"`
	}{ids, total, offset})
}

// actionBody is what an alert action may carry. The actor is the signed-in
// user; Party, when given, must be the user's own, and By is accepted for
// older clients but ignored.
type actionBody struct {
	By      string                `json:"by"`
	Party   string                `json:"party"`
	Note    string                `json:"note"`
	Status  alerting.Verification `json:"status"`  // verify; attribution's status too
	Alleged string                `json:"alleged"` // attribution
	Until   *time.Time            `json:"until"`   // snooze
	For     alerting.Duration     `json:"for"`     // snooze, instead of until
}

type action func(ctx context.Context, id string, actor alerting.Actor, body actionBody, now time.Time) (*alerting.Alert, error)

func (h *Handler) ackAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, _ time.Time) (*alerting.Alert, error) {
		return h.opts.Actions.Acknowledge(ctx, id, actor, b.Note)
	})
}

func (h *Handler) resolveAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, _ time.Time) (*alerting.Alert, error) {
		return h.opts.Actions.Resolve(ctx, id, actor, b.Note)
	})
}

func (h *Handler) verifyAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, _ time.Time) (*alerting.Alert, error) {
		return h.opts.Actions.Verify(ctx, id, actor, b.Status, b.Note)
	})
}

func (h *Handler) attributeAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, _ time.Time) (*alerting.Alert, error) {
		return h.opts.Actions.Attribute(ctx, id, actor, b.Alleged, alerting.AttributionStatus(b.Status), b.Note)
	})
}

func (h *Handler) commentAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, _ time.Time) (*alerting.Alert, error) {
		return h.opts.Actions.Comment(ctx, id, actor, b.Note)
	})
}

func (h *Handler) snoozeAlert(w http.ResponseWriter, r *http.Request) {
	h.alertAction(w, r, func(ctx context.Context, id string, actor alerting.Actor, b actionBody, now time.Time) (*alerting.Alert, error) {
		if b.Until == nil && b.For == 0 {
			return nil, &alerting.Error{Code: alerting.EINVALID, Message: "say how long to snooze",
				Fields: []alerting.FieldProblem{{Field: "for", Problem: "give for (like 30m) or until (RFC 3339)"}}}
		}
		until := now.Add(time.Duration(b.For))
		if b.Until != nil {
			until = *b.Until
		}
		return h.opts.Actions.Snooze(ctx, id, actor, until, b.Note)
	})
}

func (h *Handler) alertAction(w http.ResponseWriter, r *http.Request, act action) {
	data, err := readBody(w, r, maxActionBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var body actionBody
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := decodeStrict(data, &body); err != nil {
			h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad action body",
				Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}})
			return
		}
	}
	var problems []alerting.FieldProblem
	if len(body.By) > 128 {
		problems = append(problems, alerting.FieldProblem{Field: "by", Problem: "is longer than 128 bytes"})
	}
	if len(body.Note) > 2048 {
		problems = append(problems, alerting.FieldProblem{Field: "note", Problem: "is longer than 2048 bytes"})
	}
	if body.Party != "" {
		switch p, ok := h.opts.Catalog.Catalog().Party(body.Party); {
		case !ok:
			problems = append(problems, alerting.FieldProblem{Field: "party", Problem: "unknown party " + strconv.Quote(body.Party)})
		case p.Status == alerting.PartyExcluded:
			problems = append(problems, alerting.FieldProblem{Field: "party", Problem: strconv.Quote(body.Party) + " is excluded from the ceasefire and cannot act on alerts"})
		}
	}
	if len(problems) > 0 {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad action body", Fields: problems})
		return
	}
	id := r.PathValue("id")
	actor, err := h.actorOn(r, id, body.Party)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	a, err := act(r.Context(), id, actor, body, time.Now())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, "alert."+actionName(r.URL.Path), "alert "+id, a.Zone, truncate(body.Note, 200))
	writeJSON(w, http.StatusOK, a)
}

// actorOn is who the caller acts as on alert id, for party: the alert must
// be one it sees (else not found) in a zone it acts on (else forbidden).
func (h *Handler) actorOn(r *http.Request, id, party string) (alerting.Actor, error) {
	current, err := h.visibleAlert(r, id)
	if err != nil {
		return alerting.Actor{}, err
	}
	p := principal(r)
	if !p.ActsOn(current.Zone) {
		return alerting.Actor{}, alerting.Errorf(alerting.EFORBIDDEN, "a %s may not act on alerts", strings.ReplaceAll(string(p.Role), "_", " "))
	}
	return p.Actor(party)
}

// actionName is the last element of an action's path: ack, resolve, ...
func actionName(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 only when every dependency answers, and names those
// that do not.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := make(map[string]string, len(h.opts.Ready))
	status := http.StatusOK
	for _, c := range h.opts.Ready {
		if err := c.Check(ctx); err != nil {
			checks[c.Name] = err.Error()
			status = http.StatusServiceUnavailable
		} else {
			checks[c.Name] = "ok"
		}
	}
	body := map[string]any{"ready": status == http.StatusOK, "checks": checks, "config_version": h.opts.Catalog.Catalog().Version}
	if h.opts.Healing != nil {
		if zones := h.opts.Healing(); len(zones) > 0 {
			body["healing"] = zones
		}
	}
	writeJSON(w, status, body)
}
