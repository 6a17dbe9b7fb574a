package main

import (
	"slices"
	"testing"
)

func TestParseFrame(t *testing.T) {
	data := []byte(`{"type":"alert","zone":"aleppo","seq":58,"event":"opened","report_id":"bench-1a-7",` +
		`"alert":{"id":"al-1","title":"a \"quoted\" {brace} [bracket]","timeline":[{"report_id":"x","note":"}]"}],` +
		`"report_ids":["bench-1a-6","bench-1a-7"],"n":null,"ok":true}}`)
	f, err := parseFrame(data)
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Type) != "alert" || string(f.Zone) != "aleppo" || f.Seq != 58 || string(f.ReportID) != "bench-1a-7" {
		t.Errorf("head: type %q zone %q seq %d report_id %q", f.Type, f.Zone, f.Seq, f.ReportID)
	}
	var ids []string
	eachReportID(f.Alert, func(id []byte) { ids = append(ids, string(id)) })
	if !slices.Equal(ids, []string{"bench-1a-6", "bench-1a-7"}) {
		t.Errorf("report_ids %q", ids)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		f, _ := parseFrame(data)
		eachReportID(f.Alert, func([]byte) {})
	}); allocs != 0 {
		t.Errorf("parsing a frame allocates %v times", allocs)
	}

	f, err = parseFrame([]byte(` { "type" : "snapshot" , "zone":"idlib","seq":3,"alerts":[]} `))
	if err != nil || string(f.Type) != "snapshot" || f.Seq != 3 || f.Alert != nil {
		t.Errorf("snapshot: %+v, %v", f, err)
	}
	for _, bad := range []string{``, `[]`, `{"type"}`, `{"type":"alert"`, `{"a":1 "b":2}`} {
		if _, err := parseFrame([]byte(bad)); err == nil {
			t.Errorf("parseFrame(%q) = nil error", bad)
		}
	}
}

// TestTrackerObserve: a report is delivered by its own frame (and timed
// once, by the first client) or by a later frame's report_ids (untimed).
func TestTrackerObserve(t *testing.T) {
	t.Parallel()
	tr := newTracker("1a", 3, []via{viaNATS})
	for i := range 3 {
		tr.sent(i)
		tr.accepted(i, false)
	}
	frame := func(s string) *wsFrame {
		f, err := parseFrame([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return &f
	}
	// Report 0 opened nothing; report 1's frame lists it. Another run's id
	// and a number out of range are ignored.
	tr.observe(frame(`{"type":"alert","report_id":"bench-1a-1","alert":{"report_ids":["bench-1a-0","bench-1a-1","bench-2b-2","bench-1a-9"]}}`), tr.now())
	tr.observe(frame(`{"type":"alert","report_id":"bench-1a-1","alert":{"report_ids":["bench-1a-1"]}}`), tr.now()) // a second client
	if got := tr.pending(); !slices.Equal(got, []int{2}) {
		t.Errorf("pending %v, want [2]", got)
	}
	if n := tr.latency.TotalCount(); n != 1 {
		t.Errorf("%d latencies recorded, want 1 (report 1, first client)", n)
	}
}
