package app_test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
	"github.com/truceline/truceline/alerting/adapters/cap/captest"
	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// getXML fetches path with an Accept header and returns the status, the
// content type and the body.
func getXML(t *testing.T, a *app.App, token, path, accept string) (int, string, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// postCAP submits a CAP message as a report, as the test admin or with
// token.
func postCAP(t *testing.T, a *app.App, token, doc string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/api/v1/reports", strings.NewReader(doc))
	req.Header.Set("Content-Type", "application/cap+xml")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := adminClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, decode(t, resp.Body)
}

// fieldsOf lists an error body's field problems by field.
func fieldsOf(body map[string]any) map[string]string {
	out := map[string]string{}
	e, _ := body["error"].(map[string]any)
	fields, _ := e["fields"].([]any)
	for _, f := range fields {
		fp, _ := f.(map[string]any)
		field, _ := fp["field"].(string)
		problem, _ := fp["problem"].(string)
		out[field] += problem
	}
	return out
}

func capMessage(t *testing.T, doc []byte) cap.Message {
	t.Helper()
	var m cap.Message
	if err := xml.Unmarshal(doc, &m); err != nil {
		t.Fatalf("not a CAP message: %v\n%s", err, doc)
	}
	return m
}

// TestCAPExport: an alert that opened and was acknowledged answers, to
// Accept: application/cap+xml, its latest CAP message (an Ack referencing
// the Alert), valid CAP 1.2 with the zone's polygon in CAP's lat,lon order;
// the zone's Atom feed lists both messages, and only to those who see the
// zone.
func TestCAPExport(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	post(t, a, "/api/v1/reports", reportJSON("cap-1", "aleppo", "shelling"))
	id := firstAlert(t, a, "aleppo").ID
	dutyA := userToken(t, a, alerting.User{Name: "duty-a", Role: alerting.RoleDutyOfficer, Party: "party-a"})
	if status, body := postAs(t, a, dutyA, "/api/v1/alerts/"+id+"/ack", []byte(`{"note":"team north dispatched"}`)); status != 200 {
		t.Fatalf("ack: %d %v", status, body)
	}

	status, ct, doc := getXML(t, a, "", "/api/v1/alerts/"+id, "application/cap+xml")
	if status != 200 || ct != "application/cap+xml" {
		t.Fatalf("GET with Accept: application/cap+xml: %d %s\n%s", status, ct, doc)
	}
	captest.Validate(t, doc)
	latest := capMessage(t, doc)
	first := fmt.Sprintf("truceline:%s:1", id)
	if latest.MsgType != "Ack" || latest.Status != "Actual" || latest.Identifier != fmt.Sprintf("truceline:%s:2", id) ||
		!strings.HasPrefix(latest.References, latest.Sender+","+first+",") || !strings.HasPrefix(latest.Sender, "truceline@") {
		t.Errorf("latest message: %s %s %s, references %q", latest.MsgType, latest.Status, latest.Identifier, latest.References)
	}
	in := latest.Info[0]
	area := in.Area[0]
	// The demo's Aleppo is GeoJSON [[36.95, 36.08], [37.38, 36.10], ...].
	if area.AreaDesc != "Aleppo" || len(area.Polygon) != 1 || !strings.HasPrefix(area.Polygon[0], "36.08,36.95 36.1,37.38 ") ||
		!strings.HasSuffix(area.Polygon[0], " 36.08,36.95") || len(area.Geocode) != 1 || area.Geocode[0].Value != "aleppo" {
		t.Errorf("area %+v", area)
	}
	if in.Event != "Shelling" || in.Severity != "Severe" || in.Urgency != "Immediate" || in.Headline != "Shelling in Aleppo" ||
		!strings.HasSuffix(in.Web, "/?alert="+id) {
		t.Errorf("info %+v", in)
	}

	if status, ct, _ := getXML(t, a, "", "/api/v1/alerts/"+id, "application/json, application/cap+xml;q=0.5"); status != 200 || ct != "application/json" {
		t.Errorf("JSON preferred: %d %s", status, ct)
	}
	status, _, doc = getXML(t, a, "", "/api/v1/alerts/"+id+"/cap?message=1", "")
	if status != 200 {
		t.Fatalf("message 1: %d %s", status, doc)
	}
	captest.Validate(t, doc)
	if m := capMessage(t, doc); m.MsgType != "Alert" || m.Identifier != first || m.References != "" {
		t.Errorf("message 1: %s %s references %q", m.MsgType, m.Identifier, m.References)
	}
	if status, _, doc := getXML(t, a, "", "/api/v1/alerts/"+id+"/cap?message=9", ""); status != 404 || !bytes.Contains(doc, []byte(`"not_found"`)) {
		t.Errorf("an unknown message: %d %s", status, doc)
	}

	status, ct, doc = getXML(t, a, "", "/api/v1/zones/aleppo/cap.atom", "")
	if status != 200 || ct != "application/atom+xml" {
		t.Fatalf("feed: %d %s %s", status, ct, doc)
	}
	var feed cap.AtomFeed
	if err := xml.Unmarshal(doc, &feed); err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, doc)
	}
	var ids []string
	for _, e := range feed.Entries {
		if e.Content.Message == nil || e.Content.Type != "application/cap+xml" || len(e.Links) != 1 || e.ID != cap.EntryID(e.Content.Message) ||
			!strings.HasSuffix(e.Links[0].Href, "/api/v1/alerts/"+id+"/cap?message="+strings.TrimPrefix(e.Content.Message.Identifier, "truceline:"+id+":")) {
			t.Errorf("entry %s: %+v", e.ID, e)
			continue
		}
		ids = append(ids, e.Content.Message.Identifier)
		inline, err := e.Content.Message.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		captest.Validate(t, inline)
	}
	if got, want := strings.Join(ids, " "), latest.Identifier+" "+first; got != want {
		t.Errorf("feed entries %q, want %q (newest first)", got, want)
	}

	liaison := userToken(t, a, alerting.User{Name: "cap-liaison", Role: alerting.RoleLiaison, Party: "party-b", Zones: []string{"idlib"}})
	for _, path := range []string{"/api/v1/zones/aleppo/cap.atom", "/api/v1/zones/atlantis/cap.atom", "/api/v1/alerts/" + id + "/cap"} {
		if status, _ := call(t, a, liaison, "GET", path, ""); status != 404 {
			t.Errorf("a liaison of idlib: GET %s: %d, want 404", path, status)
		}
	}
	if status, _, _ := getXML(t, a, liaison, "/api/v1/alerts/"+id, "application/cap+xml"); status != 404 {
		t.Errorf("a liaison of idlib read an aleppo alert as CAP: %d", status)
	}
	if status, _ := call(t, a, liaison, "GET", "/api/v1/zones/idlib/cap.atom", ""); status != 200 {
		t.Errorf("a liaison's own zone's feed: %d", status)
	}
}

