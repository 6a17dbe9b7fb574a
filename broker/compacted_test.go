package broker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// TestTheCompactedRecordReadsBackWhatWasWritten: alerts written into the
// compacted record in batches read back as each one's latest value, under
// the keys KeyValue itself reads, and the zone's mark says how far it goes.
func TestTheCompactedRecordReadsBackWhatWasWritten(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	ctx := context.Background()
	alert := func(id, title string) alerting.CompactAlert {
		body, _ := json.Marshal(map[string]string{"id": id, "zone": "aleppo", "title": title})
		return alerting.CompactAlert{Alert: body, Reports: []string{"r-" + id}}
	}
	var first []alerting.CompactAlert
	for i := range 40 {
		a := alert(fmt.Sprintf("al-%02d", i), "first")
		if i%2 == 0 {
			a.ID = fmt.Sprintf("al-%02d", i) // as the store gives it; the others are found in the alert
		}
		first = append(first, a)
	}
	if err := b.Compact(ctx, "aleppo", 0, time.Time{}, first); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	if err := b.Compact(ctx, "aleppo", 0, time.Time{}, []alerting.CompactAlert{alert("al-07", "second")}); err != nil {
		t.Fatal(err)
	}
	if err := b.Compact(ctx, "aleppo", 41, at, nil); err != nil {
		t.Fatal(err)
	}

	seq, when, err := b.CompactedSeq(ctx, "aleppo")
	if err != nil || seq != 41 || !when.Equal(at) {
		t.Fatalf("CompactedSeq = %d, %v, %v; want 41, %v", seq, when, err, at)
	}
	titles := map[string]string{}
	if err := b.CompactedAlerts(ctx, "aleppo", func(a alerting.CompactAlert) error {
		var v struct{ ID, Title string }
		if err := json.Unmarshal(a.Alert, &v); err != nil {
			return err
		}
		if !slices.Equal(a.Reports, []string{"r-" + v.ID}) {
			t.Errorf("%s holds reports %v", v.ID, a.Reports)
		}
		titles[v.ID] = v.Title
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(titles) != 40 || titles["al-07"] != "second" || titles["al-08"] != "first" {
		t.Errorf("read back %d alerts, al-07 %q, al-08 %q; want 40, second, first", len(titles), titles["al-07"], titles["al-08"])
	}

	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, broker.CompactedBucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n != 41 { // 40 alerts and the zone's mark
		t.Errorf("%d keys in %s, want 41", n, broker.CompactedBucket)
	}
	for _, id := range []string{"al-07", "al-08"} { // its id found in the alert, and given
		e, err := kv.Get(ctx, "aleppo."+id)
		if err != nil {
			t.Fatalf("KeyValue.Get %s: %v", id, err)
		}
		var got alerting.CompactAlert
		if err := json.Unmarshal(e.Value(), &got); err != nil || !slices.Equal(got.Reports, []string{"r-" + id}) {
			t.Fatalf("KeyValue.Get %s: %s (%v)", id, e.Value(), err)
		}
	}
}
