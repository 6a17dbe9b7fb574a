package cap

import (
	"fmt"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
)

// Requests for information travel in each message as parameters, as they
// stood right after the message's entry (a request asked later is not in
// it; one answered later is still open or overdue there):
//
//	truceline-info-request  "ir-1 to party-b (asked for party-a): overdue, deadline 2026-11-24T11:40:02-00:00: Which unit fired?"
//	truceline-info-answer   "ir-1 from party-b (late, recorded on its behalf) 2026-11-24T13:02:11-00:00: A mortar crew. Documents: doc:B-113"
//
// and the timeline entries that ask, answer, withdraw and find them overdue
// are Update messages whose note says so (docs/CAP.md).
const (
	InfoRequestParameter = "truceline-info-request"
	InfoAnswerParameter  = "truceline-info-answer"
)

// infoParameters are the alert's requests for information at at.
func infoParameters(a *alerting.Alert, at time.Time) []ValuePair {
	var ps []ValuePair
	for _, r := range a.InfoRequests {
		if r.AskedAt.After(at) {
			continue
		}
		state := alerting.InfoRequestOpen
		switch {
		case r.Answer != nil && !r.Answer.At.After(at):
			state = alerting.InfoRequestAnswered
		case r.Withdrawal != nil && !r.Withdrawal.At.After(at):
			state = alerting.InfoRequestWithdrawn
		case r.OverdueAt != nil && !r.OverdueAt.After(at):
			state = alerting.InfoRequestOverdue
		}
		asker := "the centre"
		if r.AskedFor != "" {
			asker = r.AskedFor
		}
		ps = append(ps, ValuePair{InfoRequestParameter, fmt.Sprintf("%s to %s (asked for %s): %s, deadline %s: %s",
			r.ID, r.Party, asker, state, DateTime(r.Deadline), r.Question)})
		switch state {
		case alerting.InfoRequestAnswered:
			var how []string
			if r.Answer.Late {
				how = append(how, "late")
			}
			if r.Answer.OnBehalf {
				how = append(how, "recorded on its behalf")
			}
			v := fmt.Sprintf("%s from %s", r.ID, r.Answer.Party)
			if len(how) > 0 {
				v += " (" + strings.Join(how, ", ") + ")"
			}
			v += " " + DateTime(r.Answer.At) + ": " + r.Answer.Text
			if len(r.Answer.Attachments) > 0 {
				v += " Documents: " + strings.Join(r.Answer.Attachments, " ")
			}
			ps = append(ps, ValuePair{InfoAnswerParameter, v})
		}
	}
	return ps
}
