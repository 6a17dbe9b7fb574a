package cap_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
	"github.com/truceline/truceline/alerting/adapters/cap/captest"
)

var zones = []alerting.Zone{aleppo, {ID: "homs-north", Name: "North of Homs"}}

// partnerCAP is a CAP message as a partner's system might send it: the
// zone by its name, the category by its label.
const partnerCAP = `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>urn:oid:2.49.0.1.760.0.2026.42</identifier>
  <sender>ops@party-a.example.org</sender>
  <sent>2026-11-23T17:05:00+03:00</sent>
  <status>Exercise</status>
  <msgType>Update</msgType>
  <scope>Restricted</scope>
  <restriction>joint centre</restriction>
  <references>ops@party-a.example.org,urn:oid:2.49.0.1.760.0.2026.41,2026-11-23T17:00:00+03:00</references>
  <info>
    <language>ar</language>
    <category>Security</category>
    <event>قصف</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
  </info>
  <info>
    <language>en-GB</language>
    <category>Security</category>
    <event>Ceasefire violation – Small-arms fire</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <onset>2026-11-23T16:58:00+03:00</onset>
    <senderName>Party A liaison, OP North</senderName>
    <headline>Small-arms fire near the water station</headline>
    <description>Bursts of automatic fire for ten minutes.</description>
    <parameter><valueName>truceline-count</valueName><value>3</value></parameter>
    <parameter><valueName>truceline-weapon</valueName><value>PKM</value></parameter>
    <parameter><valueName>truceline-killed</valueName><value>1</value></parameter>
    <parameter><valueName>other-system-id</valueName><value>xyz</value></parameter>
    <area>
      <areaDesc>North of Homs</areaDesc>
      <circle>34.95,36.7 0.5</circle>
    </area>
  </info>
</alert>`

func TestDecode(t *testing.T) {
	t.Parallel()
	captest.Validate(t, []byte(partnerCAP))
	d, err := cap.Decode([]byte(partnerCAP), zones)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Report
	want := alerting.Report{ID: "urn:oid:2.49.0.1.760.0.2026.42", Zone: "homs-north", Category: alerting.CategorySmallArms,
		ObservedAt: time.Date(2026, 11, 23, 13, 58, 0, 0, time.UTC), ReportedBy: "Party A liaison, OP North",
		Severity: alerting.SeveritySevere, Certainty: "observed", Count: 3, Weapon: "PKM",
		Casualties: &alerting.Casualties{Killed: 1}, Location: &alerting.Location{Lat: 34.95, Lon: 36.7, PrecisionM: 500},
		Description: "Small-arms fire near the water station\n\nBursts of automatic fire for ten minutes.",
		References:  []string{"urn:oid:2.49.0.1.760.0.2026.41"}, Exercise: true}
	if !r.ObservedAt.Equal(want.ObservedAt) {
		t.Errorf("observed_at %s, want %s", r.ObservedAt, want.ObservedAt)
	}
	r.ObservedAt = want.ObservedAt
	if r.ID != want.ID || r.Zone != want.Zone || r.Category != want.Category || r.ReportedBy != want.ReportedBy ||
		r.Severity != want.Severity || r.Certainty != want.Certainty || r.Count != want.Count || r.Weapon != want.Weapon ||
		*r.Casualties != *want.Casualties || *r.Location != *want.Location || r.Description != want.Description ||
		strings.Join(r.References, " ") != strings.Join(want.References, " ") || r.Exercise != want.Exercise {
		t.Errorf("report\n %+v\nwant\n %+v", r, want)
	}
	if err := r.Validate(alerting.MustCatalog(1, alerting.Config{Zones: zones}), time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC)); err != nil {
		t.Errorf("the report does not validate: %v", err)
	}
	if d.Amends != "urn:oid:2.49.0.1.760.0.2026.41" || d.Withdraws {
		t.Errorf("an Update amends %q (withdraws %v), want the message it references", d.Amends, d.Withdraws)
	}
}

