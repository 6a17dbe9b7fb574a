package cap_test

import (
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
	"github.com/truceline/truceline/alerting/adapters/cap/captest"
)

var (
	t0     = time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)
	aleppo = alerting.Zone{ID: "aleppo", Name: "Aleppo", Geometry: json.RawMessage(
		`{"type":"Polygon","coordinates":[[[36.95,36.08],[37.38,36.1],[37.42,36.3],[37.12,36.4],[36.9,36.3],[36.95,36.08]]]}`)}
	opts = cap.Options{Sender: "truceline@truceline.example.org", BoardURL: "https://truceline.example.org/"}
)

func report(id string, at time.Time) *alerting.Report {
	return &alerting.Report{ID: id, Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: at,
		ReportedBy: "OP Sierra-3", Casualties: &alerting.Casualties{Injured: 2}}
}

// opened is an alert as the engine opens it, a minute after its report.
func opened(t *testing.T, exercise bool) *alerting.Alert {
	t.Helper()
	r := report("unmo-1", t0.Add(-time.Minute))
	r.Exercise = exercise
	r.Severity = alerting.SeverityModerate
	return alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: alerting.DefaultRule,
		GroupKey: "default:aleppo:shelling", Classification: alerting.Classification{Regime: "aleppo-ceasefire"}}, r, t0)
}

