package app_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestAWorseAlertIsSeenAndHeard: an acknowledged alert that a report makes
// worse (extreme, two killed) flashes on the board, sounds the extreme cue
// and carries a "worse since ack" badge saying what changed.
func TestAWorseAlertIsSeenAndHeard(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postReport(t, a, report{ID: "worse-1", Zone: "idlib", Category: "shelling"}, 10*time.Minute)
	id := onlyAlert(t, a, "idlib")
	if status, body := post(t, a, "/api/v1/alerts/"+id+"/ack", []byte(`{"note":"on it"}`)); status != 200 {
		t.Fatalf("acknowledge: %d %v", status, body)
	}
	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	b.waitRows(boardWait, "the acknowledged alert", func(rows []boardRow) bool {
		r, ok := rowByID(rows, id)
		return ok && r.State == "acknowledged"
	})
	badge := fmt.Sprintf(`[data-alert-id=%q] [data-testid=worse-since-ack]`, id)
	if !evaluate[bool](t, tab, `document.querySelector('`+badge+`').hidden`) {
		t.Fatal("the badge shows before anything got worse")
	}
	// Record what the board does, without changing it.
	evaluate[bool](t, tab, `(() => {
		window.__cues = []; window.__flashes = [];
		const { sound, list } = window.truceline;
		const cue = sound.alert.bind(sound), flash = list.flash.bind(list);
		sound.alert = (sev) => { window.__cues.push(sev); cue(sev); };
		list.flash = (id) => { window.__flashes.push(id); flash(id); };
		return true;
	})()`)

	postReport(t, a, report{ID: "worse-2", Zone: "idlib", Category: "shelling", Severity: "extreme",
		Casualties: map[string]int{"killed": 2}}, 5*time.Minute)
	eventuallyIn(t, tab, boardWait, "the worse-since-ack badge", func() bool {
		return !evaluate[bool](t, tab, `document.querySelector('`+badge+`').hidden`)
	})
	title := evaluate[string](t, tab, `document.querySelector('`+badge+`').title`)
	if !strings.Contains(title, "severity severe → extreme, killed 0 → 2") {
		t.Errorf("the badge's title is %q", title)
	}
	if cues := evaluate[[]string](t, tab, `window.__cues`); len(cues) != 1 || cues[0] != "extreme" {
		t.Errorf("cues %v, want the extreme one", cues)
	}
	if flashes := evaluate[[]string](t, tab, `window.__flashes`); len(flashes) != 1 || flashes[0] != id {
		t.Errorf("flashes %v, want the alert's row", flashes)
	}
	if r, _ := rowByID(b.waitRows(boardWait, "the row", func([]boardRow) bool { return true }), id); r.State != "acknowledged" {
		t.Errorf("state %q; the default policy keeps the acknowledgement", r.State)
	}
}
