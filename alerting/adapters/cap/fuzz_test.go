package cap_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

// FuzzDecode: whatever arrives, Decode never panics, and either maps a
// report that has what every report needs and encodes as JSON, or names
// its problems.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(partnerCAP))
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m</identifier><sender>s</sender><sent>2026-11-23T14:05:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info><event>Shelling</event><area><areaDesc>Aleppo</areaDesc><polygon>36,37 36,38 37,38 36,37</polygon></area></info></alert>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><alert/>`))
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><info><area><circle>1e308,1e308 1e308</circle></area></info></alert>`))
	f.Add([]byte(``))
	f.Add([]byte(`<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>m</identifier><sender>s</sender><sent>2026-11-23T14:05:00+00:00</sent><status>Actual</status><msgType>Alert</msgType><scope>Public</scope><info><event>Shelling</event>` +
		`<parameter><valueName>truceline-observed-until</valueName><value>2026-11-23T14:09:00+00:00</value></parameter><parameter><valueName>truceline-observer</valueName><value>36.2,37.1</value></parameter>` +
		`<parameter><valueName>truceline-direction-deg</valueName><value>45</value></parameter><parameter><valueName>truceline-distance-m</valueName><value>100-1e309</value></parameter>` +
		`<parameter><valueName>truceline-weapon-calibre</valueName><value>122mm</value></parameter><parameter><valueName>truceline-impacts</valueName><value>7</value></parameter><area><areaDesc>Aleppo</areaDesc></area></info></alert>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := cap.Decode(data, zones)
		if err != nil {
			var e *alerting.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *alerting.Error: %v", err)
			}
			switch e.Code {
			case alerting.ETOOLARGE:
			case alerting.EINVALID:
				if len(e.Fields) == 0 {
					t.Fatalf("invalid without naming a field: %v", err)
				}
				for _, p := range e.Fields {
					if p.Field == "" || p.Problem == "" {
						t.Fatalf("a problem without field or words: %+v", p)
					}
				}
			default:
				t.Fatalf("code %s: %v", e.Code, err)
			}
			return
		}
		r := d.Report
		if r.Zone != "aleppo" && r.Zone != "homs-north" || !r.Category.Valid() || r.ObservedAt.IsZero() || r.ReportedBy == "" {
			t.Fatalf("decoded a report without what every report needs: %+v", r)
		}
		if len(r.Description) > alerting.MaxDescriptionBytes {
			t.Fatalf("description of %d bytes", len(r.Description))
		}
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("the report does not encode: %v", err)
		}
	})
}