// TestDecodeCancel: a Cancel withdraws the last message it references, and
// must reference one.
func TestDecodeCancel(t *testing.T) {
	t.Parallel()
	msg := func(refs string) string {
		return `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m-3</identifier><sender>monitor-7</sender>
<sent>2026-11-23T14:15:00-00:00</sent><status>Actual</status><msgType>Cancel</msgType><scope>Public</scope>` + refs + `
<info><category>Security</category><event>Shelling</event><urgency>Past</urgency><severity>Minor</severity><certainty>Unlikely</certainty>
<area><areaDesc>Aleppo</areaDesc></area></info></alert>`
	}
	doc := msg(`<references>monitor-7,m-1,2026-11-23T14:05:00-00:00 monitor-7,m-2,2026-11-23T14:10:00-00:00</references>`)
	captest.Validate(t, []byte(doc))
	d, err := cap.Decode([]byte(doc), zones)
	if err != nil || d.Amends != "m-2" || !d.Withdraws {
		t.Fatalf("a Cancel: amends %q, withdraws %v, %v; want m-2 withdrawn", d.Amends, d.Withdraws, err)
	}
	_, err = cap.Decode([]byte(msg("")), zones)
	if got := problemsOf(t, err, alerting.EINVALID)["references"]; !strings.Contains(got, "is required for a Cancel") {
		t.Errorf("a Cancel without references: %q", got)
	}
}

// TestDecodeFallbacks: a geocode names the zone, the event the category,
// sent the time and sender the reporter; a polygon gives the location.
func TestDecodeFallbacks(t *testing.T) {
	t.Parallel()
	doc := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m-1</identifier><sender>monitor-7</sender>
<sent>2026-11-23T14:05:00-00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><category>Security</category><event>airstrike</event><urgency>Past</urgency><severity>Unknown</severity><certainty>Very Likely</certainty>
<area><areaDesc>somewhere</areaDesc><polygon>36.0,37.0 36.0,37.2 36.2,37.2 36.2,37.0 36.0,37.0</polygon><geocode><valueName>truceline-zone</valueName><value>aleppo</value></geocode></area>
</info></alert>`
	d, err := cap.Decode([]byte(doc), zones)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Report
	if r.Zone != "aleppo" || r.Category != alerting.CategoryAirstrike || r.ReportedBy != "monitor-7" || !r.ObservedAt.Equal(t0) ||
		r.Severity != "" || r.Certainty != "likely" || r.Exercise {
		t.Errorf("report %+v", r)
	}
	if l := r.Location; l == nil || abs(l.Lat-36.1) > 1e-9 || abs(l.Lon-37.1) > 1e-9 || l.PrecisionM < 13000 || l.PrecisionM > 15000 {
		t.Errorf("location %+v, want the centre 36.1,37.1 within about 14 km", l)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestDecodeNamesEveryProblem: every element that cannot be mapped is
// named, at once.
func TestDecodeNamesEveryProblem(t *testing.T) {
	t.Parallel()
	doc := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>has space/and slash</identifier>
<sent>yesterday</sent><status>Test</status><msgType>Ack</msgType><scope>Public</scope>
<references>just-one-part</references>
<info><category>Met</category><event>Flood</event><urgency>Immediate</urgency><severity>Catastrophic</severity><certainty>Sure</certainty>
<onset>soon</onset>
<parameter><valueName>truceline-count</valueName><value>many</value></parameter>
<area><areaDesc>Kyiv</areaDesc><circle>north of here</circle></area></info></alert>`
	_, err := cap.Decode([]byte(doc), zones)
	want := map[string]string{
		"identifier":                 "cannot serve as the report id",
		"status":                     `"Test" is not a report`,
		"msgType":                    `"Ack" is not a report`,
		"references":                 "is not sender,identifier,sent",
		"info[0].event":              `no category matches "Flood"`,
		"info[0].area":               `no areaDesc names a zone ("Kyiv")`,
		"info[0].onset":              `"soon" is not a CAP dateTime`,
		"sent":                       `"yesterday" is not a CAP dateTime`,
		"info[0].severity":           `"Catastrophic" is not a CAP severity`,
		"info[0].certainty":          `"Sure" is not a CAP certainty`,
		"info[0].parameter[0]":       `truceline-count "many" must be an integer`,
		"info[0].area[0].circle[0]":  `"north of here" is not a circle`,
		"sender":                     "is required",
		"(every problem is counted)": "",
	}
	fields := problemsOf(t, err, alerting.EINVALID)
	for field, problem := range want {
		if problem == "" {
			continue
		}
		if !strings.Contains(fields[field], problem) {
			t.Errorf("%s: %q, want it to say %q", field, fields[field], problem)
		}
	}
	if len(fields) != len(want)-1 {
		t.Errorf("%d problems, want %d: %v", len(fields), len(want)-1, fields)
	}
}

