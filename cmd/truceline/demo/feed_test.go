package demo

import (
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/configs"
)

// TestTheDemoPostFallsSilentNowAndThen: the demo feed beats each demo
// monitor at its pace, OP Latakia North but from minute 14 to 18 of every
// twenty, and no monitor the configuration lacks.
func TestTheDemoPostFallsSilentNowAndThen(t *testing.T) {
	t.Parallel()
	demo, err := configs.Demo(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := alerting.NewCatalog(1, demo, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Monitors()) != len(demoBeats) {
		t.Fatalf("the demo has %d monitors, the feed beats %d", len(c.Monitors()), len(demoBeats))
	}
	hour := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(min, sec int) time.Time {
		return hour.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
	}
	last := map[string]time.Time{}
	beats := map[string]int{}
	quiet := map[int]bool{} // minutes without a beat of OP Latakia North
	for s := 0; s < 60*60; s++ {
		now := at(0, s)
		for _, id := range dueBeats(c, last, now) {
			last[id] = now
			beats[id]++
		}
		if now.Sub(last["op-latakia-north"]) > 20*time.Second {
			quiet[now.Minute()] = true
		}
	}
	if beats["op-latakia-north"] != 3*16*3 || beats["op-sierra-3"] != 120 || beats["party-b-system"] != 60 {
		t.Errorf("beats in an hour: %v", beats)
	}
	for _, m := range []int{14, 15, 16, 17, 34, 35, 36, 37, 54, 55, 56, 57} {
		if !quiet[m] {
			t.Errorf("OP Latakia North beats in minute %d", m)
		}
	}
	if len(quiet) != 12 {
		t.Errorf("OP Latakia North is quiet in minutes %v, want 14-17, 34-37, 54-57", quiet)
	}
	// A configuration without the demo's monitors is left alone.
	none, err := alerting.NewCatalog(1, alerting.Config{Zones: demo.Zones}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := dueBeats(none, map[string]time.Time{}, hour); len(got) != 0 {
		t.Errorf("beats %v without the demo's monitors", got)
	}
}
