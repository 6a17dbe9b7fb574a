package alerting_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestRecordsAreWhatJSONMarshalWrites: Records writes the report and its
// classification into a record without encoding/json's second pass over
// them, and must still write exactly what json.Marshal would.
func TestRecordsAreWhatJSONMarshalWrites(t *testing.T) {
	t.Parallel()
	r := report("r1", testNow, func(r *alerting.Report) {
		r.Description = `"quoted" <b>&amp;</b> ` + "\u2028 tab\t"
		r.References = []string{"https://example.org/?a=1&b=2"}
	})
	a := alerting.OpenAlert(alerting.Opening{ID: "al-1", ZoneName: "Aleppo", Rule: alerting.DefaultRule}, r, testNow)
	reportJSON, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	class := alerting.Classification{Rules: []string{"shelling"}, Suppressed: []string{"x (<quiet>)"}}
	classJSON, err := json.Marshal(class)
	if err != nil {
		t.Fatal(err)
	}
	add := &alerting.PendingReport{ID: "r1", ObservedAt: testNow, Severity: alerting.SeveritySevere, Killed: 1}
	cases := map[string]alerting.Commit{
		"a report's one change": {Report: r, ReceivedAt: testNow.Add(time.Second), Classification: class,
			Alerts: []alerting.AlertChange{{Alert: a, ReportIDs: []string{"r1"}}}},
		"with its group and the reports an opening adds": {Report: r, ReceivedAt: testNow, Classification: class,
			Alerts: []alerting.AlertChange{{Alert: a, ReportIDs: []string{"r0", "r1"}, GroupKey: "g:aleppo", GroupTTL: time.Hour}}},
		"two changes and a threshold count": {Report: r, ReceivedAt: testNow, Classification: class,
			Pending: []alerting.PendingChange{{GroupKey: "g2", Add: add, TTL: time.Minute}, {GroupKey: "g3", Clear: true}},
			Alerts:  []alerting.AlertChange{{Alert: a, ReportIDs: []string{"r1"}, GroupKey: "g:1"}, {Alert: a, ReportIDs: []string{"r1"}}}},
		"an action's change": {Alerts: []alerting.AlertChange{{Alert: a, GroupKey: "g:aleppo", GroupTTL: time.Hour}}},
	}
	for name, c := range cases {
		for _, raw := range [][2][]byte{{reportJSON, classJSON}, {nil, nil}, {reportJSON, nil}} {
			got, err := c.Records(raw[0], raw[1])
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			want := wantRecords(t, c, raw[0], raw[1])
			if len(got) != len(want) {
				t.Fatalf("%s: %d records, want %d", name, len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("%s, record %d:\n got %s\nwant %s", name, i, got[i], want[i])
				}
			}
		}
	}
}

// wantRecords is what Records wrote before it spliced: each record through
// json.Marshal whole.
func wantRecords(t *testing.T, c alerting.Commit, reportJSON, classJSON []byte) [][]byte {
	t.Helper()
	out := make([][]byte, len(c.Alerts))
	for i, ac := range c.Alerts {
		rec := alerting.Record{Group: ac.GroupKey, GroupTTL: ac.GroupTTL.Milliseconds()}
		if c.Report == nil || len(ac.ReportIDs) != 1 || ac.ReportIDs[0] != c.Report.ID {
			rec.Reports = ac.ReportIDs
		}
		if rec.Group == "" && len(rec.Reports) == 0 && c.Report == nil {
			continue
		}
		if c.Report != nil && i == len(c.Alerts)-1 {
			rec.Report = &alerting.ReportRecord{Report: reportJSON, Classification: classJSON, Changes: len(c.Alerts)}
			for _, p := range c.Pending {
				rec.Report.Pending = append(rec.Report.Pending, alerting.PendingRecord{Group: p.GroupKey, Add: p.Add, Clear: p.Clear, TTL: p.TTL.Milliseconds()})
			}
			if reportJSON != nil {
				rec.Report.ReceivedAt = c.ReceivedAt.UTC()
			}
		}
		data, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = data
	}
	return out
}