// capReport is a CAP message from a partner: the zone by its name, the
// category by its label.
func capReport(identifier, areaDesc, event string, observed time.Time) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>` + identifier + `</identifier>
  <sender>ops@party-a.example.org</sender>
  <sent>` + cap.DateTime(time.Now()) + `</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Restricted</scope>
  <restriction>joint centre</restriction>
  <info>
    <category>Security</category>
    <event>` + event + `</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <onset>` + cap.DateTime(observed) + `</onset>
    <senderName>Party A liaison</senderName>
    <area><areaDesc>` + areaDesc + `</areaDesc><circle>35.9,36.6 1</circle></area>
  </info>
</alert>`
}

// TestCAPReports: a CAP message posted as a report becomes an alert in the
// zone its area names with the category its event names; what cannot be
// mapped, or breaks the schema, is named by CAP element in one 400.
func TestCAPReports(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	doc := capReport("pa-idlib-0001", "Idlib", "Airstrike", time.Now().Add(-time.Minute))
	captest.Validate(t, []byte(doc))
	status, body := postCAP(t, a, "", doc)
	key, _ := body["id"].(string)
	if status != 202 || sentID(key) != "pa-idlib-0001" {
		t.Fatalf("POST a CAP report: %d %v", status, body)
	}
	al := firstAlert(t, a, "idlib")
	if al.Category != alerting.CategoryAirstrike || al.Zone != "idlib" || al.Severity != alerting.SeveritySevere {
		t.Errorf("alert %s %s %s", al.Zone, al.Category, al.Severity)
	}
	var stored map[string]any
	alertingtest.Eventually(t, 10*time.Second, "the CAP report stored", func() bool {
		var status int
		status, stored = get(t, a, "/api/v1/reports/"+key)
		return status == 200
	})
	if stored["reported_by"] != "Party A liaison" || stored["certainty"] != "observed" {
		t.Errorf("stored report %v", stored)
	}

	// A time CAP forbids ("Z") is accepted, and the answer says so.
	zulu := strings.Replace(capReport("pa-z-1", "Idlib", "Shelling", time.Now().Add(-time.Minute)), "-00:00</sent>", "Z</sent>", 1)
	if status, body := postCAP(t, a, "", zulu); status != 202 || !strings.Contains(fmt.Sprint(body["warnings"]), "is not a CAP dateTime") {
		t.Errorf("a CAP report sent in Z: %d %v, want 202 with a warning", status, body)
	}

	bad := strings.Replace(capReport("pa-x", "Kyiv", "Flood", time.Now()), "<severity>Severe", "<severity>Catastrophic", 1)
	status, body = postCAP(t, a, "", bad)
	fields := fieldsOf(body)
	if status != 400 || !strings.Contains(fields["info[0].event"], `no category matches "Flood"`) ||
		!strings.Contains(fields["info[0].area"], `("Kyiv")`) || !strings.Contains(fields["info[0].severity"], `"Catastrophic"`) || len(fields) != 3 {
		t.Errorf("unmappable CAP: %d %v", status, body)
	}
	status, body = postCAP(t, a, "", capReport("pa-y", "Idlib", "Shelling", time.Now().Add(time.Hour)))
	if fields := fieldsOf(body); status != 400 || !strings.Contains(fields["info[0].onset"], "in the future (report field observed_at)") {
		t.Errorf("a report from the future: %d %v", status, body)
	}
	status, body = postCAP(t, a, "", `<!DOCTYPE x [<!ENTITY a "b">]><alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>`)
	if status != 400 || !strings.Contains(fieldsOf(body)["(body)"], "DOCTYPE") {
		t.Errorf("a DOCTYPE: %d %v", status, body)
	}

	// A reporter bound to aleppo cannot name another zone, not even to
	// learn that it exists.
	reporter := userToken(t, a, alerting.User{Name: "cap-reporter", Role: alerting.RoleReporter, Zones: []string{"aleppo"}})
	status, body = postCAP(t, a, reporter, capReport("pa-z", "Idlib", "Shelling", time.Now()))
	if status != 400 || !strings.Contains(fieldsOf(body)["info[0].area"], `no areaDesc names a zone ("Idlib")`) {
		t.Errorf("a reporter naming another zone: %d %v", status, body)
	}
	if status, body := postCAP(t, a, reporter, capReport("pa-w", "Aleppo", "Shelling", time.Now())); status != 202 {
		t.Errorf("a reporter's own zone: %d %v", status, body)
	}
}

// capAmendment is a CAP Update (or Cancel) of the messages refs names,
// telling of killed dead.
func capAmendment(identifier, msgType string, killed int, refs ...string) string {
	doc := capReport(identifier, "Idlib", "Airstrike", time.Now().Add(-time.Minute))
	var triples []string
	for _, ref := range refs {
		triples = append(triples, "ops@party-a.example.org,"+ref+","+cap.DateTime(time.Now().Add(-time.Minute)))
	}
	doc = strings.Replace(doc, "<msgType>Alert</msgType>", "<msgType>"+msgType+"</msgType>", 1)
	if len(refs) > 0 {
		doc = strings.Replace(doc, "<restriction>joint centre</restriction>", "<restriction>joint centre</restriction>\n  <references>"+strings.Join(triples, " ")+"</references>", 1)
	}
	return strings.Replace(doc, "<area>", fmt.Sprintf("<parameter><valueName>truceline-killed</valueName><value>%d</value></parameter>\n    <area>", killed), 1)
}

// TestCAPUpdateAndCancel: a CAP Update replaces the report it references
// and a Cancel withdraws it, so an incident told, retold and taken back is
// not counted; another sender naming the same identifier withdraws or
// updates nothing.
func TestCAPUpdateAndCancel(t *testing.T) {
	t.Parallel()
	d := startDeps(t)
	a := start(t, d.config(t))
	first := capAmendment("pa-inc-1", "Alert", 1)
	captest.Validate(t, []byte(first))
	status, body := postCAP(t, a, "", first)
	if status != 202 {
		t.Fatalf("the first message: %d %v", status, body)
	}
	firstKey := body["id"].(string)
	alertingtest.Eventually(t, 10*time.Second, "the alert", func() bool { return len(alerts(t, a, "idlib")) == 1 })

	update := capAmendment("pa-inc-2", "Update", 3, "pa-inc-1")
	captest.Validate(t, []byte(update))
	status, body = postCAP(t, a, "", update)
	if status != 202 || body["amends"] != firstKey || body["withdraws"] != nil {
		t.Fatalf("the update: %d %v, want 202 amending %s", status, body, firstKey)
	}
	updateKey := body["id"].(string)
	state := func() (count, killed int, last string) {
		al := firstAlert(t, a, "idlib")
		return al.ReportCount, al.Casualties.Killed, al.Timeline[len(al.Timeline)-1].Note
	}
	alertingtest.Eventually(t, 10*time.Second, "the update folded in", func() bool {
		count, killed, _ := state()
		return count == 1 && killed == 3
	})
	if _, _, last := state(); !strings.Contains(last, "report "+firstKey+" updated by its sender: report "+updateKey) {
		t.Errorf("the timeline ends %q", last)
	}

	// Another sender's Cancel of "pa-inc-1" names its own report, which
	// does not exist: it is refused, and an Update of it is a report of
	// its own.
	other := userToken(t, a, alerting.User{Name: "cap-other", Role: alerting.RoleReporter, Zones: []string{"idlib"}})
	status, body = postCAP(t, a, other, capAmendment("pb-1", "Cancel", 0, "pa-inc-1"))
	if status != 409 || !strings.Contains(fieldsOf(body)["references"], `"pa-inc-1" names no report of yours in zone "idlib"`) {
		t.Fatalf("another sender's cancel: %d %v, want 409 naming the reference", status, body)
	}
	status, body = postCAP(t, a, other, capAmendment("pb-2", "Update", 5, "pa-inc-1"))
	if status != 202 || body["amends"] != nil || !strings.Contains(fmt.Sprint(body["warnings"]), "this Update counts as a report of its own") {
		t.Fatalf("another sender's update: %d %v, want 202 with a warning", status, body)
	}
	alertingtest.Eventually(t, 10*time.Second, "the other sender's update counted", func() bool {
		count, killed, _ := state()
		return count == 2 && killed == 8
	})

	status, body = postCAP(t, a, "", capAmendment("pa-inc-3", "Cancel", 0, "pa-inc-1", "pa-inc-2"))
	if status != 202 || body["amends"] != updateKey || body["withdraws"] != true {
		t.Fatalf("the cancel: %d %v, want 202 withdrawing %s", status, body, updateKey)
	}
	alertingtest.Eventually(t, 10*time.Second, "the report withdrawn", func() bool {
		count, killed, last := state()
		return count == 1 && killed == 5 && strings.Contains(last, "withdrawn by its sender")
	})
	if al := firstAlert(t, a, "idlib"); al.State != alerting.StateOpen || len(al.Amendments) != 2 {
		t.Errorf("after the withdrawal: state %s, amendments %+v; the alert stays for people to resolve", al.State, al.Amendments)
	}

	day := time.Now().Add(-time.Minute).UTC().Format(time.DateOnly)
	status, summary := get(t, a, "/api/v1/summary?zone=idlib&day="+day)
	zones, _ := summary["zones"].([]any)
	if status != 200 || len(zones) != 1 {
		t.Fatalf("summary: %d %v", status, summary)
	}
	today := zones[0].(map[string]any)["total"].(map[string]any)["today"].(map[string]any)
	if today["reports"] != float64(1) || today["killed"] != float64(5) {
		t.Errorf("the summary counts %v reports, %v killed; want the other sender's report alone: %v", today["reports"], today["killed"], today)
	}
}
