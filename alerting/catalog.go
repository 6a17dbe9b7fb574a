package alerting

import (
	"encoding/json"
	"regexp"
	"sort"
)

var zoneIDPattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// ValidZoneID reports whether id has the form of a zone id ([a-z0-9-]{1,64}).
// Zone ids appear in NATS subjects and Redis keys, so the form is strict.
func ValidZoneID(id string) bool { return zoneIDPattern.MatchString(id) }

// Zone is an area that regimes cover and reports are filed against.
type Zone struct {
	ID   string   `json:"id" yaml:"id"`
	Name string   `json:"name" yaml:"name"`
	Tags []string `json:"tags,omitempty" yaml:"tags"`
	// Geometry is an RFC 7946 GeoJSON geometry ([lon, lat] order), kept as
	// given: the board draws it, the engine never needs it.
	Geometry json.RawMessage `json:"geometry,omitempty" yaml:"geometry"`
}

// PartyStatus says whether the ceasefire covers a party.
type PartyStatus string

// Party statuses. Acts against an excluded party are not violations.
const (
	PartyAdherent PartyStatus = "adherent"
	PartyExcluded PartyStatus = "excluded"
	PartyObserver PartyStatus = "observer"
)

// Party is a side of the conflict, a guarantor or a monitor.
type Party struct {
	ID     string      `json:"id" yaml:"id"`
	Name   string      `json:"name" yaml:"name"`
	Status PartyStatus `json:"status" yaml:"status"`
}

// Catalog is an immutable snapshot of the configuration the engine judges
// reports against. Version increases with every change in the store, so a
// cached Catalog is replaced only when the version moves.
type Catalog struct {
	Version int64
	zones   map[string]Zone
	parties map[string]Party
}

// NewCatalog builds a catalog from zones and parties.
func NewCatalog(version int64, zones []Zone, parties []Party) *Catalog {
	c := &Catalog{Version: version, zones: make(map[string]Zone, len(zones)), parties: make(map[string]Party, len(parties))}
	for _, z := range zones {
		c.zones[z.ID] = z
	}
	for _, p := range parties {
		c.parties[p.ID] = p
	}
	return c
}

// Zone returns the zone with the given id.
func (c *Catalog) Zone(id string) (Zone, bool) { z, ok := c.zones[id]; return z, ok }

// Party returns the party with the given id.
func (c *Catalog) Party(id string) (Party, bool) { p, ok := c.parties[id]; return p, ok }

// Zones returns every zone, ordered by id.
func (c *Catalog) Zones() []Zone {
	out := make([]Zone, 0, len(c.zones))
	for _, z := range c.zones {
		out = append(out, z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Parties returns every party, ordered by id.
func (c *Catalog) Parties() []Party {
	out := make([]Party, 0, len(c.parties))
	for _, p := range c.parties {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Validate checks a zone definition.
func (z Zone) Validate() error {
	var p problems
	if !ValidZoneID(z.ID) {
		p.add("id", "must match [a-z0-9-]{1,64}")
	}
	if z.Name == "" {
		p.add("name", "is required")
	}
	if len(z.Geometry) > 0 && !json.Valid(z.Geometry) {
		p.add("geometry", "is not valid JSON")
	}
	return p.err("zone " + z.ID)
}

// Validate checks a party definition.
func (pt Party) Validate() error {
	var p problems
	if !ValidZoneID(pt.ID) {
		p.add("id", "must match [a-z0-9-]{1,64}")
	}
	if pt.Name == "" {
		p.add("name", "is required")
	}
	switch pt.Status {
	case PartyAdherent, PartyExcluded, PartyObserver:
	default:
		p.add("status", "must be adherent, excluded or observer")
	}
	return p.err("party " + pt.ID)
}
