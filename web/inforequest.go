package web

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/truceline/truceline/alerting"
)

// maxInfoBytes bounds the body of a request for information's action: an
// answer's text and its references fit.
const maxInfoBytes = 64 << 10

// askBody asks a party for information (POST /api/v1/alerts/{id}/info-requests).
type askBody struct {
	// To is the party asked; Party, when given, is the caller's own.
	To       string            `json:"to"`
	Question string            `json:"question"`
	Deadline *time.Time        `json:"deadline"`
	Within   alerting.Duration `json:"within"`
	Party    string            `json:"party"`
}

// answerBody answers a request (POST .../info-requests/{rid}/answer).
type answerBody struct {
	Text        string   `json:"text"`
	Attachments []string `json:"attachments"`
	Party       string   `json:"party"`
}

// withdrawBody withdraws a request (POST .../info-requests/{rid}/withdraw).
type withdrawBody struct {
	Reason string `json:"reason"`
	Party  string `json:"party"`
}

func (h *Handler) routeInfoRequests() {
	h.route("POST /api/v1/alerts/{id}/info-requests", signedIn, h.askInfo)
	h.route("POST /api/v1/alerts/{id}/info-requests/{rid}/answer", signedIn, h.answerInfo)
	h.route("POST /api/v1/alerts/{id}/info-requests/{rid}/withdraw", signedIn, h.withdrawInfo)
}

func (h *Handler) askInfo(w http.ResponseWriter, r *http.Request) {
	var b askBody
	h.infoAction(w, r, &b, func() string { return b.Party }, "alert.info_request.ask",
		func(ctx context.Context, id string, actor alerting.Actor) (*alerting.Alert, string, error) {
			a, err := h.opts.Actions.AskInfo(ctx, id, actor, alerting.InfoQuestion{Party: b.To, Question: b.Question, Deadline: b.Deadline, Within: b.Within})
			if err != nil {
				return nil, "", err
			}
			q := a.InfoRequests[len(a.InfoRequests)-1]
			return a, fmt.Sprintf("%s to %s, deadline %s: %s", q.ID, q.Party, q.Deadline.Format(time.RFC3339), truncate(q.Question, 120)), nil
		})
}

func (h *Handler) answerInfo(w http.ResponseWriter, r *http.Request) {
	var b answerBody
	rid := r.PathValue("rid")
	h.infoAction(w, r, &b, func() string { return b.Party }, "alert.info_request.answer",
		func(ctx context.Context, id string, actor alerting.Actor) (*alerting.Alert, string, error) {
			a, err := h.opts.Actions.AnswerInfo(ctx, id, actor, rid, b.Text, b.Attachments)
			if err != nil {
				return nil, "", err
			}
			ans := a.InfoRequest(rid).Answer
			detail := rid + " for " + ans.Party
			if ans.OnBehalf {
				detail += " (recorded on its behalf)"
			}
			if ans.Late {
				detail += ", late"
			}
			return a, detail + ": " + truncate(b.Text, 120), nil
		})
}

func (h *Handler) withdrawInfo(w http.ResponseWriter, r *http.Request) {
	var b withdrawBody
	rid := r.PathValue("rid")
	h.infoAction(w, r, &b, func() string { return b.Party }, "alert.info_request.withdraw",
		func(ctx context.Context, id string, actor alerting.Actor) (*alerting.Alert, string, error) {
			a, err := h.opts.Actions.WithdrawInfo(ctx, id, actor, rid, b.Reason)
			if err != nil {
				return nil, "", err
			}
			return a, rid + ": " + truncate(b.Reason, 120), nil
		})
}

// infoAction runs an action on a request for information as alertAction
// runs the other actions: the body decoded strictly into body, the alert
// visible (404) and in the caller's zones (403), the acting party the
// caller's own; then the action, audited as auditAction.
func (h *Handler) infoAction(w http.ResponseWriter, r *http.Request, body any, party func() string, auditAction string,
	act func(ctx context.Context, id string, actor alerting.Actor) (*alerting.Alert, string, error)) {
	data, err := readBody(w, r, maxInfoBytes)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if err := decodeStrict(data, body); err != nil {
		h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad request body",
			Fields: []alerting.FieldProblem{{Field: "(body)", Problem: err.Error()}}})
		return
	}
	if p := party(); p != "" {
		if _, ok := h.opts.Catalog.Catalog().Party(p); !ok {
			h.writeError(w, r, &alerting.Error{Code: alerting.EINVALID, Message: "bad request body",
				Fields: []alerting.FieldProblem{{Field: "party", Problem: "unknown party " + strconv.Quote(p)}}})
			return
		}
	}
	id := r.PathValue("id")
	actor, err := h.actorOn(r, id, party())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	a, detail, err := act(r.Context(), id, actor)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.audit(r, auditAction, "alert "+id, a.Zone, detail)
	writeJSON(w, http.StatusOK, a)
}
