package alerting

import (
	"strings"
	"testing"
	"time"
)

// TestBulletinSaysWhereEachPartyStands: the day's incidents of a zone with
// each party's view side by side, the parties' standings, the regimes in
// force, and nothing of other days or of regime-end notices.
func TestBulletinSaysWhereEachPartyStands(t *testing.T) {
	t.Parallel()
	day, _ := NewReportingDay("2026-11-23", 0, time.UTC)
	noon := day.From.Add(12 * time.Hour)
	end := day.To.Add(48 * time.Hour)
	c, err := NewCatalog(1, Config{
		Zones: []Zone{{ID: "aleppo", Name: "Aleppo"}, {ID: "idlib", Name: "Idlib"}},
		Parties: []Party{{ID: "party-a", Name: "Co-chair A", Status: PartyAdherent}, {ID: "party-b", Name: "Co-chair B", Status: PartyAdherent},
			{ID: "gov", Name: "Government forces", Status: PartyAdherent}},
		Regimes: []Regime{
			{ID: "silence", Name: "Regime of silence", Zones: []string{"aleppo"}, Kind: RegimeOfSilence, StartsAt: noon, EndsAt: &end},
			{ID: "old", Name: "Expired truce", Zones: []string{"*"}, Kind: RegimeOfSilence, StartsAt: day.From.AddDate(0, 0, -5), EndsAt: &day.From},
		},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	alert := func(id string, at time.Time, views ...Verifying) *Alert {
		return &Alert{ID: id, Zone: "aleppo", Category: CategoryShelling, Severity: SeveritySevere, State: StateOpen, ReportCount: 3,
			FirstSeen: at, LastSeen: at.Add(10 * time.Minute), Casualties: Casualties{Killed: 1}, RequireAckFrom: []string{"party-a", "party-b"},
			Alleged: []Allegation{{Party: "gov", Reports: 2}}, Verifications: views}
	}
	judged := alert("judged", noon.Add(2*time.Hour), Verifying{Party: "party-b", Status: Disputed, Reason: "no fire"})
	judged.Attributions = []Attribution{{Party: "party-b", Alleged: "gov", Status: NotSubstantiated}, {Party: "party-a", Alleged: "gov", Status: Substantiated}}
	overdue := noon.Add(3 * time.Hour)
	judged.InfoRequests = []InfoRequest{
		{ID: "ir-1", Party: "gov", Question: "Which unit fired?", AskedFor: "party-a", AskedAt: noon, Deadline: noon.Add(3 * time.Hour), OverdueAt: &overdue},
		{ID: "ir-2", Party: "gov", Question: "Where?", AskedAt: noon, Deadline: noon.Add(time.Hour), Answer: &InfoAnswer{At: noon.Add(time.Minute)}},
		{ID: "ir-3", Party: "gov", Question: "When?", AskedAt: noon, Deadline: day.To.Add(time.Hour), Answer: &InfoAnswer{At: day.To.Add(time.Minute)}}, // answered the day after
	}
	alerts := map[string][]*Alert{"aleppo": {
		judged,
		alert("later", noon.Add(time.Hour)),
		alert("first", noon, Verifying{Party: "party-a", Status: Confirmed, Reason: "seen from OP 3"}, Verifying{Party: "party-b", Status: CannotConfirm, Reason: "no patrol there"}),
		alert("yesterday", day.From.Add(-2*time.Hour)),
		alert("tomorrow", day.To),
		{ID: "notice", Zone: "aleppo", Rule: RegimeEndRule, FirstSeen: noon, LastSeen: noon},
	}}
	b := BuildBulletin(day, []Zone{{ID: "aleppo", Name: "Aleppo"}, {ID: "idlib", Name: "Idlib"}}, alerts, c)

	if len(b.Zones) != 2 {
		t.Fatalf("zones %+v", b.Zones)
	}
	z := b.Zones[0]
	if len(z.Incidents) != 3 || z.Incidents[0].Alert != "first" || z.Incidents[1].Alert != "later" || z.Incidents[2].Alert != "judged" {
		t.Fatalf("incidents %+v, want first, later, judged", z.Incidents)
	}
	if want := "Shelling, 3 reports, 1 killed; the reports allege Government forces (2). Co-chair A confirms it; Co-chair B cannot confirm it."; z.Incidents[0].Statement != want {
		t.Errorf("statement %q\nwant %q", z.Incidents[0].Statement, want)
	}
	if want := "Shelling, 3 reports, 1 killed; the reports allege Government forces (2). Co-chair A has not given its view; Co-chair B disputes it. " +
		"On the allegation against Government forces, Co-chair A finds it substantiated; Co-chair B finds it not substantiated."; z.Incidents[2].Statement != want {
		t.Errorf("statement %q\nwant %q", z.Incidents[2].Statement, want)
	}
	if v := z.Incidents[1].Views; len(v) != 2 || v[0].Status != Unverified || v[1].Name != "Co-chair B" {
		t.Errorf("views of an incident nobody judged: %+v", v)
	}
	want := map[string]string{
		"party-a": "Co-chair A confirms 1 incident and has not given its view on 2 incidents.",
		"party-b": "Co-chair B cannot confirm 1 incident, disputes 1 incident and has not given its view on 1 incident.",
		"gov":     "The reports of 3 incidents allege Government forces.",
	}
	if len(z.Parties) != 3 {
		t.Fatalf("parties %+v", z.Parties)
	}
	for _, p := range z.Parties {
		if p.Statement != want[p.Party] {
			t.Errorf("%s: %q, want %q", p.Party, p.Statement, want[p.Party])
		}
	}
	if len(z.Regimes) != 1 || z.Regimes[0].ID != "silence" || z.Statement != "3 incidents registered; 2 requests for information unanswered; in force: Regime of silence." {
		t.Errorf("regimes %+v, statement %q", z.Regimes, z.Statement)
	}
	if r := z.Requests; len(r) != 2 || r[0].ID != "ir-1" || r[0].State != InfoRequestOverdue || r[1].ID != "ir-3" || r[1].State != InfoRequestOpen ||
		r[0].Statement != `Co-chair A asked Government forces on 23 Nov 12:00 UTC: "Which unit fired?" Answer due 23 Nov 15:00 UTC; overdue, unanswered.` ||
		!strings.HasPrefix(r[1].Statement, "The centre asked") {
		t.Errorf("requests unanswered at the end of the day: %+v", r)
	}
	if idlib := b.Zones[1]; len(idlib.Incidents) != 0 || idlib.Statement != "No incidents registered; no regime in force." {
		t.Errorf("Idlib %+v", idlib)
	}
}
