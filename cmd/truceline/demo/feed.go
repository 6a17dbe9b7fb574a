package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/truceline/truceline/alerting"
)

// reportPublisher stores a report as if a monitor had sent it.
type reportPublisher interface {
	PublishReport(ctx context.Context, r *alerting.Report) (bool, error)
}

// Feed publishes plausible, simulated reports, every one marked as an
// exercise, so a newcomer sees a live board at once.
type Feed struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

// demoCategory is a category with how often monitors see it and the weapons
// they name.
type demoCategory struct {
	category alerting.Category
	weight   int
	weapons  []string
}

var demoCategories = []demoCategory{
	{alerting.CategoryShelling, 30, []string{"82mm mortar", "120mm mortar", "122mm howitzer", "MLRS"}},
	{alerting.CategorySmallArms, 25, []string{"small arms", "heavy machine gun", "sniper rifle"}},
	{alerting.CategoryMovementOfForces, 10, []string{"armoured vehicles", "infantry company"}},
	{alerting.CategoryExplosion, 8, []string{"IED", "unknown"}},
	{alerting.CategoryAirstrike, 6, []string{"fixed-wing aircraft", "helicopter, barrel bomb"}},
	{alerting.CategoryDroneStrike, 5, []string{"loitering munition", "armed UAV"}},
	{alerting.CategoryGroundAssault, 4, []string{"infantry with armour support"}},
	{alerting.CategoryHeavyWeapons, 6, []string{"T-72 tanks", "towed artillery"}},
	{alerting.CategoryAccessDenial, 4, []string{""}},
	{alerting.CategoryOther, 2, []string{""}},
}

// kinetic categories are those that can cause casualties.
var kinetic = map[alerting.Category]bool{
	alerting.CategoryShelling: true, alerting.CategoryAirstrike: true, alerting.CategoryDroneStrike: true,
	alerting.CategorySmallArms: true, alerting.CategoryGroundAssault: true, alerting.CategoryExplosion: true,
}

var (
	demoReporters = []string{"UN monitoring team north", "UN monitoring team south", "party-a liaison", "party-b liaison", "OP Sierra-3", "NGO field office"}
	demoSources   = []string{"own_monitor", "own_monitor", "party_allegation", "ngo", "media", "sensor"}
	demoCertainty = []string{"observed", "observed", "likely", "possible", "unknown"}
	demoTargets   = []string{"civilian", "civilian", "civilian", "infrastructure", "infrastructure", "humanitarian", "gov-forces", "gov-forces", "northern-front", "southern-front", "coastal-brigades", "isil", "al-nusra", ""}
	demoActors    = []string{"gov-forces", "northern-front", "southern-front", "coastal-brigades", ""}
)

// heartbeats records that a monitored source was heard (alerting.Sources).
type heartbeats interface {
	Heard(ctx context.Context, monitor string, at time.Time) error
}

// demoBeat is a demo monitor's source as the feed plays it: heard every
// Every, and silent while Quiet says so.
type demoBeat struct {
	Monitor string
	Every   time.Duration
	Quiet   func(now time.Time) bool
}

// demoBeats are the demo's monitored sources (configs/demo/monitors.yaml).
// OP Latakia North falls silent for four minutes every twenty (from minute
// 14 to 18 of each twenty, UTC): its silent alert opens after its minute
// and grace, resolves when it beats again, and reopens twenty minutes on
// (flapping) without paging anew.
var demoBeats = []demoBeat{
	{Monitor: "op-latakia-north", Every: 20 * time.Second, Quiet: func(now time.Time) bool { m := now.UTC().Minute() % 20; return m >= 14 && m < 18 }},
	{Monitor: "op-sierra-3", Every: 30 * time.Second},
	{Monitor: "party-b-system", Every: time.Minute},
}

// dueBeats are the demo monitors of the catalog to beat at now, given when
// each was last beaten.
func dueBeats(c *alerting.Catalog, last map[string]time.Time, now time.Time) []string {
	var out []string
	for _, b := range demoBeats {
		if _, ok := c.Monitor(b.Monitor); !ok || (b.Quiet != nil && b.Quiet(now)) || now.Sub(last[b.Monitor]) < b.Every {
			continue
		}
		out = append(out, b.Monitor)
	}
	return out
}

