package app_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestAttributionJudgements drives POST /api/v1/alerts/{id}/attribution
// end to end: each co-chair's judgement of the alleged party stands side by
// side on the alert and its timeline, is audited, survives on the stored
// alert; nobody judges for another party or erases another's judgement; a
// party's viewer, who sees the zone, may not act (403); a party's liaison
// outside the zone does not find the alert (404, as for every action: a
// zone one may not see answers as if it did not exist); and a bad body
// names every problem.
func TestAttributionJudgements(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	jointPolicy(t, a)
	postKey(t, a, []byte(strings.Replace(string(reportJSON("att-1", "aleppo", "shelling")), `}`, `,"attributed_to":"gov-forces"}`, 1)))
	al := firstAlert(t, a, "aleppo")
	path := "/api/v1/alerts/" + al.ID + "/attribution"
	chairA, chairB := userToken(t, a, coChairA), userToken(t, a, coChairB)
	liaisonIdlib := userToken(t, a, alerting.User{Name: "liaison-idlib", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"idlib"}})
	// A party's viewer sees every zone but acts in none.
	viewer := userToken(t, a, alerting.User{Name: "viewer-b", Role: alerting.RoleViewer, Party: "party-b"})

	judge := func(token, body string) (int, alerting.Alert, string) {
		t.Helper()
		status, text := call(t, a, token, "POST", path, body)
		var out alerting.Alert
		_ = json.Unmarshal([]byte(text), &out)
		return status, out, text
	}
	if status, _, text := judge(chairA, `{"alleged":"gov-forces","status":"substantiated","note":"crater analysis points to their battery"}`); status != 200 {
		t.Fatalf("co-chair A: %d %s", status, text)
	}
	status, got, text := judge(chairB, `{"alleged":"gov-forces","status":"undetermined","note":"no post of ours covers that sector"}`)
	if status != 200 || len(got.Attributions) != 2 {
		t.Fatalf("co-chair B: %d %s", status, text)
	}
	// B changes its mind: only its own judgement is replaced.
	status, got, text = judge(chairB, `{"party":"party-b","alleged":"gov-forces","status":"not_substantiated","note":"their battery was withdrawn the day before"}`)
	if status != 200 {
		t.Fatalf("co-chair B again: %d %s", status, text)
	}
	type judgement struct{ party, alleged, status, by string }
	var js []judgement
	for _, x := range got.Attributions {
		js = append(js, judgement{x.Party, x.Alleged, string(x.Status), x.By})
	}
	want := []judgement{{"party-a", "gov-forces", "substantiated", coChairA.FullName}, {"party-b", "gov-forces", "not_substantiated", coChairB.FullName}}
	if len(js) != 2 || js[0] != want[0] || js[1] != want[1] {
		t.Errorf("attributions %v, want %v", js, want)
	}
	if last := got.Timeline[len(got.Timeline)-1]; last.Note != "attribution of gov-forces by party-b: not_substantiated (their battery was withdrawn the day before)" {
		t.Errorf("timeline %+v", last)
	}

	// Nobody judges for another party, and nobody else may act.
	for _, c := range []struct {
		name, token, body string
		want              int
	}{
		{"for another party", chairA, `{"party":"party-b","alleged":"gov-forces","status":"undetermined","note":"x"}`, http.StatusForbidden},
		{"a viewer of party-b", viewer, `{"alleged":"gov-forces","status":"undetermined","note":"x"}`, http.StatusForbidden},
		{"a liaison outside the zone", liaisonIdlib, `{"alleged":"gov-forces","status":"undetermined","note":"x"}`, http.StatusNotFound},
	} {
		if status, text := call(t, a, c.token, "POST", path, c.body); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, text, c.want)
		}
	}
	// A bad body names every problem; the admin acts for no party.
	status, text = call(t, a, signIn(t, a), "POST", path, `{"alleged":"nobody","status":"guilty"}`)
	var e struct {
		Error struct {
			Fields []alerting.FieldProblem `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(text), &e)
	fields := map[string]bool{}
	for _, f := range e.Error.Fields {
		fields[f.Field] = true
	}
	if status != 400 || len(fields) != 4 || !fields["alleged"] || !fields["status"] || !fields["party"] || !fields["reason"] {
		t.Errorf("a bad judgement: %d %s, want 400 naming alleged, status, party and reason", status, text)
	}
	if status, text := call(t, a, chairA, "POST", path, `{"alleged":"gov-forces","status":"substantiated","note":"x","verdict":"guilty"}`); status != 400 {
		t.Errorf("an unknown field: %d %s", status, text)
	}

	// What was stored is what was answered, and each judgement is audited.
	if s := firstAlert(t, a, "aleppo"); len(s.Attributions) != 2 || s.Attributions[1].Status != alerting.NotSubstantiated {
		t.Errorf("stored attributions %+v", s.Attributions)
	}
	alertingtest.Eventually(t, 10*time.Second, "three alert.attribution audit entries", func() bool {
		_, body := get(t, a, "/api/v1/audit?limit=1000")
		n := 0
		entries, _ := body["entries"].([]any)
		for _, x := range entries {
			if m, _ := x.(map[string]any); m["action"] == "alert.attribution" && m["object"] == "alert "+al.ID {
				n++
			}
		}
		return n == 3
	})
}
