package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// TestTheHistoryKeepsBodiesAndReadsOldFrames: the zone's history holds
// each change as "<seq> <body>", without the frame's head, and a history
// entry an older version wrote (the whole frame) reads the same: every
// reader of the history gives back the frames that were published.
func TestTheHistoryKeepsBodiesAndReadsOldFrames(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	f.handle(t, rep("r1", "aleppo", alerting.CategoryShelling, t0))
	f.handle(t, rep("r2", "aleppo", alerting.CategoryShelling, t0.Add(time.Minute)))
	published := f.pub.all()
	if len(published) != 2 {
		t.Fatalf("published %d changes, want 2", len(published))
	}
	rdb := f.redis.Client(t)
	const key = "tl:zone:aleppo:changes"
	members, err := rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil || len(members) != 2 {
		t.Fatalf("history: %q, %v", members, err)
	}
	for i, m := range members {
		body, _, _ := alerting.FrameBody("aleppo", published[i].Seq, published[i].Frame)
		if want := fmt.Sprintf("%d %s", published[i].Seq, body); m != want {
			t.Errorf("history member %d = %.80q, want %.80q", i+1, m, want)
		}
	}

	// The last change as the previous version stored it: the whole frame.
	if err := rdb.ZRem(ctx, key, members[1]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZAdd(ctx, key, redis.Z{Score: 2, Member: string(published[1].Frame)}).Err(); err != nil {
		t.Fatal(err)
	}

	frames, seq, ok, err := f.store.ChangesSince(ctx, "aleppo", 0)
	if err != nil || !ok || seq != 2 || len(frames) != 2 {
		t.Fatalf("ChangesSince(0) = %d frames, seq %d, ok %v, %v", len(frames), seq, ok, err)
	}
	committed, seq, err := f.store.CommittedChanges(ctx, "aleppo", 0, 2)
	if err != nil || seq != 2 || len(committed) != 2 {
		t.Fatalf("CommittedChanges = %d changes, seq %d, %v", len(committed), seq, err)
	}
	for i, p := range published {
		if string(frames[i]) != string(p.Frame) {
			t.Errorf("ChangesSince frame %d = %s\nwant %s", i+1, frames[i], p.Frame)
		}
		if c := committed[i]; string(c.Frame) != string(p.Frame) || c.Seq != p.Seq || c.Alert.Version != p.Alert.Version || len(c.Record) == 0 {
			t.Errorf("CommittedChanges %d = %s/%d v%d record %s frame %s", i+1, c.Zone, c.Seq, c.Alert.Version, c.Record, c.Frame)
		}
		changes, found, err := f.store.ReportChanges(ctx, p.ReportID)
		if err != nil || !found || len(changes) != 1 || string(changes[0].Frame) != string(p.Frame) {
			t.Errorf("ReportChanges(%s) = %d changes, %v, %v", p.ReportID, len(changes), found, err)
		}
	}
	if at, err := f.store.LastChangeAt(ctx, "aleppo"); err != nil || !at.Equal(published[1].Alert.UpdatedAt) {
		t.Errorf("LastChangeAt = %v, %v; want %v", at, err, published[1].Alert.UpdatedAt)
	}
}