func problemsOf(t *testing.T, err error, code string) map[string]string {
	t.Helper()
	var e *alerting.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want an *alerting.Error %s", err, code)
	}
	out := map[string]string{}
	for _, f := range e.Fields {
		out[f.Field] += f.Problem
	}
	return out
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	bomb := `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol2;</identifier></alert>`
	for _, tc := range []struct{ name, doc, problem string }{
		{"a DOCTYPE", bomb, "DOCTYPE"},
		{"a lower-case doctype", strings.ToLower(bomb), "DOCTYPE"},
		{"not XML", `{"zone":"aleppo"}`, "has text outside the root element"},
		{"empty", ``, "is empty"},
		{"malformed", `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>x</alert>`, "malformed XML"},
		{"CAP 1.1", `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"><identifier>x</identifier></alert>`, "send a CAP 1.2 <alert>"},
		{"no namespace", `<alert><identifier>x</identifier></alert>`, "send a CAP 1.2 <alert>"},
		{"two roots", `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"></alert><alert/>`, "another element after the alert"},
		{"another encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>`, "malformed XML"},
		{"undefined entity", `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>`, "malformed XML"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cap.Decode([]byte(tc.doc), zones)
			if p := problemsOf(t, err, alerting.EINVALID)["(body)"]; !strings.Contains(p, tc.problem) {
				t.Errorf("(body): %q, want it to say %q", p, tc.problem)
			}
		})
	}
	big := strings.Replace(partnerCAP, "Bursts", strings.Repeat("x", cap.MaxBytes), 1)
	if _, err := cap.Decode([]byte(big), zones); alerting.ErrorCode(err) != alerting.ETOOLARGE {
		t.Errorf("a message over %d bytes: %v", cap.MaxBytes, err)
	}
}

