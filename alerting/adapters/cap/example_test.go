package cap_test

import (
	"fmt"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

func ExampleDecode() {
	msg := `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>unmo-aleppo-0042</identifier>
  <sender>unmo-north@un.example.org</sender>
  <sent>2026-11-23T14:05:00+02:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Restricted</scope>
  <info>
    <category>Security</category>
    <event>Airstrike</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <area><areaDesc>Aleppo</areaDesc><circle>36.2,37.15 0.5</circle></area>
  </info>
</alert>`
	zones := []alerting.Zone{{ID: "aleppo", Name: "Aleppo"}}
	d, err := cap.Decode([]byte(msg), zones)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := d.Report
	fmt.Println(r.ID, r.Zone, r.Category, r.ObservedAt.UTC().Format("15:04"), r.ReportedBy, r.Severity, r.Location.PrecisionM)

	_, err = cap.Decode([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><status>Actual</status><msgType>Alert</msgType>
<sender>x</sender><sent>2026-11-23T14:05:00+02:00</sent><info><event>Flood</event><area><areaDesc>Kyiv</areaDesc></area></info></alert>`), zones)
	for _, p := range alerting.ErrorFields(err) {
		fmt.Printf("%s: %s\n", p.Field, p.Problem)
	}
	// Output:
	// unmo-aleppo-0042 aleppo airstrike 12:05 unmo-north@un.example.org severe 500
	// info[0].event: no category matches "Flood": give a parameter truceline-category (one of shelling, airstrike, drone_strike, small_arms, ground_assault, explosion, movement_of_forces, heavy_weapons_in_restricted_area, access_denial, other), or an event such as "Shelling" or "Small-arms fire"
	// info[0].area: no geocode "truceline-zone", and no areaDesc names a zone ("Kyiv")
}
