package alerting_test

import (
	"slices"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestSummarise: the alert's verification for each combination of the
// parties' judgements, with and without parties whose acknowledgement the
// policy requires, and the sentence that says it.
func TestSummarise(t *testing.T) {
	t.Parallel()
	const (
		c  = alerting.Confirmed
		cc = alerting.CannotConfirm
		d  = alerting.Disputed
		na = alerting.NotApplicable
	)
	joint := []string{"party-a", "party-b"}
	names := map[string]string{"party-a": "Co-chair A", "party-b": "Co-chair B", "un-monitor": "UN monitor"}
	tests := []struct {
		name     string
		required []string
		a, b, un alerting.Verification // "" when that party has not judged
		want     alerting.Verification
		sentence string
	}{
		{"nobody judged", nil, "", "", "", alerting.Unverified, "Not verified by any party yet."},
		{"nobody judged a joint alert", joint, "", "", "", alerting.Unverified, "Not verified yet: awaiting Co-chair A and Co-chair B."},
		{"one confirms", nil, c, "", "", alerting.Confirmed, "Registered by Co-chair A."},
		{"one of two required confirms", joint, c, "", "", alerting.PartlyConfirmed, "Registered by Co-chair A; awaiting Co-chair B."},
		{"both confirm", joint, c, c, "", alerting.Confirmed, "Registered by Co-chair A and Co-chair B."},
		{"confirmed and cannot confirm", joint, c, cc, "", alerting.PartlyConfirmed, "Registered by Co-chair A; not confirmed by Co-chair B."},
		{"confirmed and cannot confirm, nobody required", nil, c, cc, "", alerting.PartlyConfirmed, "Registered by Co-chair A; not confirmed by Co-chair B."},
		{"both confirm, the monitor cannot", joint, c, c, cc, alerting.PartlyConfirmed, "Registered by Co-chair A and Co-chair B; not confirmed by UN monitor."},
		{"both confirm, and the monitor", joint, c, c, c, alerting.Confirmed, "Registered by Co-chair A, Co-chair B and UN monitor."},
		{"one cannot confirm", joint, "", cc, "", alerting.CannotConfirm, "Not confirmed by Co-chair B; awaiting Co-chair A."},
		{"neither can confirm", joint, cc, cc, "", alerting.CannotConfirm, "Not confirmed by Co-chair A and Co-chair B."},
		{"confirmed and disputed", joint, c, d, "", alerting.Disputed, "Registered by Co-chair A; disputed by Co-chair B."},
		{"cannot confirm and disputed", joint, cc, d, "", alerting.Disputed, "Not confirmed by Co-chair A; disputed by Co-chair B."},
		{"disputed alone", nil, "", d, "", alerting.Disputed, "Disputed by Co-chair B."},
		{"not applicable", joint, c, na, "", alerting.NotApplicable, "Registered by Co-chair A; judged not applicable by Co-chair B."},
		{"disputed wins over not applicable", joint, na, d, "", alerting.Disputed, "Disputed by Co-chair B; judged not applicable by Co-chair A."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var vs []alerting.Verifying
			for _, j := range []struct {
				party  string
				status alerting.Verification
			}{{"party-a", tt.a}, {"party-b", tt.b}, {"un-monitor", tt.un}} {
				if j.status != "" {
					vs = append(vs, alerting.Verifying{Party: j.party, Status: j.status})
				}
			}
			if got := alerting.Summarise(vs, tt.required); got != tt.want {
				t.Errorf("Summarise = %s, want %s", got, tt.want)
			}
			if got := alerting.VerificationSentence(vs, tt.required, func(p string) string { return names[p] }); got != tt.sentence {
				t.Errorf("sentence %q, want %q", got, tt.sentence)
			}
		})
	}
}

