package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// AttributionStatus is a party's judgement of whether an alleged party did
// what an alert is about. Attribution is kept apart from observation: the
// reports' attributed_to says who a report alleges did it (Alert.Alleged);
// a judgement is a party's later, separate conclusion about one of them.
type AttributionStatus string

// Attribution statuses.
const (
	// Substantiated: the judging party finds that the alleged party did it.
	Substantiated AttributionStatus = "substantiated"
	// NotSubstantiated: it finds the allegation not borne out.
	NotSubstantiated AttributionStatus = "not_substantiated"
	// Undetermined: it cannot tell either way (yet).
	Undetermined AttributionStatus = "undetermined"
)

// AttributionStatuses are the statuses a judgement may have.
var AttributionStatuses = []AttributionStatus{Substantiated, NotSubstantiated, Undetermined}

// Attribution is one party's judgement of an allegation against another
// (or against itself).
type Attribution struct {
	// Party judges; Alleged is the party alleged to have done it.
	Party   string            `json:"party"`
	Alleged string            `json:"alleged"`
	Status  AttributionStatus `json:"status"`
	Reason  string            `json:"reason"`
	By      string            `json:"by"`
	At      time.Time         `json:"at"`
}

// CheckAttribution names every problem of a judgement: actor must act for
// a party, alleged must be a party id (one that known knows, when known is
// given), status one of AttributionStatuses, and reason given.
func CheckAttribution(actor Actor, alleged string, status AttributionStatus, reason string, known func(party string) bool) error {
	var p problems
	switch {
	case alleged == "":
		p.add("alleged", "is required: the party alleged to have done it")
	case !ValidZoneID(alleged): // party ids have the form of zone ids
		p.add("alleged", "%q is not a party id", alleged)
	case known != nil && !known(alleged):
		p.add("alleged", "unknown party %q", alleged)
	}
	if !slices.Contains(AttributionStatuses, status) {
		p.add("status", "must be substantiated, not_substantiated or undetermined")
	}
	if actor.Party == "" {
		p.add("party", "is required: an attribution is a party's judgement")
	}
	if strings.TrimSpace(reason) == "" {
		p.add("reason", "is required")
	}
	return p.err("attribution")
}

// Attribute records actor's party's judgement of the allegation that
// alleged did it, replacing the party's earlier judgement of alleged and no
// other: nobody replaces or removes another party's judgement. It goes on
// the timeline as "attribution of <alleged> by <party>: <status> (<reason>)".
func (a *Alert) Attribute(actor Actor, alleged string, status AttributionStatus, reason string, now time.Time) (*Alert, error) {
	if err := CheckAttribution(actor, alleged, status, reason, nil); err != nil {
		return nil, err
	}
	b := a.clone()
	j := Attribution{Party: actor.Party, Alleged: alleged, Status: status, Reason: reason, By: actor.Name, At: now}
	if i := slices.IndexFunc(b.Attributions, func(x Attribution) bool { return x.Party == j.Party && x.Alleged == j.Alleged }); i >= 0 {
		b.Attributions[i] = j
	} else {
		b.Attributions = append(b.Attributions, j)
	}
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: fmt.Sprintf("attribution of %s by %s: %s (%s)", alleged, actor.Party, status, reason)})
	return b, nil
}

// Substantiated reports whether the allegation against party is jointly
// substantiated: at least one party judged it, every judgement of it says
// substantiated, and every party whose acknowledgement the alert needs
// has judged it.
func (a *Alert) Substantiated(party string) bool {
	judged := map[string]bool{}
	for _, j := range a.Attributions {
		if j.Alleged != party {
			continue
		}
		if j.Status != Substantiated {
			return false
		}
		judged[j.Party] = true
	}
	if len(judged) == 0 {
		return false
	}
	for _, p := range a.RequireAckFrom {
		if !judged[p] {
			return false
		}
	}
	return true
}