// StartFeed publishes rate reports a second (none when 0) and beats
// the demo's monitored sources.
func StartFeed(p reportPublisher, hb heartbeats, catalog alerting.CatalogSource, rate float64, logger *slog.Logger) *Feed {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{cancel: cancel, done: make(chan struct{})}
	logger = logger.With("component", "demo-feed")
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		last := map[string]time.Time{}
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			for _, id := range dueBeats(catalog.Catalog(), last, time.Now()) {
				now := time.Now()
				if err := hb.Heard(ctx, id, now); err != nil {
					if ctx.Err() == nil {
						logger.Warn("demo heartbeat not recorded", "monitor", id, "err", err)
					}
					continue
				}
				last[id] = now
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	go func() {
		defer close(f.done)
		defer func() { <-beats }()
		if rate <= 0 {
			<-ctx.Done()
			return
		}
		t := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				r := demoReport(catalog.Catalog(), now)
				if r == nil {
					continue
				}
				if _, err := p.PublishReport(ctx, r); err != nil && ctx.Err() == nil {
					logger.Warn("demo report not stored", "err", err)
				}
			}
		}
	}()
	return f
}

// Shutdown stops the feed and waits for it, or for ctx.
func (f *Feed) Shutdown(ctx context.Context) error {
	f.once.Do(f.cancel)
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// demoReport invents one report in a random demo zone; nil without zones.
func demoReport(c *alerting.Catalog, now time.Time) *alerting.Report {
	zones := c.Zones()
	if len(zones) == 0 {
		return nil
	}
	zone := zones[rand.IntN(len(zones))]
	cat := pickCategory()
	r := &alerting.Report{
		ID:          alerting.NewReportID(),
		Zone:        zone.ID,
		Category:    cat.category,
		ObservedAt:  now.Add(-time.Duration(rand.IntN(300)) * time.Second).UTC().Truncate(time.Second),
		ReportedBy:  demoReporters[rand.IntN(len(demoReporters))],
		SourceType:  demoSources[rand.IntN(len(demoSources))],
		Certainty:   demoCertainty[rand.IntN(len(demoCertainty))],
		Weapon:      cat.weapons[rand.IntN(len(cat.weapons))],
		Description: fmt.Sprintf("EXERCISE - simulated %s report in %s; not a real event.", cat.category.Label(), zone.Name),
		Exercise:    true,
	}
	if cat.category == alerting.CategoryShelling || cat.category == alerting.CategoryExplosion {
		r.Count = 1 + rand.IntN(12)
	}
	r.Stamp(alerting.Submitter{Via: alerting.ViaDemo}, false)
	if rand.IntN(10) < 7 {
		if actor := demoActors[rand.IntN(len(demoActors))]; actor != "" {
			if _, ok := c.Party(actor); ok {
				r.AttributedTo = actor
			}
		}
	}
	if target := demoTargets[rand.IntN(len(demoTargets))]; target != r.AttributedTo {
		if _, ok := c.Party(target); ok || target == "civilian" || target == "infrastructure" || target == "humanitarian" {
			r.Target = target
		}
	}
	if kinetic[cat.category] && rand.IntN(20) == 0 {
		r.Casualties = &alerting.Casualties{Killed: rand.IntN(3), Injured: rand.IntN(8)}
	}
	if rand.IntN(25) == 0 {
		r.Severity = alerting.SeverityExtreme
	}
	if lat, lon, ok := pointIn(zone.Geometry); ok {
		r.Location = &alerting.Location{Lat: alerting.RoundCoordinate(lat), Lon: alerting.RoundCoordinate(lon), PrecisionM: float64(100 * (1 + rand.IntN(20)))}
	}
	return r
}

func pickCategory() demoCategory {
	total := 0
	for _, c := range demoCategories {
		total += c.weight
	}
	n := rand.IntN(total)
	for _, c := range demoCategories {
		if n < c.weight {
			return c
		}
		n -= c.weight
	}
	return demoCategories[0]
}

// pointIn picks a point near the middle of a GeoJSON polygon: within the
// middle half of its bounding box, which for the demo's convex outlines lies
// inside the zone.
func pointIn(geometry json.RawMessage) (lat, lon float64, ok bool) {
	var g struct {
		Type        string
		Coordinates [][][2]float64
	}
	if json.Unmarshal(geometry, &g) != nil || g.Type != "Polygon" || len(g.Coordinates) == 0 || len(g.Coordinates[0]) == 0 {
		return 0, 0, false
	}
	minLon, minLat, maxLon, maxLat := 180.0, 90.0, -180.0, -90.0
	for _, p := range g.Coordinates[0] {
		minLon, maxLon = min(minLon, p[0]), max(maxLon, p[0])
		minLat, maxLat = min(minLat, p[1]), max(maxLat, p[1])
	}
	lon = minLon + (maxLon-minLon)*(0.25+rand.Float64()/2)
	lat = minLat + (maxLat-minLat)*(0.25+rand.Float64()/2)
	return lat, lon, true
}
