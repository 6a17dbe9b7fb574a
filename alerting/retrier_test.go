package alerting_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// flakyStream refuses every publication while down, and records the ones
// it takes, as NATS away and back would.
type flakyStream struct {
	mu    sync.Mutex
	down  bool
	tries int
	took  []int64
}

func (f *flakyStream) PublishChange(_ context.Context, c alerting.Change) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tries++
	if f.down {
		return errors.New("nats: no responders")
	}
	f.took = append(f.took, c.Seq)
	return nil
}

func (f *flakyStream) state() ([]int64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.took), f.tries
}

// TestRetrierPublishesWhatFailedOnceNATSIsBack: changes queued while the
// stream refuses them are published, each once and in order, once it takes
// them again; queueing never waits for the stream.
func TestRetrierPublishesWhatFailedOnceNATSIsBack(t *testing.T) {
	stream := &flakyStream{down: true}
	r := alerting.NewRetrier(stream, alertingtest.Logger(t))
	go r.Run()
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	for seq := int64(1); seq <= 5; seq++ {
		if err := r.PublishChange(context.Background(), alerting.Change{Zone: "aleppo", Seq: seq}); err != nil {
			t.Fatal(err)
		}
	}
	alertingtest.Eventually(t, 10*time.Second, "the retrier to try while the stream is down", func() bool {
		_, tries := stream.state()
		return tries >= 2
	})
	if took, _ := stream.state(); len(took) != 0 {
		t.Fatalf("published %v while the stream was down", took)
	}
	stream.mu.Lock()
	stream.down = false
	stream.mu.Unlock()
	alertingtest.Eventually(t, 10*time.Second, "every change to be published", func() bool {
		took, _ := stream.state()
		return len(took) == 5
	})
	if took, _ := stream.state(); !slices.Equal(took, []int64{1, 2, 3, 4, 5}) {
		t.Errorf("published %v, want 1 to 5 once each, in order", took)
	}
}
