package alerting

// Category is what kind of violation a report describes.
type Category string

// The report categories of schema v1.
const (
	CategoryShelling         Category = "shelling"
	CategoryAirstrike        Category = "airstrike"
	CategoryDroneStrike      Category = "drone_strike"
	CategorySmallArms        Category = "small_arms"
	CategoryGroundAssault    Category = "ground_assault"
	CategoryExplosion        Category = "explosion"
	CategoryMovementOfForces Category = "movement_of_forces"
	CategoryHeavyWeapons     Category = "heavy_weapons_in_restricted_area"
	CategoryAccessDenial     Category = "access_denial"
	CategoryOther            Category = "other"
)

// Categories lists every valid category, in the order the schema documents.
var Categories = []Category{
	CategoryShelling, CategoryAirstrike, CategoryDroneStrike, CategorySmallArms, CategoryGroundAssault,
	CategoryExplosion, CategoryMovementOfForces, CategoryHeavyWeapons, CategoryAccessDenial, CategoryOther,
}

// categoryInfo holds what the engine needs to know of each category: a label
// for titles and the severity assumed when a report gives none.
var categoryInfo = map[Category]struct {
	label    string
	severity Severity
}{
	CategoryShelling:         {"Shelling", SeveritySevere},
	CategoryAirstrike:        {"Airstrike", SeveritySevere},
	CategoryDroneStrike:      {"Drone strike", SeveritySevere},
	CategorySmallArms:        {"Small-arms fire", SeverityModerate},
	CategoryGroundAssault:    {"Ground assault", SeveritySevere},
	CategoryExplosion:        {"Explosion", SeverityModerate},
	CategoryMovementOfForces: {"Movement of forces", SeverityMinor},
	CategoryHeavyWeapons:     {"Heavy weapons in a restricted area", SeverityModerate},
	CategoryAccessDenial:     {"Denial of humanitarian access", SeverityModerate},
	CategoryOther:            {"Other violation", SeverityMinor},
}

// Valid reports whether c is a category of schema v1.
func (c Category) Valid() bool { _, ok := categoryInfo[c]; return ok }

// Label is the category as people read it ("Small-arms fire").
func (c Category) Label() string {
	if info, ok := categoryInfo[c]; ok {
		return info.label
	}
	return string(c)
}

// Severity is CAP's severity scale.
type Severity string

// CAP severities, least to most severe.
const (
	SeverityMinor    Severity = "minor"
	SeverityModerate Severity = "moderate"
	SeveritySevere   Severity = "severe"
	SeverityExtreme  Severity = "extreme"
)

// Severities lists the severities, least severe first.
var Severities = []Severity{SeverityMinor, SeverityModerate, SeveritySevere, SeverityExtreme}

var severityRank = map[Severity]int{SeverityMinor: 1, SeverityModerate: 2, SeveritySevere: 3, SeverityExtreme: 4}

// Valid reports whether s is one of CAP's four severities.
func (s Severity) Valid() bool { return severityRank[s] > 0 }

// Rank orders severities: minor 1 … extreme 4, and 0 for anything else.
func (s Severity) Rank() int { return severityRank[s] }

// Max returns the more severe of s and t.
func (s Severity) Max(t Severity) Severity {
	if t.Rank() > s.Rank() {
		return t
	}
	return s
}

var (
	certainties = set("observed", "likely", "possible", "unlikely", "unknown")
	sourceTypes = set("own_monitor", "party_allegation", "ngo", "media", "public", "sensor")
	// nonPartyTargets are the targets a report may name that are not parties.
	nonPartyTargets = set("civilian", "infrastructure", "humanitarian")
)

func set(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}
