package cap_test

import (
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

// infoParams are a message's parameters about requests for information.
func infoParams(m *cap.Message) []string {
	var out []string
	for _, p := range m.Info[0].Parameter {
		if p.ValueName == cap.InfoRequestParameter || p.ValueName == cap.InfoAnswerParameter {
			out = append(out, p.ValueName+"="+p.Value)
		}
	}
	return out
}

// TestInfoRequestsInUpdates: asking, going overdue and the late answer are
// each an Update whose note says so, and every message carries the
// requests as they stood right after its entry.
func TestInfoRequestsInUpdates(t *testing.T) {
	t.Parallel()
	ok := must(t)
	catalog := alerting.MustCatalog(1, alerting.Config{Zones: []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}}, Parties: []alerting.Party{
		{ID: "party-a", Name: "Co-chair A", Status: alerting.PartyAdherent}, {ID: "party-b", Name: "Co-chair B", Status: alerting.PartyAdherent}}})
	a := opened(t, false)
	a = ok(a.AskInfo(alerting.Actor{Name: "Jonas Meyer", Party: "party-a"},
		alerting.InfoQuestion{Party: "party-b", Question: "Which unit fired?", Within: alerting.Duration(time.Hour)}, catalog, t0.Add(time.Minute)))
	a, _, due := a.Fire(alerting.Policy{}, false, catalog, t0.Add(61*time.Minute))
	if !due {
		t.Fatal("the request did not go overdue")
	}
	a = ok(a.AnswerInfo(alerting.Actor{Name: "Elena Petrov", Party: "party-b"}, "ir-1", "A mortar crew of the 4th unit.",
		[]string{"doc:B-113"}, t0.Add(2*time.Hour)))

	ms := cap.Messages(a, aleppo, opts)
	if len(ms) != 4 {
		t.Fatalf("%d messages, want the opening, the request, its going overdue and the answer", len(ms))
	}
	request := func(state string) string {
		return "truceline-info-request=ir-1 to party-b (asked for party-a): " + state + ", deadline 2026-11-23T15:06:00-00:00: Which unit fired?"
	}
	want := []struct {
		note   string
		params []string
	}{
		{"opened by engine", nil},
		{"updated by Jonas Meyer: information requested (ir-1) from party-b for party-a by 23 Nov 15:06 UTC: Which unit fired?", []string{request("open")}},
		{"updated by engine: request ir-1 to party-b is OVERDUE", []string{request("overdue")}},
		{"updated by Elena Petrov: party-b answered request ir-1 LATE, 59m0s after the deadline (1 attachment(s)): A mortar crew", []string{request("answered"),
			"truceline-info-answer=ir-1 from party-b (late) 2026-11-23T16:05:00-00:00: A mortar crew of the 4th unit. Documents: doc:B-113"}},
	}
	for i, w := range want {
		m := ms[i]
		encode(t, m) // valid CAP 1.2
		if i > 0 && m.MsgType != "Update" {
			t.Errorf("message %d is %s, want Update", i, m.MsgType)
		}
		if !strings.HasPrefix(m.Note, w.note) {
			t.Errorf("message %d: note %q, want it to begin %q", i, m.Note, w.note)
		}
		if got := infoParams(m); strings.Join(got, "\n") != strings.Join(w.params, "\n") {
			t.Errorf("message %d: parameters\n%s\nwant\n%s", i, strings.Join(got, "\n"), strings.Join(w.params, "\n"))
		}
	}
}
