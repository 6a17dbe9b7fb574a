package broker_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
	"github.com/truceline/truceline/broker/natstest"
)

// Reading the streams leaves no consumer behind: a heal, or a test that
// polls ALERTS, would otherwise pile them up until JetStream refuses more.
func TestReadingTheStreamsLeavesNoConsumer(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	a := &alerting.Alert{ID: "al-1", Zone: "aleppo", Version: 1}
	frame := []byte(`{"type":"alert","zone":"aleppo","seq":1,"event":"opened","alert":{"id":"al-1","zone":"aleppo","version":1}}`)
	if err := b.PublishChange(context.Background(), alerting.Change{Zone: "aleppo", Seq: 1, Event: alerting.EventOpened, Alert: a, Frame: frame}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		n := 0
		if err := b.Changes(context.Background(), "aleppo", time.Time{}, func(alerting.Change) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("read %d changes, want 1", n)
		}
		if err := b.Changes(context.Background(), "daraa", time.Time{}, func(alerting.Change) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(context.Background(), broker.StreamAlerts)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers left on %s after reading it", info.State.Consumers, broker.StreamAlerts)
	}
}

// TestAnAmendmentKeepsWhatItAmends: the report an Update or Cancel amends
// is said in headers, not in the body, and read back as the Arrival the
// engine admits it with again.
func TestAnAmendmentKeepsWhatItAmends(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	by := alerting.Submitter{Via: alerting.ViaCAP, User: "liaison-a"}
	r := alerting.Report{ID: "pa-2", Zone: "aleppo", Category: alerting.CategoryShelling, ObservedAt: time.Now().UTC().Truncate(time.Second),
		ReportedBy: "OP 3", Amends: alerting.ReportKey(by, "aleppo", "pa-1"), Withdraws: true}
	r.Stamp(by, true)
	if _, err := b.PublishReport(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	var got []alerting.Submission
	if err := b.Reports(context.Background(), "aleppo", 0, math.MaxUint64, func(s alerting.Submission) error { got = append(got, s); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Arrival.Amends != "pa-1" || !got[0].Arrival.Withdraws || got[0].Arrival.By != by {
		t.Fatalf("read back %+v", got)
	}
	if body := string(got[0].Data); strings.Contains(body, "amends") || strings.Contains(body, "withdraws") {
		t.Errorf("the body says what only truceline sets: %s", body)
	}
}

// TestReportsReadsBetweenTwoPositions: a heal reads the reports after its
// checkpoint up to the last one the engine's consumer handed out, and no
// further.
func TestReportsReadsBetweenTwoPositions(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	b := newBroker(t, srv)
	for i := range 5 {
		r := alerting.Report{ID: fmt.Sprintf("between-%d", i), Zone: "aleppo", Category: alerting.CategoryShelling,
			ObservedAt: time.Now().UTC().Truncate(time.Second), ReportedBy: "OP 3"}
		r.Stamp(alerting.Submitter{Via: alerting.ViaNATS}, true)
		if _, err := b.PublishReport(context.Background(), &r); err != nil {
			t.Fatal(err)
		}
	}
	read := func(after, through uint64) []uint64 {
		var seqs []uint64
		if err := b.Reports(context.Background(), "aleppo", after, through, func(s alerting.Submission) error {
			seqs = append(seqs, s.StreamSeq)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return seqs
	}
	for _, c := range []struct {
		after, through uint64
		want           []uint64
	}{{1, 3, []uint64{2, 3}}, {0, 5, []uint64{1, 2, 3, 4, 5}}, {3, 3, nil}, {4, 2, nil}, {4, math.MaxUint64, []uint64{5}}} {
		if got := read(c.after, c.through); !slices.Equal(got, c.want) {
			t.Errorf("after %d through %d: read %v, want %v", c.after, c.through, got, c.want)
		}
	}
	if n, err := b.Delivered(context.Background()); err != nil || n != 0 {
		t.Errorf("Delivered with no engine consumer = %d, %v; want 0", n, err)
	}
}