func must(t *testing.T) func(*alerting.Alert, error) *alerting.Alert {
	return func(a *alerting.Alert, err error) *alerting.Alert {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

// encode marshals a message and checks it against the CAP 1.2 schema.
func encode(t *testing.T, m *cap.Message) []byte {
	t.Helper()
	doc, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	captest.Validate(t, doc)
	return doc
}

var dateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$`)

// TestMessagesFollowTheTimeline walks an alert through its life: every
// entry partners care about is one message, of the right type, linked to
// the first and the one before, and valid CAP 1.2.
func TestMessagesFollowTheTimeline(t *testing.T) {
	t.Parallel()
	ok := must(t)
	a := opened(t, false)
	higher := report("unmo-2", t0)
	higher.Severity = alerting.SeverityExtreme
	a, _ = a.AddReport(higher, "", t0.Add(10*time.Second))
	a = ok(a.Comment(alerting.Actor{Name: "Duty officer"}, "calling team north", t0.Add(15*time.Second)))
	a = ok(a.Acknowledge(alerting.Actor{Name: "Duty A", Party: "party-a"}, "team north dispatched", t0.Add(20*time.Second)))
	a = ok(a.Verify(alerting.Actor{Name: "Duty A", Party: "party-a"}, alerting.Confirmed, "seen by team north", t0.Add(30*time.Second)))
	a = ok(a.Resolve(alerting.Actor{Name: "Duty A", Party: "party-a"}, "parties informed", t0.Add(40*time.Second)))

	ms := cap.Messages(a, aleppo, opts)
	want := []struct{ msgType, key, urgency, certainty string }{
		{"Alert", "1", "Immediate", "Possible"},
		{"Update", "2", "Immediate", "Possible"}, // severity raised; the comment (3) is no message
		{"Ack", "4", "Immediate", "Possible"},
		{"Update", "5", "Immediate", "Observed"},
		{"Update", "6", "Past", "Observed"},
	}
	if len(ms) != len(want) {
		t.Fatalf("%d messages, want %d", len(ms), len(want))
	}
	for i, w := range want {
		m := ms[i]
		doc := encode(t, m)
		if m.MsgType != w.msgType || m.Key() != w.key || m.Identifier != "truceline:al-1:"+w.key {
			t.Errorf("message %d: %s %s, want %s truceline:al-1:%s", i, m.MsgType, m.Identifier, w.msgType, w.key)
		}
		if m.AlertID() != "al-1" || m.Status != "Actual" || m.Scope != "Restricted" || m.Restriction == "" || m.Sender != opts.Sender {
			t.Errorf("message %d: alert %s, status %s, scope %s (%q), sender %s", i, m.AlertID(), m.Status, m.Scope, m.Restriction, m.Sender)
		}
		if !dateTime.MatchString(m.Sent) || strings.Contains(string(doc), "Z</") {
			t.Errorf("message %d: sent %q is not CAP's dateTime", i, m.Sent)
		}
		in := m.Info[0]
		if in.Urgency != w.urgency || in.Certainty != w.certainty || in.Severity != "Extreme" {
			t.Errorf("message %d: urgency %s certainty %s severity %s, want %s %s Extreme", i, in.Urgency, in.Certainty, in.Severity, w.urgency, w.certainty)
		}
		switch {
		case i == 0 && m.References != "":
			t.Errorf("the first message references %q", m.References)
		case i == 1 && m.References != ms[0].Ref():
			t.Errorf("message 1 references %q, want %q", m.References, ms[0].Ref())
		case i > 1 && m.References != ms[0].Ref()+" "+ms[i-1].Ref():
			t.Errorf("message %d references %q, want the first and the one before", i, m.References)
		}
	}
	if got := ms[0].Ref(); got != "truceline@truceline.example.org,truceline:al-1:1,2026-11-23T14:05:00-00:00" {
		t.Errorf("the first message's reference is %q", got)
	}
	if got := ms[2].Note; got != "acknowledged by Duty A: team north dispatched" {
		t.Errorf("the Ack's note is %q", got)
	}
	if rt := ms[4].Info[0].ResponseType; len(rt) != 1 || rt[0] != "AllClear" {
		t.Errorf("the resolution's responseType is %v, want AllClear", rt)
	}

	in := ms[0].Info[0]
	if in.Language != "en" || in.Category[0] != "Security" || in.Event != "Shelling" || in.Headline != "Shelling in Aleppo" ||
		in.Web != "https://truceline.example.org/?alert=al-1" || in.SenderName != "truceline" || in.Onset != "2026-11-23T14:04:00-00:00" {
		t.Errorf("info: %+v", in)
	}
	for _, s := range []string{"2 reports observed from 2026-11-23 14:04 UTC to 2026-11-23 14:05 UTC", "0 killed, 4 injured", "aleppo-ceasefire"} {
		if !strings.Contains(in.Description, s) {
			t.Errorf("description %q lacks %q", in.Description, s)
		}
	}
	params := map[string]string{}
	for _, p := range in.Parameter {
		params[p.ValueName] = p.Value
	}
	for name, value := range map[string]string{"truceline-alert": "al-1", "truceline-zone": "aleppo", "truceline-rule": "default",
		"truceline-category": "shelling", "truceline-regime": "aleppo-ceasefire", "truceline-state": "open", "truceline-report-count": "2"} {
		if params[name] != value {
			t.Errorf("parameter %s = %q, want %q", name, params[name], value)
		}
	}
	if got := ms[4].Info[0].Parameter; !hasParam(got, "truceline-state", "resolved") || !hasParam(got, "truceline-verification", "confirmed") {
		t.Errorf("the last message's parameters: %v", got)
	}

	// Stable: a later change leaves the earlier messages as they were.
	later, _ := a.AddReport(report("unmo-3", t0.Add(2*time.Minute)), "", t0.Add(time.Hour))
	again := cap.Messages(later, aleppo, opts)
	for i, m := range ms {
		if again[i].Identifier != m.Identifier || again[i].Sent != m.Sent || again[i].MsgType != m.MsgType || again[i].References != m.References {
			t.Errorf("message %d changed: %s %s %s, was %s %s %s", i, again[i].Identifier, again[i].Sent, again[i].MsgType, m.Identifier, m.Sent, m.MsgType)
		}
	}
	if last := cap.Latest(later, aleppo, opts); last.MsgType != "Update" || last.Key() != "7" || last.Info[0].Urgency != "Immediate" {
		t.Errorf("reopened: %s %s urgency %s", last.MsgType, last.Identifier, last.Info[0].Urgency)
	}
}

func hasParam(ps []cap.ValuePair, name, value string) bool {
	for _, p := range ps {
		if p.ValueName == name && p.Value == value {
			return true
		}
	}
	return false
}

// TestReportsWithoutTimelineEntry: a report that only adds to the count
// changes the alert without a timeline entry; the latest message is then
// an Update named by the alert's version.
func TestReportsWithoutTimelineEntry(t *testing.T) {
	t.Parallel()
	a := opened(t, false)
	minor := report("unmo-2", t0)
	minor.Severity = alerting.SeverityMinor
	a, _ = a.AddReport(minor, "", t0.Add(time.Minute))
	m := cap.Latest(a, aleppo, opts)
	encode(t, m)
	if m.MsgType != "Update" || m.Identifier != "truceline:al-1:v2" || m.Sent != "2026-11-23T14:06:00-00:00" || m.References != "truceline@truceline.example.org,truceline:al-1:1,2026-11-23T14:05:00-00:00" {
		t.Errorf("got %s %s sent %s references %q", m.MsgType, m.Identifier, m.Sent, m.References)
	}
	if !hasParam(m.Info[0].Parameter, "truceline-report-count", "2") {
		t.Errorf("parameters %v", m.Info[0].Parameter)
	}
}

// TestVerificationsNeverCancel: whatever the parties say of an open
// alert's facts, the alert stands: each verification is an Update, urgent
// while the alert is open, with the certainty its summary gives and what
// each party said, in its own parameter and in the description.
func TestVerificationsNeverCancel(t *testing.T) {
	t.Parallel()
	const (
		c  = alerting.Confirmed
		cc = alerting.CannotConfirm
		d  = alerting.Disputed
		na = alerting.NotApplicable
	)
	names := cap.Options{Sender: opts.Sender, PartyName: names{"party-a": "Co-chair A", "party-b": "Co-chair B"}.get}
	tests := []struct {
		name      string
		a, b      alerting.Verification
		want      alerting.Verification
		certainty string
		sentence  string
	}{
		{"both confirm", c, c, alerting.Confirmed, "Observed", "Registered by Co-chair A and Co-chair B."},
		{"one confirms", c, "", alerting.PartlyConfirmed, "Likely", "Registered by Co-chair A; awaiting Co-chair B."},
		{"confirmed, cannot confirm", c, cc, alerting.PartlyConfirmed, "Likely", "Registered by Co-chair A; not confirmed by Co-chair B."},
		{"cannot confirm", "", cc, alerting.CannotConfirm, "Possible", "Not confirmed by Co-chair B; awaiting Co-chair A."},
		{"confirmed, disputed", c, d, alerting.Disputed, "Unknown", "Registered by Co-chair A; disputed by Co-chair B."},
		{"disputed", cc, d, alerting.Disputed, "Unlikely", "Not confirmed by Co-chair A; disputed by Co-chair B."},
		{"not applicable", "", na, alerting.NotApplicable, "Unlikely", "Judged not applicable by Co-chair B; awaiting Co-chair A."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok := must(t)
			a := opened(t, false)
			a.RequireAckFrom = []string{"party-a", "party-b"}
			at := t0
			for _, j := range []struct {
				party  string
				status alerting.Verification
			}{{"party-a", tt.a}, {"party-b", tt.b}} {
				if j.status != "" {
					at = at.Add(time.Minute)
					a = ok(a.Verify(alerting.Actor{Name: "Duty " + j.party, Party: j.party}, j.status, "seen from post "+j.party, at))
				}
			}
			if a.Verification != tt.want {
				t.Fatalf("verification %s, want %s", a.Verification, tt.want)
			}
			for i, m := range cap.Messages(a, aleppo, names) {
				encode(t, m)
				if i > 0 && m.MsgType != "Update" {
					t.Errorf("message %d is %s, want Update", i, m.MsgType)
				}
			}
			m := cap.Latest(a, aleppo, names)
			in := m.Info[0]
			if in.Certainty != tt.certainty || in.Urgency != "Immediate" || !hasParam(in.Parameter, "truceline-verification", string(tt.want)) {
				t.Errorf("certainty %s, urgency %s, parameters %v; want %s, Immediate", in.Certainty, in.Urgency, in.Parameter, tt.certainty)
			}
			if !hasParam(in.Parameter, "truceline-verification-summary", tt.sentence) || !strings.Contains(in.Description, tt.sentence) {
				t.Errorf("the summary %q is not in %v / %q", tt.sentence, in.Parameter, in.Description)
			}
			if tt.b != "" && (!hasParam(in.Parameter, "truceline-verification:party-b", string(tt.b)+": seen from post party-b") ||
				!strings.Contains(in.Description, "Co-chair B, "+strings.ReplaceAll(string(tt.b), "_", " ")+": seen from post party-b.")) {
				t.Errorf("party-b's verification is not in %v / %q", in.Parameter, in.Description)
			}
		})
	}
}

// TestEarlierMessagesKeepTheirVerification: each message tells the
// verification right after its entry, replayed from the timeline, with the
// reasons each party gave then.
func TestEarlierMessagesKeepTheirVerification(t *testing.T) {
	t.Parallel()
	ok := must(t)
	a := opened(t, false)
	a.RequireAckFrom = []string{"party-a", "party-b"}
	a = ok(a.Verify(alerting.Actor{Name: "Duty A", Party: "party-a"}, alerting.Confirmed, "seen (twice) by team north", t0.Add(time.Minute)))
	a = ok(a.Verify(alerting.Actor{Name: "Duty B", Party: "party-b"}, alerting.CannotConfirm, "no post of ours", t0.Add(2*time.Minute)))
	a = ok(a.Verify(alerting.Actor{Name: "Duty B", Party: "party-b"}, alerting.Confirmed, "our drone saw it", t0.Add(3*time.Minute)))
	ms := cap.Messages(a, aleppo, opts)
	want := []struct{ verification, certainty, b string }{
		{"unverified", "Possible", ""},
		{"partly_confirmed", "Likely", ""},
		{"partly_confirmed", "Likely", "cannot_confirm: no post of ours"},
		{"confirmed", "Observed", "confirmed: our drone saw it"},
	}
	if len(ms) != len(want) {
		t.Fatalf("%d messages, want %d", len(ms), len(want))
	}
	for i, w := range want {
		in := ms[i].Info[0]
		if !hasParam(in.Parameter, "truceline-verification", w.verification) || in.Certainty != w.certainty {
			t.Errorf("message %d: %v, certainty %s; want %s, %s", i, in.Parameter, in.Certainty, w.verification, w.certainty)
		}
		if w.b != "" && !hasParam(in.Parameter, "truceline-verification:party-b", w.b) {
			t.Errorf("message %d: party-b's verification is not %q: %v", i, w.b, in.Parameter)
		}
		if i > 0 && !hasParam(in.Parameter, "truceline-verification:party-a", "confirmed: seen (twice) by team north") {
			t.Errorf("message %d: party-a's verification: %v", i, in.Parameter)
		}
	}
}

// TestCancelWhenEveryReportIsWithdrawn: the only Cancel is for an alert
// whose every report its sender withdrew; a withdrawal that leaves a
// report standing is an Update, and so is what happens after the Cancel.
func TestCancelWhenEveryReportIsWithdrawn(t *testing.T) {
	t.Parallel()
	a := opened(t, false)
	second := report("unmo-2", t0)
	a, _ = a.AddReport(second, "", t0.Add(10*time.Second))
	withdraw := func(a *alerting.Alert, old *alerting.Report, by string, at time.Time) *alerting.Alert {
		w := report(by, at)
		w.Withdraws = true
		return a.Amend(old, w, "", at)
	}
	a = withdraw(a, second, "unmo-2-cancel", t0.Add(time.Minute))
	if m := cap.Latest(a, aleppo, opts); m.MsgType != "Update" {
		t.Errorf("one report of two withdrawn: %s, want Update", m.MsgType)
	}
	a = withdraw(a, report("unmo-1", t0.Add(-time.Minute)), "unmo-1-cancel", t0.Add(2*time.Minute))
	m := cap.Latest(a, aleppo, opts)
	encode(t, m)
	if a.ReportCount != 0 || m.MsgType != "Cancel" || m.References != cap.Messages(a, aleppo, opts)[0].Ref()+" "+cap.Messages(a, aleppo, opts)[2].Ref() {
		t.Errorf("every report withdrawn (count %d): %s, references %q", a.ReportCount, m.MsgType, m.References)
	}
	a = must(t)(a.Resolve(alerting.Actor{Name: "Duty officer"}, "nothing stands", t0.Add(3*time.Minute)))
	ms := cap.Messages(a, aleppo, opts)
	if got := types(ms); strings.Join(got, " ") != "Alert Update Update Cancel Update" {
		t.Errorf("messages %v", got)
	}
	for _, m := range ms {
		encode(t, m)
	}
}

// TestJointAcknowledgement: each party's acknowledgement is an Ack; the
// alert is acknowledged once both have.
func TestJointAcknowledgement(t *testing.T) {
	t.Parallel()
	ok := must(t)
	a := opened(t, false)
	a.RequireAckFrom = []string{"party-a", "party-b"}
	a = ok(a.Acknowledge(alerting.Actor{Name: "Duty A", Party: "party-a"}, "", t0.Add(time.Minute)))
	a = ok(a.Acknowledge(alerting.Actor{Name: "Duty B", Party: "party-b"}, "", t0.Add(2*time.Minute)))
	ms := cap.Messages(a, aleppo, opts)
	if len(ms) != 3 || ms[1].MsgType != "Ack" || ms[2].MsgType != "Ack" {
		t.Fatalf("messages: %v", types(ms))
	}
	if !hasParam(ms[1].Info[0].Parameter, "truceline-state", "open") || !hasParam(ms[2].Info[0].Parameter, "truceline-state", "acknowledged") {
		t.Errorf("states: %v / %v", ms[1].Info[0].Parameter, ms[2].Info[0].Parameter)
	}
	for _, m := range ms {
		encode(t, m)
	}
}

func types(ms []*cap.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MsgType
	}
	return out
}

// TestEscalation: each step fired is an Update.
func TestEscalation(t *testing.T) {
	t.Parallel()
	a := opened(t, false)
	policy := alerting.Policy{ID: "co-chairs", Steps: []alerting.Step{{After: 0, Notify: []string{alerting.BoardTarget}},
		{After: alerting.Duration(5 * time.Minute), Notify: []string{alerting.BoardTarget}}}}
	a.StartEscalation(policy, alerting.MustCatalog(1, alerting.Config{}), t0)
	a, fired := a.Escalate(policy, alerting.MustCatalog(1, alerting.Config{}), t0.Add(5*time.Minute))
	if !fired {
		t.Fatal("the second step did not fire")
	}
	ms := cap.Messages(a, aleppo, opts)
	if got := strings.Join(types(ms), " "); got != "Alert Update Update" {
		t.Fatalf("messages %s", got)
	}
	if ms[1].Sent != ms[0].Sent || ms[1].Identifier == ms[0].Identifier {
		t.Errorf("the first step, fired on opening: %s %s", ms[1].Identifier, ms[1].Sent)
	}
	encode(t, ms[2])
}

// TestExercise: an exercise alert's messages have status Exercise and say
// so in words too.
func TestExercise(t *testing.T) {
	t.Parallel()
	m := cap.Latest(opened(t, true), aleppo, cap.Options{Public: true})
	encode(t, m)
	if m.Status != "Exercise" || !strings.HasPrefix(m.Info[0].Description, "EXERCISE") {
		t.Errorf("status %s, description %q", m.Status, m.Info[0].Description)
	}
	if m.Scope != "Public" || m.Restriction != "" || m.Sender != "truceline@localhost" || m.Info[0].Web != "/?alert=al-1" {
		t.Errorf("scope %s (%q), sender %s, web %s", m.Scope, m.Restriction, m.Sender, m.Info[0].Web)
	}
}

// TestAreas: GeoJSON's [lon, lat] become CAP's "lat,lon", one closed
// polygon per part; a zone without geometry is described and geocoded.
func TestAreas(t *testing.T) {
	t.Parallel()
	multi := alerting.Zone{ID: "ghouta", Name: "Eastern Ghouta", Geometry: json.RawMessage(`{"type":"MultiPolygon","coordinates":[
		[[[36.3,33.5],[36.5,33.5],[36.5,33.6],[36.3,33.6]],[[36.35,33.52],[36.4,33.52],[36.4,33.55],[36.35,33.52]]],
		[[[36.6,33.4],[36.7,33.4],[36.7,33.45],[36.6,33.4]]]]}`)}
	a := opened(t, false)
	a.Zone = "ghouta"
	m := cap.Latest(a, multi, opts)
	doc := encode(t, m)
	area := m.Info[0].Area[0]
	want := []string{"33.5,36.3 33.5,36.5 33.6,36.5 33.6,36.3 33.5,36.3", "33.4,36.6 33.4,36.7 33.45,36.7 33.4,36.6"}
	if area.AreaDesc != "Eastern Ghouta" || strings.Join(area.Polygon, "|") != strings.Join(want, "|") {
		t.Errorf("area %+v, want polygons %q", area, want)
	}
	if len(area.Geocode) != 1 || area.Geocode[0] != (cap.ValuePair{ValueName: "truceline-zone", Value: "ghouta"}) {
		t.Errorf("geocode %+v", area.Geocode)
	}
	if !strings.Contains(string(doc), "<polygon>33.5,36.3 33.5,36.5") {
		t.Errorf("document:\n%s", doc)
	}

	bare := cap.Latest(opened(t, false), alerting.Zone{ID: "aleppo", Name: "Aleppo"}, opts)
	doc = encode(t, bare)
	if a := bare.Info[0].Area; len(a) != 1 || a[0].AreaDesc != "Aleppo" || a[0].Polygon != nil || a[0].Circle != nil || len(a[0].Geocode) != 1 {
		t.Errorf("area without geometry: %+v", a)
	}
	if strings.Contains(string(doc), "<polygon>") {
		t.Errorf("a polygon without geometry:\n%s", doc)
	}
	// A zone no longer configured is still an area, by its id.
	if a := cap.Latest(opened(t, false), alerting.Zone{}, opts).Info[0].Area[0]; a.AreaDesc != "aleppo" {
		t.Errorf("unknown zone's area %+v", a)
	}
}

func TestPolygons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, geometry string
		want           []string
	}{
		{"polygon", `{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]}`, []string{"2,1 2,3 4,3 2,1"}},
		{"closes an open ring", `{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4]]]}`, []string{"2,1 2,3 4,3 2,1"}},
		{"altitude ignored", `{"type":"Polygon","coordinates":[[[1,2,100],[3,2,100],[3,4,100],[1,2,100]]]}`, []string{"2,1 2,3 4,3 2,1"}},
		{"feature", `{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]}}`, []string{"2,1 2,3 4,3 2,1"}},
		{"collection", `{"type":"GeometryCollection","geometries":[{"type":"Point","coordinates":[1,2]},{"type":"Polygon","coordinates":[[[1,2],[3,2],[3,4],[1,2]]]}]}`, []string{"2,1 2,3 4,3 2,1"}},
		{"too few points", `{"type":"Polygon","coordinates":[[[1,2],[3,2],[1,2]]]}`, nil},
		{"out of range", `{"type":"Polygon","coordinates":[[[1,200],[3,2],[3,4],[1,200]]]}`, nil},
		{"point", `{"type":"Point","coordinates":[1,2]}`, nil},
		{"not geojson", `[1,2]`, nil},
		{"empty", ``, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cap.Polygons(json.RawMessage(tc.geometry)); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRoundTrip: truceline's own message reads back as a report of the
// same zone and category.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	m := cap.Latest(opened(t, true), aleppo, opts)
	doc, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	d, err := cap.Decode(doc, []alerting.Zone{aleppo})
	if err != nil {
		t.Fatal(err)
	}
	r := d.Report
	if r.Zone != "aleppo" || r.Category != alerting.CategoryShelling || r.ID != "truceline:al-1:1" || !r.Exercise ||
		!r.ObservedAt.Equal(t0.Add(-time.Minute)) || r.ReportedBy != "truceline" || r.Severity != alerting.SeverityModerate ||
		r.Certainty != "possible" || r.Location == nil {
		t.Errorf("report %+v", r)
	}
	var back cap.Message
	if err := xml.Unmarshal(doc, &back); err != nil || back.Identifier != m.Identifier {
		t.Errorf("unmarshal: %v, %s", err, back.Identifier)
	}
}

// names names parties for Options.PartyName.
type names map[string]string

func (n names) get(id string) string { return n[id] }
