package alerting_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
)

// TestReportKeysAreTheSendersOwn: a report id names a report of one
// sender in one zone; the same sender in the same zone gets the same key.
func TestReportKeysAreTheSendersOwn(t *testing.T) {
	t.Parallel()
	a := alerting.Submitter{Via: alerting.ViaHTTP, User: "liaison-a", Token: "t1"}
	b := alerting.Submitter{Via: alerting.ViaHTTP, User: "liaison-b"}
	natsA := alerting.Submitter{Via: alerting.ViaNATS, User: "liaison-a"}
	key := alerting.ReportKey(a, "aleppo", "r-1")
	if !strings.HasPrefix(key, "r-1~") || !alerting.ValidReportKey(key) || alerting.ValidReportID(key) {
		t.Fatalf("key %q", key)
	}
	for name, other := range map[string]string{
		"another sender":         alerting.ReportKey(b, "aleppo", "r-1"),
		"another zone":           alerting.ReportKey(a, "idlib", "r-1"),
		"the same name on NATS":  alerting.ReportKey(natsA, "aleppo", "r-1"),
		"an anonymous publisher": alerting.ReportKey(alerting.Submitter{Via: alerting.ViaNATS}, "aleppo", "r-1"),
	} {
		if other == key {
			t.Errorf("%s has the same key %q", name, key)
		}
	}
	for name, same := range map[string]alerting.Submitter{
		"another token": {Via: alerting.ViaHTTP, User: "liaison-a", Token: "t2"},
		"CAP":           {Via: alerting.ViaCAP, User: "liaison-a"},
	} {
		if got := alerting.ReportKey(same, "aleppo", "r-1"); got != key {
			t.Errorf("the same user with %s: key %q, want %q", name, got, key)
		}
	}
	if got := alerting.ReportKey(alerting.Submitter{Via: alerting.ViaNATS}, "aleppo", "r-1"); got != "r-1" {
		t.Errorf("an anonymous NATS publisher's report is kept as %q, want its id", got)
	}
	if s, ok := alerting.ParseSubmitter(a.HeaderValue()); !ok || s != a {
		t.Errorf("ParseSubmitter(HeaderValue) = %+v, %v", s, ok)
	}
	for _, bad := range []string{"", "{}", `{"via":"carrier pigeon"}`, "liaison-a"} {
		if _, ok := alerting.ParseSubmitter(bad); ok {
			t.Errorf("ParseSubmitter(%q) accepted", bad)
		}
	}
}

// TestIntakeTallyWritesOneEntryPerSenderAndZone: what a period received
// is written once, per sender and zone, and the next period starts empty.
func TestIntakeTallyWritesOneEntryPerSenderAndZone(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []alerting.AuditEntry
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tally := alerting.NewIntakeTally(func(_ context.Context, e alerting.AuditEntry) {
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}, time.Hour, func() time.Time { return now })
	a := alerting.Submitter{Via: alerting.ViaHTTP, User: "liaison-a", Token: "t1"}
	nats := alerting.Submitter{Via: alerting.ViaNATS}
	for _, r := range []alerting.Report{
		{Zone: "aleppo", SubmittedBy: &a}, {Zone: "aleppo", SubmittedBy: &a}, {Zone: "idlib", SubmittedBy: &a},
		{Zone: "aleppo", SubmittedBy: &nats}, {Zone: "aleppo"},
	} {
		tally.Count(&r)
	}
	now = now.Add(time.Minute)
	tally.Flush(context.Background())
	want := map[string]string{
		"liaison-a http, token t1 aleppo": "2 reports stored from 2026-12-06T12:00:00Z to 2026-12-06T12:01:00Z",
		"liaison-a http, token t1 idlib":  "1 report stored from 2026-12-06T12:00:00Z to 2026-12-06T12:01:00Z",
		"anonymous nats aleppo":           "1 report stored from 2026-12-06T12:00:00Z to 2026-12-06T12:01:00Z",
		"unrecorded  aleppo":              "1 report stored from 2026-12-06T12:00:00Z to 2026-12-06T12:01:00Z",
	}
	mu.Lock()
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for _, e := range got {
		if k := e.Actor + " " + e.Via + " " + e.Zone; want[k] != e.Detail || e.Action != "reports.receive" {
			t.Errorf("entry %s: %s %q", k, e.Action, e.Detail)
		}
	}
	got = nil
	mu.Unlock()
	if err := tally.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("an empty period wrote %+v", got)
	}
}
