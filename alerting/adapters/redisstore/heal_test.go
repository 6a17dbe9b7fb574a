package redisstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
)

// TestChangedAlertsComeInBatches reads a zone's changed alerts for
// compaction two at a time: every alert comes once, in batches of at most
// two, each with its reports, and the zone's sequence number comes back.
func TestChangedAlertsComeInBatches(t *testing.T) {
	t.Parallel()
	f := setup(t, redisstore.Options{})
	ctx := context.Background()
	categories := []alerting.Category{alerting.CategoryShelling, alerting.CategoryAirstrike, alerting.CategoryDroneStrike,
		alerting.CategorySmallArms, alerting.CategoryExplosion}
	for i, c := range categories {
		f.handle(t, rep("r"+string(rune('1'+i)), "aleppo", c, t0.Add(time.Duration(i)*time.Minute)))
	}
	want, err := f.store.StoredSeq(ctx, "aleppo")
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var reports []string
	ids := map[string]bool{}
	seq, err := f.store.ChangedAlerts(ctx, "aleppo", time.Time{}, 2, func(batch []alerting.CompactAlert) error {
		sizes = append(sizes, len(batch))
		for _, a := range batch {
			var head struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(a.Alert, &head); err != nil || head.ID == "" || a.ID != head.ID {
				t.Errorf("an alert without an id, or not the one it came with (%q): %s (%v)", a.ID, a.Alert, err)
			}
			ids[head.ID] = true
			reports = append(reports, a.Reports...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seq != want {
		t.Errorf("sequence number %d, want the zone's %d", seq, want)
	}
	if !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Errorf("batches of %v, want [2 2 1]", sizes)
	}
	slices.Sort(reports)
	if len(ids) != len(categories) || !slices.Equal(reports, []string{"r1", "r2", "r3", "r4", "r5"}) {
		t.Errorf("%d alerts with reports %v, want %d alerts with r1 to r5", len(ids), reports, len(categories))
	}
}
