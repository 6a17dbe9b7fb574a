package broker

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting/alertingtest"
)

// TestLanesKeepOrderPerKeyAndNeverBlockOtherKeys: items of one key come out
// one at a time and in order; a key whose item is being handled holds up
// only its own items; close lets the workers finish the queue.
func TestLanesKeepOrderPerKeyAndNeverBlockOtherKeys(t *testing.T) {
	t.Parallel()
	l := newLanes[int]()
	// A worker takes "slow"'s first item and holds it.
	l.push("slow", 0)
	key, items, ok := l.next(1)
	if !ok || key != "slow" || len(items) != 1 || items[0] != 0 {
		t.Fatalf("next = %q %v %v", key, items, ok)
	}
	for i := 1; i <= 100; i++ {
		l.push("slow", i) // queued behind the held item
		l.push(fmt.Sprintf("k%d", i%5), i)
	}
	// Other workers get every other key's items while "slow" is held.
	var mu sync.Mutex
	got := map[string][]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, vs, ok := l.next(3)
				if !ok {
					return
				}
				mu.Lock()
				got[k] = append(got[k], vs...)
				n := 0
				for key, vs := range got {
					if key != "slow" {
						n += len(vs)
					}
				}
				mu.Unlock()
				l.done(k)
				if n == 100 && k != "slow" {
					l.done("slow") // the held item finishes only now
				}
			}
		}()
	}
	alertingtest.Eventually(t, 10*time.Second, "slow's queued items, once it is released", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got["slow"]) == 100
	})
	l.close()
	wg.Wait()
	if len(got["slow"]) != 100 {
		t.Fatalf("slow: %d items", len(got["slow"]))
	}
	for k, vs := range got {
		for i := 1; i < len(vs); i++ {
			if vs[i] <= vs[i-1] {
				t.Fatalf("key %s out of order: %v", k, vs)
			}
		}
	}
	for i := range 5 {
		if k := fmt.Sprintf("k%d", i); len(got[k]) != 20 {
			t.Errorf("key %s: %d items, want 20", k, len(got[k]))
		}
	}
}

// TestLanesOneItemOfAKeyAtATime: however many workers, a key's items are
// never handled concurrently.
func TestLanesOneItemOfAKeyAtATime(t *testing.T) {
	t.Parallel()
	l := newLanes[int]()
	inFlight := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k, _, ok := l.next(4)
				if !ok {
					return
				}
				mu.Lock()
				inFlight[k]++
				if inFlight[k] > 1 {
					t.Errorf("key %s handled twice at once", k)
				}
				mu.Unlock()
				mu.Lock()
				inFlight[k]--
				mu.Unlock()
				l.done(k)
			}
		}()
	}
	for i := range 10000 {
		l.push(fmt.Sprintf("k%d", i%3), i)
	}
	l.close()
	wg.Wait()
}
