package alerting_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func testCatalog() *alerting.Catalog {
	return alerting.MustCatalog(1, alerting.Config{
		Zones:   []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}, {ID: "latakia", Name: "Latakia"}},
		Parties: []alerting.Party{{ID: "party-a", Name: "A", Status: alerting.PartyAdherent}, {ID: "isil", Name: "ISIL", Status: alerting.PartyExcluded}}})
}

// testEngine admits reports without a store: Admit needs only the catalog.
func testEngine(t testing.TB) *alerting.Engine {
	t.Helper()
	e, err := alerting.NewEngine(alerting.EngineOptions{
		Store: nopStore{}, Publisher: nopPublisher{}, Catalog: staticCatalog{testCatalog()},
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const validReport = `{"zone":"aleppo","category":"shelling","observed_at":"2026-11-23T11:58:00Z","reported_by":"OP Sierra-3"}`

func TestAdmitValidReports(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	full := `{"id":"r-1","zone":"aleppo","category":"airstrike","observed_at":"2026-11-23T11:58:00+02:00",
	"reported_by":"UN team","source_type":"own_monitor","location":{"lat":36.2,"lon":37.1,"precision_m":250},
	"severity":"extreme","certainty":"observed","count":3,"weapon":"MLRS","attributed_to":"party-a","target":"civilian",
	"casualties":{"killed":1,"injured":4},"description":"three impacts","references":["r-0"],"exercise":true,
	"observed_until":"2026-11-23T10:05:00Z","observer":{"lat":36.25,"lon":37.05},"direction_deg":360,
	"distance_m":{"min":3000,"max":5000},"weapon_calibre":"122mm","impacts":0}`
	for name, body := range map[string]string{"minimal": validReport, "full": full} {
		t.Run(name, func(t *testing.T) {
			r, err := e.Admit([]byte(body), alerting.Arrival{AssignedID: "assigned"})
			if err != nil {
				t.Fatalf("Admit: %v", err)
			}
			if r.ID == "" || r.Zone != "aleppo" {
				t.Fatalf("report = %+v", r)
			}
		})
	}
	r, _ := e.Admit([]byte(validReport), alerting.Arrival{Zone: "aleppo", Category: "shelling", AssignedID: "assigned"})
	if r.ID != "assigned" {
		t.Errorf("a report without id got %q, want the assigned id", r.ID)
	}
}

// TestAdmitNamesEveryProblem checks that each kind of bad report gets its
// specific problem, and that a report with several problems gets them all.
func TestAdmitNamesEveryProblem(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	tests := []struct {
		name     string
		body     string
		zone     string // subject zone, for NATS
		category string
		want     map[string]string // field → substring of its problem
		code     string
	}{
		{name: "not JSON", body: `{"zone":`, want: map[string]string{"(body)": "malformed JSON"}},
		{name: "not an object", body: `[1,2]`, want: map[string]string{"(body)": ""}},
		{name: "trailing data", body: validReport + `{}`, want: map[string]string{"(body)": "after the object"}},
		{name: "missing fields", body: `{}`, want: map[string]string{
			"zone": "is required", "category": "is required", "observed_at": "is required", "reported_by": "is required"}},
		{name: "unknown zone", body: strings.Replace(validReport, `"aleppo"`, `"atlantis"`, 1), want: map[string]string{"zone": `unknown zone "atlantis"`}},
		{name: "bad zone id", body: strings.Replace(validReport, `"aleppo"`, `"Aleppo City"`, 1), want: map[string]string{"zone": "must match"}},
		{name: "unknown category", body: strings.Replace(validReport, `"shelling"`, `"rumour"`, 1), want: map[string]string{"category": `unknown category "rumour"`}},
		{name: "time not RFC 3339", body: strings.Replace(validReport, `"2026-11-23T11:58:00Z"`, `"23/11/2026 11:58"`, 1), want: map[string]string{"observed_at": "not an RFC 3339 time"}},
		{name: "time in the future", body: strings.Replace(validReport, `"2026-11-23T11:58:00Z"`, `"2026-11-23T12:06:00Z"`, 1), want: map[string]string{"observed_at": "in the future"}},
		{name: "coordinates out of range", body: strings.Replace(validReport, `}`, `,"location":{"lat":91,"lon":-181,"precision_m":-1}}`, 1), want: map[string]string{
			"location.lat": "between -90 and 90", "location.lon": "between -180 and 180", "location.precision_m": "between 0"}},
		{name: "unknown field", body: strings.Replace(validReport, `}`, `,"colour":"red"}`, 1), want: map[string]string{"colour": "unknown field"}},
		{name: "unknown nested field", body: strings.Replace(validReport, `}`, `,"location":{"lat":1,"lon":2,"alt":3}}`, 1), want: map[string]string{"location": "unknown field"}},
		{name: "wrong types", body: `{"zone":1,"category":true,"observed_at":5,"reported_by":[],"count":"many","exercise":"yes"}`, want: map[string]string{
			"zone": "must be a string", "category": "must be a string", "observed_at": "RFC 3339", "reported_by": "must be a string", "count": "integer", "exercise": "true or false"}},
		{name: "bad vocabulary", body: strings.Replace(validReport, `}`, `,"severity":"awful","certainty":"sure","source_type":"rumour","count":0,"target":"nobody","attributed_to":"party-z"}`, 1), want: map[string]string{
			"severity": "minor, moderate", "certainty": "observed, likely", "source_type": "own_monitor", "target": "neither", "attributed_to": "unknown party", "count": "between 1"}},
		{name: "zero count and a location without lon", body: strings.Replace(validReport, `}`, `,"count":0,"location":{"lat":36.2}}`, 1), want: map[string]string{"count": "between 1", "location": "needs lon"}},
		{name: "empty location", body: strings.Replace(validReport, `}`, `,"location":{}}`, 1), want: map[string]string{"location": "needs lat and lon"}},
		{name: "negative count", body: strings.Replace(validReport, `}`, `,"count":-2,"casualties":{"killed":-1,"injured":0}}`, 1), want: map[string]string{"count": "between 1", "casualties.killed": "between 0"}},
		{name: "description too long", body: strings.Replace(validReport, `}`, `,"description":"`+strings.Repeat("x", 4097)+`"}`, 1), want: map[string]string{"description": "limit is 4096"}},
		{name: "bad id and references", body: strings.Replace(validReport, `}`, `,"id":"has space","references":["ok","bad/ref"]}`, 1), want: map[string]string{"id": "must match", "references[1]": "must match"}},
		{name: "subject disagrees", body: validReport, zone: "latakia", category: "airstrike", want: map[string]string{
			"zone": `subject names zone "latakia"`, "category": `subject names category "airstrike"`}},
		{name: "observed fire out of range", body: strings.Replace(validReport, `}`, `,"observed_until":"2026-11-23T11:57:59Z","observer":{"lat":-91,"lon":181},"direction_deg":360.5,"distance_m":{"min":5000,"max":3000},"weapon_calibre":"`+strings.Repeat("x", 65)+`","impacts":-1}`, 1), want: map[string]string{
			"observed_until": "before observed_at", "observer.lat": "between -90 and 90", "observer.lon": "between -180 and 180", "direction_deg": "between 0 and 360",
			"distance_m": "min must not be more than max", "weapon_calibre": "limit is 64", "impacts": "between 0 and 100000"}},
		{name: "observed fire too far and in the future", body: strings.Replace(validReport, `}`, `,"observed_until":"2026-11-23T12:06:00Z","distance_m":{"min":0,"max":100001},"direction_deg":-1}`, 1), want: map[string]string{
			"observed_until": "in the future", "distance_m": "at most 100000", "direction_deg": "between 0 and 360"}},
		{name: "observed fire half given or mistyped", body: strings.Replace(validReport, `}`, `,"observed_until":"11:58","observer":{"lat":36.2},"distance_m":{"max":10},"direction_deg":"NE","impacts":2.5,"weapon_calibre":122}`, 1), want: map[string]string{
			"observed_until": "not an RFC 3339 time", "observer": "needs lon", "distance_m": "needs min", "direction_deg": "must be a number", "impacts": "integer", "weapon_calibre": "must be a string"}},
		{name: "negative distance and an unknown member", body: strings.Replace(validReport, `}`, `,"distance_m":{"min":-5,"max":10},"observer":{"lat":1,"lon":2,"alt":3}}`, 1), want: map[string]string{
			"distance_m": "0 or more", "observer": "unknown field"}},
		{name: "oversized", body: strings.Replace(validReport, `}`, `,"description":"`+strings.Repeat("x", alerting.MaxReportBytes)+`"}`, 1), code: alerting.ETOOLARGE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.Admit([]byte(tt.body), alerting.Arrival{Zone: tt.zone, Category: tt.category, AssignedID: "assigned"})
			if err == nil {
				t.Fatal("Admit accepted a bad report")
			}
			code := tt.code
			if code == "" {
				code = alerting.EINVALID
			}
			if got := alerting.ErrorCode(err); got != code {
				t.Fatalf("code = %q, want %q (%v)", got, code, err)
			}
			got := map[string]string{}
			for _, f := range alerting.ErrorFields(err) {
				got[f.Field] += f.Problem + ";"
			}
			for field, want := range tt.want {
				if !strings.Contains(got[field], want) {
					t.Errorf("field %s: problem %q, want it to mention %q (all: %v)", field, got[field], want, got)
				}
			}
			if len(tt.want) > 0 && len(got) != len(tt.want) {
				t.Errorf("problems for fields %v, want exactly %d fields", got, len(tt.want))
			}
		})
	}
}

func TestReportRoundTripsThroughJSON(t *testing.T) {
	t.Parallel()
	e := testEngine(t)
	r, err := e.Admit([]byte(strings.Replace(validReport, `}`, `,"location":{"lat":36.2,"lon":37.1},"count":2}`, 1)), alerting.Arrival{AssignedID: "x-1"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(r.AsSent())
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.Admit(data, alerting.Arrival{Zone: "aleppo", Category: "shelling", AssignedID: "x-1"})
	if err != nil {
		t.Fatalf("a report truceline encoded does not decode again: %v\n%s", err, data)
	}
	if again.ID != "x-1" || again.Count != 2 || again.Location.Lat != 36.2 {
		t.Errorf("round trip changed the report: %+v", again)
	}
}

func FuzzAdmit(f *testing.F) {
	for _, seed := range []string{validReport, `{}`, `[]`, `null`, `{"location":null}`, `{"casualties":{"killed":"x"}}`,
		`{"zone":"aleppo","category":"shelling","observed_at":"2026-11-23T11:58:00Z","reported_by":"x","observed_until":"2026-11-23T11:59:00Z","observer":{"lat":36.2,"lon":37.1},"direction_deg":45.5,"distance_m":{"min":1000,"max":2000},"weapon_calibre":"122mm","impacts":12}`,
		`{"observer":null,"distance_m":{"min":null,"max":1},"impacts":-0,"direction_deg":1e400,"observed_until":""}`,
		`{"zone":"aleppo","category":"shelling","observed_at":"2026-11-23T11:58:00.123456789-05:00","reported_by":"x","references":[1]}`} {
		f.Add([]byte(seed))
	}
	e := testEngine(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := e.Admit(data, alerting.Arrival{By: alerting.Submitter{Via: alerting.ViaHTTP, User: "fuzzer"}, AssignedID: "fuzz"})
		if err != nil {
			if alerting.ErrorCode(err) == alerting.EINTERNAL {
				t.Fatalf("internal error for input %q: %v", data, err)
			}
			return
		}
		// What is admitted must encode and be admitted again unchanged.
		out, err := json.Marshal(r.AsSent())
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.Admit(out, alerting.Arrival{Zone: r.Zone, Category: string(r.Category), By: *r.SubmittedBy, AssignedID: "fuzz"})
		if err != nil {
			t.Fatalf("admitted report %q re-encoded as %q is rejected: %v", data, out, err)
		}
		if again.ID != r.ID {
			t.Fatalf("admitted report %q is kept as %q, and as %q when sent again", data, r.ID, again.ID)
		}
	})
}

// TestTheDocumentedInvalidReportIsTheRealAnswer: docs/API.md's example of
// an invalid report lists exactly the problems, in the order, that the
// engine gives for its body.
func TestTheDocumentedInvalidReportIsTheRealAnswer(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "API.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	start := strings.Index(text, "An invalid report gets every problem at once:")
	if start < 0 {
		t.Fatal("docs/API.md has no example of an invalid report")
	}
	text = text[start:]
	body := regexp.MustCompile(`-d '(\{[^']*\})'`).FindStringSubmatch(text)
	answer := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindStringSubmatch(text)
	if body == nil || answer == nil {
		t.Fatal("the example has no curl -d body or no JSON answer")
	}
	var documented struct {
		Error struct {
			Message string                  `json:"message"`
			Fields  []alerting.FieldProblem `json:"fields"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(answer[1]), &documented); err != nil {
		t.Fatalf("the documented answer is not JSON: %v", err)
	}
	_, err = testEngine(t).Admit([]byte(body[1]), alerting.Arrival{AssignedID: "x"})
	got := alerting.ErrorFields(err)
	if !reflect.DeepEqual(got, documented.Error.Fields) || alerting.ErrorMessage(err) != documented.Error.Message {
		t.Errorf("docs/API.md says\n%s: %v\nthe engine says\n%s: %v", documented.Error.Message, documented.Error.Fields, alerting.ErrorMessage(err), got)
	}
}
