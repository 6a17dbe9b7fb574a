package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/cmd/truceline/app"
)

// TestTheMapZoomsClustersAndStaysOffline: two reports a kilometre apart
// are one cluster at first; clicking it zooms in until they are two
// markers, each with its precision circle; clicking a marker opens its
// alert; the zoom buttons work; and the page asked nothing of any server
// but truceline (the outlines are shipped, there are no tiles).
func TestTheMapZoomsClustersAndStaysOffline(t *testing.T) {
	t.Parallel()
	needChromium(t)
	d := startDeps(t)
	a := start(t, d.config(t))
	postLocated(t, a, "near-1", "aleppo", "shelling", "severe", 36.2000, 37.1500)
	postLocated(t, a, "near-2", "aleppo", "airstrike", "extreme", 36.2050, 37.1590)
	shelling, airstrike := alertOf(t, a, "aleppo", "shelling"), alertOf(t, a, "aleppo", "airstrike")

	tab := startBrowser(t)
	b := signInBoard(t, tab, a, dutyOfficer, "")
	marker := func(id string) string {
		return fmt.Sprintf(`[data-testid=map] [data-testid=map-marker][data-alert-id=%q]`, id)
	}
	count := func(sel string) int {
		return evaluate[int](t, tab, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
	}
	b.eventually(boardWait, "one cluster of two reports", func() bool {
		return b.text(`[data-testid=map] .map-cluster [data-testid=map-cluster-count]`) == "2"
	})
	if count(marker(shelling))+count(marker(airstrike)) != 0 {
		t.Fatal("the clustered reports are also drawn as markers")
	}
	if c := evaluate[string](t, tab, `document.querySelector('[data-testid=map] .map-cluster').className`); !strings.Contains(c, "sev-extreme") {
		t.Errorf("the cluster's classes are %q; it should take its most severe report's colour", c)
	}
	zoom := func() float64 { return evaluate[float64](t, tab, `window.truceline.map.map.getZoom()`) }
	before := zoom()

	b.click(`[data-testid=map] .map-cluster`)
	eventuallyIn(t, tab, boardWait, "the cluster to split into two markers", func() bool {
		return count(marker(shelling)) == 1 && count(marker(airstrike)) == 1 && count(`[data-testid=map] .map-cluster`) == 0
	})
	if after := zoom(); after <= before {
		t.Errorf("zoom %.2f after clicking the cluster, %.2f before", after, before)
	}
	if n := count(`[data-testid=map] [data-testid=map-precision]`); n != 2 {
		t.Errorf("%d precision circles, want 2", n)
	}
	saveArtifact(t, tab, "board-map-zoomed.png")

	in := zoom()
	b.click(`[data-testid=map] .leaflet-control-zoom-out`)
	eventuallyIn(t, tab, boardWait, "the zoom-out button to zoom out", func() bool { return zoom() < in })

	b.click(marker(airstrike))
	b.waitDetail(airstrike)

	offsite := evaluate[[]string](t, tab, `performance.getEntriesByType('resource').map((e) => e.name).filter((n) => !n.startsWith(location.origin))`)
	if len(offsite) != 0 {
		t.Errorf("the board asked other servers: %v", offsite)
	}
	outlines := evaluate[int](t, tab, `document.querySelectorAll('[data-testid=map] path.map-country').length`)
	if outlines < 5 {
		t.Errorf("%d country outlines on the map, want Syria and its neighbours", outlines)
	}
}

// alertOf waits for the alert of a category in a zone and returns its id.
func alertOf(t *testing.T, a *app.App, zone, category string) string {
	t.Helper()
	var id string
	alertingtest.Eventually(t, boardWait, "the "+category+" alert in "+zone, func() bool {
		for _, al := range alerts(t, a, zone) {
			if string(al.Category) == category {
				id = al.ID
			}
		}
		return id != ""
	})
	return id
}