// TestVerifyCannotConfirm: cannot_confirm is a party's judgement like the
// others, replacing its earlier one; the alert says what each side said,
// by party id when no names are at hand.
func TestVerifyCannotConfirm(t *testing.T) {
	t.Parallel()
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: "r"}, report("r1", testNow), testNow)
	a.RequireAckFrom = []string{"party-a", "party-b"}
	a, err := a.Verify(alerting.Actor{Name: "Jonas Meyer", Party: "party-a"}, alerting.Confirmed, "our post saw the impacts", testNow)
	if err != nil {
		t.Fatal(err)
	}
	b, err := a.Verify(alerting.Actor{Name: "Elena Petrov", Party: "party-b"}, alerting.CannotConfirm, "no post of ours covers it", testNow.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if b.Verification != alerting.PartlyConfirmed || b.VerificationSummary != "Registered by party-a; not confirmed by party-b." || len(b.Verifications) != 2 {
		t.Errorf("verification %s %q %v", b.Verification, b.VerificationSummary, b.Verifications)
	}
	if last := b.Timeline[len(b.Timeline)-1]; last.Note != "party-b: cannot_confirm (no post of ours covers it)" || last.By != "Elena Petrov" {
		t.Errorf("timeline %+v", last)
	}
	if len(a.Verifications) != 1 {
		t.Errorf("the earlier alert changed: %v", a.Verifications)
	}
	_, err = a.Verify(alerting.Actor{Name: "X"}, "unsure", " ", testNow)
	if fields := alerting.ErrorFields(err); len(fields) != 3 {
		t.Errorf("a bad verification must name status, party and reason: %v", err)
	}
}

// TestAttribute: each party's judgement of each alleged party stands on
// its own; a party's next judgement of the same alleged party replaces
// its own only; every judgement is on the timeline.
func TestAttribute(t *testing.T) {
	t.Parallel()
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: "r"},
		report("r1", testNow, func(r *alerting.Report) { r.AttributedTo = "party-c" }), testNow)
	A := alerting.Actor{Name: "Jonas Meyer", Party: "party-a"}
	B := alerting.Actor{Name: "Elena Petrov", Party: "party-b"}
	step := func(a *alerting.Alert, actor alerting.Actor, alleged string, s alerting.AttributionStatus, reason string) *alerting.Alert {
		t.Helper()
		b, err := a.Attribute(actor, alleged, s, reason, testNow.Add(time.Duration(len(a.Timeline))*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a = step(a, A, "party-c", alerting.Substantiated, "crater analysis")
	a = step(a, B, "party-c", alerting.Undetermined, "no data of ours")
	a = step(a, A, "party-d", alerting.NotSubstantiated, "no units of party-d nearby")
	before := a
	a = step(a, B, "party-c", alerting.NotSubstantiated, "their positions are out of range")
	type judgement struct{ party, alleged, status, reason, by string }
	var got []judgement
	for _, x := range a.Attributions {
		got = append(got, judgement{x.Party, x.Alleged, string(x.Status), x.Reason, x.By})
	}
	want := []judgement{
		{"party-a", "party-c", "substantiated", "crater analysis", "Jonas Meyer"},
		{"party-b", "party-c", "not_substantiated", "their positions are out of range", "Elena Petrov"},
		{"party-a", "party-d", "not_substantiated", "no units of party-d nearby", "Jonas Meyer"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("attributions\n got %v\nwant %v", got, want)
	}
	if before.Attributions[1].Status != alerting.Undetermined {
		t.Errorf("the earlier alert changed: %v", before.Attributions)
	}
	if last := a.Timeline[len(a.Timeline)-1]; last.Note != "attribution of party-c by party-b: not_substantiated (their positions are out of range)" || last.By != "Elena Petrov" {
		t.Errorf("timeline %+v", last)
	}
	if a.Version != before.Version+1 || len(a.Timeline) != 5 {
		t.Errorf("version %d, %d timeline entries", a.Version, len(a.Timeline))
	}

	_, err := a.Attribute(alerting.Actor{Name: "officer"}, "Party C!", "guilty", "", testNow)
	fields := map[string]bool{}
	for _, f := range alerting.ErrorFields(err) {
		fields[f.Field] = true
	}
	if len(fields) != 4 || !fields["alleged"] || !fields["status"] || !fields["party"] || !fields["reason"] {
		t.Errorf("a bad judgement must name alleged, status, party and reason: %v", err)
	}
	err = alerting.CheckAttribution(A, "party-x", alerting.Substantiated, "why", func(p string) bool { return p == "party-c" })
	if f := alerting.ErrorFields(err); len(f) != 1 || f[0].Field != "alleged" {
		t.Errorf("an unknown alleged party: %v", err)
	}
}
