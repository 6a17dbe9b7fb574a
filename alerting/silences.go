package alerting

import (
	"context"
	"slices"
	"strings"
	"time"
)

// SourceDay is what a reporting day was like for one monitored source in
// one zone: how many times it was silent, and for how long in all, counted
// from its silent alert. Each opening or reopening of the alert is a silent
// period, which runs from the monitor's interval and grace before it (when
// the source was last heard, or when its schedule opened) to when the
// alert resolved (heard again, or resolved by a person), or to the end of
// the day (or now) while it lasts. A period that began the day before
// counts, for its part within the day. A monitor no longer configured
// counts from the alert's opening.
type SourceDay struct {
	Zone          string `json:"zone"`
	Monitor       string `json:"monitor"`
	Name          string `json:"name"`
	SilentPeriods int    `json:"silent_periods"`
	SilentSeconds int64  `json:"silent_seconds"`
}

// SilentAlertReader reads the source_silent alerts of a zone that were
// active at or after since (a Store is one).
type SilentAlertReader interface {
	SilentAlerts(ctx context.Context, zone string, since time.Time) ([]*Alert, error)
}

// silentPeriods are an alert's silent periods, [start, end), end zero
// while it lasts: each from allowed (its monitor's interval and grace)
// before it opened or reopened, when the source was last heard (or its
// schedule opened), to when it resolved.
func silentPeriods(a *Alert, allowed time.Duration) [][2]time.Time {
	var out [][2]time.Time
	open := false
	for _, e := range a.Timeline {
		switch e.Action {
		case EventOpened, EventReopened:
			if !open {
				start := e.At.Add(-allowed)
				if n := len(out); n > 0 && start.Before(out[n-1][1]) {
					start = out[n-1][1]
				}
				out = append(out, [2]time.Time{start})
				open = true
			}
		case EventResolved:
			if open {
				out[len(out)-1][1] = e.At
				open = false
			}
		}
	}
	return out
}

// SilentDays tallies, for every monitored source of zones (those the
// configuration names, and those of the alerts), its silent periods within
// [from, to) as of now, from its silent alerts. Sources are in zone order,
// then configuration order (then by monitor id, for monitors no longer
// configured).
func SilentDays(catalog *Catalog, zones []string, alerts []*Alert, from, to, now time.Time) []SourceDay {
	type key struct{ zone, monitor string }
	var order []key
	days := map[key]*SourceDay{}
	add := func(zone, monitor, name string) *SourceDay {
		k := key{zone, monitor}
		if d := days[k]; d != nil {
			return d
		}
		days[k] = &SourceDay{Zone: zone, Monitor: monitor, Name: name}
		order = append(order, k)
		return days[k]
	}
	for _, zone := range zones {
		for _, m := range catalog.Monitors() {
			if slices.Contains(m.Zones, zone) {
				add(zone, m.ID, m.Label())
			}
		}
	}
	end := to
	if now.Before(end) {
		end = now
	}
	seen := map[string]bool{}
	for _, a := range alerts {
		id, ok := strings.CutPrefix(a.GroupKey, SourceSilentRule+":")
		if a.Category != CategorySourceSilent || !ok || seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		in := []string{a.Zone}
		name := id
		var allowed time.Duration
		if m, ok := catalog.Monitor(id); ok {
			in, name, allowed = m.Zones, m.Label(), m.allowed()
		}
		for _, p := range silentPeriods(a, allowed) {
			// It counts if it began before the day's end (or now) and
			// had not ended by the day's start.
			if !p[0].Before(end) || !p[1].IsZero() && !p[1].After(from) {
				continue
			}
			start, stop := p[0], p[1]
			if start.Before(from) {
				start = from
			}
			if stop.IsZero() || stop.After(end) {
				stop = end
			}
			for _, zone := range in {
				if !slices.Contains(zones, zone) {
					continue
				}
				d := add(zone, id, name)
				d.SilentPeriods++
				if stop.After(start) {
					d.SilentSeconds += int64(stop.Sub(start) / time.Second)
				}
			}
		}
	}
	slices.SortStableFunc(order, func(a, b key) int {
		return slices.Index(zones, a.zone) - slices.Index(zones, b.zone)
	})
	out := make([]SourceDay, len(order))
	for i, k := range order {
		out[i] = *days[k]
	}
	return out
}

// Silences are the silent periods of the day [from, to) of every monitored
// source of zones, as of now (see SilentDays).
func (w *SourceWatch) Silences(ctx context.Context, zones []string, from, to, now time.Time) ([]SourceDay, error) {
	catalog := w.Catalog.Catalog()
	// A monitor's alert is in its first zone, which may not be one of
	// zones.
	read := slices.Clone(zones)
	for _, m := range catalog.Monitors() {
		if slices.ContainsFunc(m.Zones, func(z string) bool { return slices.Contains(zones, z) }) && !slices.Contains(read, m.Zones[0]) {
			read = append(read, m.Zones[0])
		}
	}
	var alerts []*Alert
	if w.Silent != nil {
		for _, zone := range read {
			as, err := w.Silent.SilentAlerts(ctx, zone, from)
			if err != nil {
				return nil, err
			}
			alerts = append(alerts, as...)
		}
	}
	return SilentDays(catalog, zones, alerts, from, to, now), nil
}
