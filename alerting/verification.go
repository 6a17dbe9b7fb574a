package alerting

import (
	"slices"
	"strings"
)

// CannotConfirm is a party's judgement that it has no information either
// way: it neither confirms the facts nor has evidence against them (the
// bulletins' "cannot confirm"). It is also the alert's summary when no
// party confirmed or disputed and one at least cannot confirm.
const CannotConfirm Verification = "cannot_confirm"

// PartlyConfirmed is the alert's summary when some party confirmed, none
// disputed, and not every party whose confirmation counts confirmed yet
// (another cannot confirm, or has not judged): registered by one side, not
// (yet) by the other.
const PartlyConfirmed Verification = "partly_confirmed"

// PartyVerifications are the statuses a party may give an alert.
var PartyVerifications = []Verification{Confirmed, CannotConfirm, Disputed, NotApplicable}

// Summarise sums up the parties' verifications into the alert's
// verification, the first that holds of:
//   - disputed: a party has evidence against the facts;
//   - not_applicable: a party judged it no ceasefire violation (the
//     target was an excluded party);
//   - confirmed: every party that must acknowledge the alert (required)
//     confirmed, and so did every other party that judged;
//   - partly_confirmed: some party confirmed, but not all of those;
//   - cannot_confirm: no party confirmed, and one at least cannot;
//   - unverified: no party has judged.
func Summarise(vs []Verifying, required []string) Verification {
	var confirmed, cannot, notApplicable bool
	for _, v := range vs {
		switch v.Status {
		case Disputed:
			return Disputed
		case NotApplicable:
			notApplicable = true
		case Confirmed:
			confirmed = true
		case CannotConfirm:
			cannot = true
		}
	}
	switch {
	case notApplicable:
		return NotApplicable
	case !confirmed && cannot:
		return CannotConfirm
	case !confirmed:
		return Unverified
	}
	for _, p := range required {
		if !slices.ContainsFunc(vs, func(v Verifying) bool { return v.Party == p && v.Status == Confirmed }) {
			return PartlyConfirmed
		}
	}
	if cannot {
		return PartlyConfirmed
	}
	return Confirmed
}

// VerificationSentence says in one sentence what each party said of the
// alert, as the bulletins did: "Registered by Co-chair A; not confirmed by
// Co-chair B." Parties are named by name (their id when name is nil or
// says ""), in the order they judged; required parties that have not
// judged yet are awaited.
func VerificationSentence(vs []Verifying, required []string, name func(party string) string) string {
	named := func(p string) string {
		if name != nil {
			if n := name(p); n != "" {
				return n
			}
		}
		return p
	}
	by := map[Verification][]string{}
	for _, v := range vs {
		by[v.Status] = append(by[v.Status], named(v.Party))
	}
	var awaited []string
	for _, p := range required {
		if !slices.ContainsFunc(vs, func(v Verifying) bool { return v.Party == p }) {
			awaited = append(awaited, named(p))
		}
	}
	if len(vs) == 0 {
		if len(awaited) > 0 {
			return "Not verified yet: awaiting " + and(awaited) + "."
		}
		return "Not verified by any party yet."
	}
	var clauses []string
	for _, c := range []struct {
		status Verification
		words  string
	}{
		{Confirmed, "registered by "},
		{CannotConfirm, "not confirmed by "},
		{Disputed, "disputed by "},
		{NotApplicable, "judged not applicable by "},
	} {
		if ps := by[c.status]; len(ps) > 0 {
			clauses = append(clauses, c.words+and(ps))
		}
	}
	if len(awaited) > 0 {
		clauses = append(clauses, "awaiting "+and(awaited))
	}
	s := strings.Join(clauses, "; ") + "."
	return strings.ToUpper(s[:1]) + s[1:]
}

// and joins names as a sentence does: "A", "A and B", "A, B and C".
func and(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// summariseVerification sets the alert's verification and its sentence
// from its parties' verifications, naming parties by name.
func (a *Alert) summariseVerification(name func(party string) string) {
	a.Verification = Summarise(a.Verifications, a.RequireAckFrom)
	a.VerificationSummary = VerificationSentence(a.Verifications, a.RequireAckFrom, name)
}