// TestDecodeChoices covers the other ways a message names its zone and
// category, and what wins.
func TestDecodeChoices(t *testing.T) {
	t.Parallel()
	base := func(info string) string {
		return `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m-2</identifier><sender>s</sender>
<sent>2026-11-23T14:05:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info>` + info + `</info></alert>`
	}
	for _, tc := range []struct {
		name, info string
		zone       string
		category   alerting.Category
		problems   map[string]string
	}{
		{"zone id as areaDesc, category parameter over the event",
			`<event>Flood</event><parameter><valueName>truceline-category</valueName><value>drone_strike</value></parameter><area><areaDesc>ALEPPO</areaDesc></area>`,
			"aleppo", alerting.CategoryDroneStrike, nil},
		{"category eventCode, zone parameter",
			`<event>x</event><eventCode><valueName>truceline-category</valueName><value>explosion</value></eventCode><parameter><valueName>truceline-zone</valueName><value>homs-north</value></parameter>`,
			"homs-north", alerting.CategoryExplosion, nil},
		{"label in any case", `<event>heavy weapons in a restricted area</event><area><areaDesc>north of homs</areaDesc></area>`,
			"homs-north", alerting.CategoryHeavyWeapons, nil},
		{"a geocode naming an unknown zone wins over a matching areaDesc",
			`<event>Shelling</event><area><areaDesc>Aleppo</areaDesc><geocode><valueName>truceline-zone</valueName><value>kyiv</value></geocode></area>`,
			"", "", map[string]string{"info[0].area[0].geocode[0]": `no zone "kyiv"`}},
		{"no area", `<event>Shelling</event>`, "", "", map[string]string{"info[0].area": "is required"}},
		{"bad category parameter", `<event>Shelling</event><parameter><valueName>truceline-category</valueName><value>mortar</value></parameter><area><areaDesc>Aleppo</areaDesc></area>`,
			"", "", map[string]string{"info[0].parameter[0]": `truceline-category "mortar" is not a category`}},
		{"bad polygon", `<event>Shelling</event><area><areaDesc>Aleppo</areaDesc><polygon>1,2 3,4 5,6 7,8</polygon></area>`,
			"", "", map[string]string{"info[0].area[0].polygon[0]": "the first and last the same"}},
		{"NaN", `<event>Shelling</event><area><areaDesc>Aleppo</areaDesc><circle>NaN,1 2</circle></area>`,
			"", "", map[string]string{"info[0].area[0].circle[0]": "is not a circle"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := cap.Decode([]byte(base(tc.info)), zones)
			if tc.problems != nil {
				got := problemsOf(t, err, alerting.EINVALID)
				for field, problem := range tc.problems {
					if !strings.Contains(got[field], problem) {
						t.Errorf("%s: %q, want %q (all: %v)", field, got[field], problem, got)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Report.Zone != tc.zone || d.Report.Category != tc.category {
				t.Errorf("zone %s category %s, want %s %s", d.Report.Zone, d.Report.Category, tc.zone, tc.category)
			}
		})
	}
	if _, err := cap.Decode([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m</identifier><sender>s</sender><sent>2026-11-23T14:05:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope></alert>`), zones); problemsOf(t, err, alerting.EINVALID)["info"] == "" {
		t.Errorf("a message without info: %v", err)
	}
}

// TestExplain: the report's validation problems name the CAP elements.
func TestExplain(t *testing.T) {
	t.Parallel()
	d, err := cap.Decode([]byte(partnerCAP), zones)
	if err != nil {
		t.Fatal(err)
	}
	d.Report.ObservedAt = time.Now().Add(time.Hour)
	d.Report.Location.Lat = 95
	verr := d.Report.Validate(alerting.MustCatalog(1, alerting.Config{Zones: zones}), time.Now())
	got := problemsOf(t, d.Explain(verr), alerting.EINVALID)
	if !strings.Contains(got["info[1].onset"], "in the future (report field observed_at)") ||
		!strings.Contains(got["info[1].area[0].circle[0]"], "between -90 and 90 (report field location.lat)") {
		t.Errorf("explained: %v", got)
	}
	var none *cap.Decoded
	if none.Explain(verr) != verr || d.Explain(nil) != nil {
		t.Error("Explain changed what it cannot explain")
	}
}

// TestObservedAtIsWhenTheEventBegan: onset, when the event began, before
// effective (when the information applies) and sent; and a centroid is
// rounded to 6 decimals, not 36.199999999599434.
func TestObservedAtIsWhenTheEventBegan(t *testing.T) {
	t.Parallel()
	doc := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m-2</identifier><sender>monitor-7</sender>
<sent>2026-11-23T14:05:00-00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><category>Security</category><event>Shelling</event><urgency>Past</urgency><severity>Severe</severity><certainty>Observed</certainty>
<effective>2026-11-23T14:03:00-00:00</effective><onset>2026-11-23T13:55:00-00:00</onset>
<area><areaDesc>Aleppo</areaDesc><polygon>36.1,37.1 36.1,37.3 36.3,37.3 36.3,37.1 36.1,37.1</polygon></area>
</info></alert>`
	d, err := cap.Decode([]byte(doc), zones)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(-10 * time.Minute); !d.Report.ObservedAt.Equal(want) {
		t.Errorf("observed_at %s, want the onset %s", d.Report.ObservedAt, want)
	}
	l := d.Report.Location
	if l == nil || l.Lat != 36.2 || l.Lon != 37.2 {
		t.Errorf("location %+v, want 36.2,37.2 exactly", l)
	}
}

// TestATimeInZIsAcceptedWithAWarning: CAP forbids "Z" and fractions of a
// second; such a time is read, and the sender is told.
func TestATimeInZIsAcceptedWithAWarning(t *testing.T) {
	t.Parallel()
	doc := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m-3</identifier><sender>monitor-7</sender>
<sent>2026-11-23T14:05:00Z</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope>
<info><category>Security</category><event>Shelling</event><urgency>Past</urgency><severity>Severe</severity><certainty>Observed</certainty>
<area><areaDesc>Aleppo</areaDesc></area></info></alert>`
	d, err := cap.Decode([]byte(doc), zones)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Report.ObservedAt.Equal(t0) || len(d.Warnings) != 1 ||
		!strings.Contains(d.Warnings[0], `sent "2026-11-23T14:05:00Z" is not a CAP dateTime`) || !strings.Contains(d.Warnings[0], "accepted as 2026-11-23T14:05:00-00:00") {
		t.Errorf("observed_at %s, warnings %q", d.Report.ObservedAt, d.Warnings)
	}
	good := strings.Replace(doc, "14:05:00Z", "14:05:00-00:00", 1)
	if d, err := cap.Decode([]byte(good), zones); err != nil || len(d.Warnings) != 0 {
		t.Errorf("a CAP time: %v, warnings %q", err, d.Warnings)
	}
}
