package alerting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"time"
	"unicode/utf8"
)

// Limits of report schema v1.
const (
	MaxReportBytes      = 16 << 10 // a whole encoded report
	MaxDescriptionBytes = 4 << 10
	MaxFutureSkew       = 5 * time.Minute
	maxShortText        = 256
	maxReferences       = 32
	maxCount            = 100_000
	// MaxDistanceM bounds distance_m: farther than 100 km nobody
	// estimates where fire landed from what they saw or heard.
	MaxDistanceM  = 100_000
	maxCalibreLen = 64
)

var reportIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ValidReportID reports whether id may name a report.
func ValidReportID(id string) bool { return reportIDPattern.MatchString(id) }

// Report is one violation report (schema v1). Reports are immutable: a
// correction is a new report that lists the original in References.
type Report struct {
	ID           string      `json:"id,omitempty"`
	Zone         string      `json:"zone"`
	Category     Category    `json:"category"`
	ObservedAt   time.Time   `json:"observed_at"`
	ReportedBy   string      `json:"reported_by"`
	SourceType   string      `json:"source_type,omitempty"`
	Location     *Location   `json:"location,omitempty"`
	Severity     Severity    `json:"severity,omitempty"`
	Certainty    string      `json:"certainty,omitempty"`
	Count        int         `json:"count,omitempty"`
	Weapon       string      `json:"weapon,omitempty"`
	AttributedTo string      `json:"attributed_to,omitempty"`
	Target       string      `json:"target,omitempty"`
	Casualties   *Casualties `json:"casualties,omitempty"`
	Description  string      `json:"description,omitempty"`
	References   []string    `json:"references,omitempty"`
	// Exercise marks drill and demo reports; alerts built from them are
	// exercises too (CAP status Exercise).
	Exercise bool `json:"exercise,omitempty"`

	// What monitors record of observed fire, beside the above.
	//
	// ObservedUntil is when what was observed ended, when it lasted (a
	// barrage from ObservedAt to ObservedUntil).
	ObservedUntil *time.Time `json:"observed_until,omitempty"`
	// Observer is where the observer stood; DirectionDeg the bearing from
	// there to the fire or impact (0–360, clockwise from true north); and
	// DistanceM how far it was, as an estimated range.
	Observer     *Position      `json:"observer,omitempty"`
	DirectionDeg *float64       `json:"direction_deg,omitempty"`
	DistanceM    *DistanceRange `json:"distance_m,omitempty"`
	// WeaponCalibre is the calibre, when known ("122mm"), apart from
	// the weapon ("MLRS").
	WeaponCalibre string `json:"weapon_calibre,omitempty"`
	// Impacts is how many impacts were counted (Count counts events:
	// one barrage of 40 rockets is count 1, impacts 40).
	Impacts *int `json:"impacts,omitempty"`

	// Set by truceline on admission, never by the sender.
	//
	// SubmittedID is the id the sender gave, when it gave one; ID is then
	// its ReportKey.
	SubmittedID string `json:"submitted_id,omitempty"`
	// SubmittedBy is who handed the report over; nil for a report stored
	// before truceline recorded it.
	SubmittedBy *Submitter `json:"submitted_by,omitempty"`
	// Amends is the key of an earlier report of the same sender in the
	// same zone that this one updates (a CAP Update naming it in its
	// references), or withdraws when Withdraws is set (a CAP Cancel): the
	// engine then changes the alerts holding that report instead of
	// counting this one as another report of the incident.
	Amends    string `json:"amends,omitempty"`
	Withdraws bool   `json:"withdraws,omitempty"`
}

// StoredReport is a report as truceline keeps it: when it arrived and what
// the engine made of it.
type StoredReport struct {
	Report
	ReceivedAt     time.Time      `json:"received_at"`
	Classification Classification `json:"classification"`
}

// Location is where a violation was observed, in WGS 84.
type Location struct {
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	PrecisionM float64 `json:"precision_m,omitempty"`
}

// RoundCoordinate rounds a latitude or longitude truceline derives (a
// polygon's centroid, a point in a zone) to 6 decimals, about 0.1 m: more
// only claims a precision nobody has (RFC 7946 §11.2).
func RoundCoordinate(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// Position is a point in WGS 84 without a precision: where an observer
// stood.
type Position struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// DistanceRange is an estimated distance in metres, from Min to Max
// (equal for a single estimate).
type DistanceRange struct {
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Casualties are best estimates of harm.
type Casualties struct {
	Killed  int `json:"killed"`
	Injured int `json:"injured"`
}

// EffectiveSeverity is the report's severity, or the category's usual
// severity when the reporter gave none; any death makes it at least severe.
func (r *Report) EffectiveSeverity() Severity {
	s := r.Severity
	if !s.Valid() {
		s = categoryInfo[r.Category].severity
	}
	if r.Casualties != nil && r.Casualties.Killed > 0 {
		s = s.Max(SeveritySevere)
	}
	return s
}

// reportFields maps each JSON field of schema v1 to a decoder into a Report.
// Decoding field by field lets DecodeReport name every problem at once instead
// of stopping at the first, as encoding/json does.
var reportFields = map[string]func(r *Report, raw json.RawMessage) string{
	"id":            func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.ID) },
	"zone":          func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.Zone) },
	"category":      func(r *Report, raw json.RawMessage) string { return decodeString(raw, (*string)(&r.Category)) },
	"observed_at":   decodeObservedAt,
	"reported_by":   func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.ReportedBy) },
	"source_type":   func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.SourceType) },
	"location":      decodeLocation,
	"severity":      func(r *Report, raw json.RawMessage) string { return decodeString(raw, (*string)(&r.Severity)) },
	"certainty":     func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.Certainty) },
	"count":         decodeCount,
	"weapon":        func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.Weapon) },
	"attributed_to": func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.AttributedTo) },
	"target":        func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.Target) },
	"casualties":    func(r *Report, raw json.RawMessage) string { return decodeObject(raw, &r.Casualties) },
	"description":   func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.Description) },
	"references":    func(r *Report, raw json.RawMessage) string { return decodeStrings(raw, &r.References) },
	"exercise":      func(r *Report, raw json.RawMessage) string { return decodeBool(raw, &r.Exercise) },
	"observed_until": orAbsent(func(r *Report, raw json.RawMessage) string {
		return decodeTime(raw, func(t time.Time) { r.ObservedUntil = &t })
	}),
	"observer":       decodeObserver,
	"direction_deg":  orAbsent(func(r *Report, raw json.RawMessage) string { return decodeNumber(raw, &r.DirectionDeg) }),
	"distance_m":     decodeDistance,
	"weapon_calibre": func(r *Report, raw json.RawMessage) string { return decodeString(raw, &r.WeaponCalibre) },
	"impacts": orAbsent(func(r *Report, raw json.RawMessage) string {
		var n int
		if p := decodeInt(raw, &n); p != "" {
			return p
		}
		r.Impacts = &n
		return ""
	}),
	"submitted_id": serverField,
	"submitted_by": serverField,
	"amends":       serverField,
	"withdraws":    serverField,
}

// orAbsent makes a JSON null mean the field is absent, as it does for
// strings, numbers and booleans.
func orAbsent(decode func(*Report, json.RawMessage) string) func(*Report, json.RawMessage) string {
	return func(r *Report, raw json.RawMessage) string {
		if string(bytes.TrimSpace(raw)) == "null" {
			return ""
		}
		return decode(r, raw)
	}
}

// serverField refuses a field that only truceline sets.
func serverField(*Report, json.RawMessage) string { return "is set by truceline, not by the sender" }

// DecodeReport parses a report in schema v1 without judging its content:
// it rejects what is not a JSON object, unknown fields and fields of the wrong
// type, naming each. Call Validate next.
func DecodeReport(data []byte) (Report, error) {
	var r Report
	if len(data) > MaxReportBytes {
		return r, &Error{Code: ETOOLARGE, Message: fmt.Sprintf("report is %d bytes; the limit is %d", len(data), MaxReportBytes)}
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return r, &Error{Code: EINVALID, Message: "report is not a JSON object", Fields: []FieldProblem{{Field: "(body)", Problem: jsonProblem(err)}}}
	}
	if dec.More() {
		return r, &Error{Code: EINVALID, Message: "report is not a single JSON object", Fields: []FieldProblem{{Field: "(body)", Problem: "has data after the object"}}}
	}
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	var p problems
	for _, name := range names {
		decode, known := reportFields[name]
		if !known {
			p.add(name, "unknown field")
			continue
		}
		if problem := decode(&r, fields[name]); problem != "" {
			p.add(name, "%s", problem)
		}
	}
	return r, p.err("report")
}

// Validate judges a decoded report against schema v1 and the catalog: every
// problem is listed, with the field it concerns.
func (r *Report) Validate(c *Catalog, now time.Time) error {
	var p problems
	if r.ID != "" && !ValidReportID(r.ID) {
		p.add("id", "must match [A-Za-z0-9._:-]{1,128}")
	}
	switch {
	case r.Zone == "":
		p.add("zone", "is required")
	case !ValidZoneID(r.Zone):
		p.add("zone", "must match [a-z0-9-]{1,64}")
	default:
		if _, ok := c.Zone(r.Zone); !ok {
			p.add("zone", "unknown zone %q", r.Zone)
		}
	}
	switch {
	case r.Category == "":
		p.add("category", "is required")
	case !r.Category.Valid():
		p.add("category", "unknown category %q", r.Category)
	}
	switch {
	case r.ObservedAt.IsZero():
		p.add("observed_at", "is required (RFC 3339 time)")
	case r.ObservedAt.After(now.Add(MaxFutureSkew)):
		p.add("observed_at", "is more than %s in the future", MaxFutureSkew)
	}
	if u := r.ObservedUntil; u != nil {
		switch {
		case !r.ObservedAt.IsZero() && u.Before(r.ObservedAt):
			p.add("observed_until", "is before observed_at: it is when what was observed ended")
		case u.After(now.Add(MaxFutureSkew)):
			p.add("observed_until", "is more than %s in the future", MaxFutureSkew)
		}
	}
	if o := r.Observer; o != nil {
		if o.Lat < -90 || o.Lat > 90 {
			p.add("observer.lat", "must be between -90 and 90")
		}
		if o.Lon < -180 || o.Lon > 180 {
			p.add("observer.lon", "must be between -180 and 180")
		}
	}
	if d := r.DirectionDeg; d != nil && (*d < 0 || *d > 360) {
		p.add("direction_deg", "must be between 0 and 360 (degrees clockwise from true north)")
	}
	if d := r.DistanceM; d != nil {
		switch {
		case d.Min < 0 || d.Max < 0:
			p.add("distance_m", "min and max must be 0 or more (metres)")
		case d.Min > d.Max:
			p.add("distance_m", "min must not be more than max")
		case d.Max > MaxDistanceM:
			p.add("distance_m", "max must be at most %d metres", MaxDistanceM)
		}
	}
	if len(r.WeaponCalibre) > maxCalibreLen {
		p.add("weapon_calibre", "is %d bytes; the limit is %d (a calibre such as 122mm)", len(r.WeaponCalibre), maxCalibreLen)
	}
	if n := r.Impacts; n != nil && (*n < 0 || *n > maxCount) {
		p.add("impacts", "must be between 0 and %d", maxCount)
	}
	checkText(&p, "reported_by", r.ReportedBy, true)
	if r.SourceType != "" && !sourceTypes[r.SourceType] {
		p.add("source_type", "must be one of own_monitor, party_allegation, ngo, media, public, sensor")
	}
	if l := r.Location; l != nil {
		if l.Lat < -90 || l.Lat > 90 {
			p.add("location.lat", "must be between -90 and 90")
		}
		if l.Lon < -180 || l.Lon > 180 {
			p.add("location.lon", "must be between -180 and 180")
		}
		if l.PrecisionM < 0 || l.PrecisionM > 1e6 {
			p.add("location.precision_m", "must be between 0 and 1000000")
		}
	}
	if r.Severity != "" && !r.Severity.Valid() {
		p.add("severity", "must be one of minor, moderate, severe, extreme")
	}
	if r.Certainty != "" && !certainties[r.Certainty] {
		p.add("certainty", "must be one of observed, likely, possible, unlikely, unknown")
	}
	if r.Count < 0 || r.Count > maxCount {
		p.add("count", "must be between 1 and %d", maxCount)
	}
	checkText(&p, "weapon", r.Weapon, false)
	if r.AttributedTo != "" {
		if _, ok := c.Party(r.AttributedTo); !ok {
			p.add("attributed_to", "unknown party %q", r.AttributedTo)
		}
	}
	if r.Target != "" && !nonPartyTargets[r.Target] {
		if _, ok := c.Party(r.Target); !ok {
			p.add("target", "must be a party id or one of civilian, infrastructure, humanitarian; %q is neither", r.Target)
		}
	}
	if cs := r.Casualties; cs != nil {
		if cs.Killed < 0 || cs.Killed > maxCount {
			p.add("casualties.killed", "must be between 0 and %d", maxCount)
		}
		if cs.Injured < 0 || cs.Injured > maxCount {
			p.add("casualties.injured", "must be between 0 and %d", maxCount)
		}
	}
	if len(r.Description) > MaxDescriptionBytes {
		p.add("description", "is %d bytes; the limit is %d", len(r.Description), MaxDescriptionBytes)
	}
	if len(r.References) > maxReferences {
		p.add("references", "lists %d reports; the limit is %d", len(r.References), maxReferences)
	}
	for i, ref := range r.References {
		if !ValidReportKey(ref) {
			p.add(fmt.Sprintf("references[%d]", i), "must match [A-Za-z0-9._:-]{1,128}, with an optional ~<tag> (a report id truceline answered)")
		}
	}
	return p.err("report")
}

func checkText(p *problems, field, s string, required bool) {
	switch {
	case s == "" && required:
		p.add(field, "is required")
	case len(s) > maxShortText:
		p.add(field, "is %d bytes; the limit is %d", len(s), maxShortText)
	}
}

func decodeString(raw json.RawMessage, dst *string) string {
	if err := json.Unmarshal(raw, dst); err != nil {
		return "must be a string"
	}
	if !utf8.ValidString(*dst) {
		return "must be valid UTF-8"
	}
	return ""
}

func decodeStrings(raw json.RawMessage, dst *[]string) string {
	if err := json.Unmarshal(raw, dst); err != nil {
		return "must be an array of strings"
	}
	return ""
}

func decodeInt(raw json.RawMessage, dst *int) string {
	if err := json.Unmarshal(raw, dst); err != nil {
		return "must be an integer"
	}
	return ""
}

func decodeBool(raw json.RawMessage, dst *bool) string {
	if err := json.Unmarshal(raw, dst); err != nil {
		return "must be true or false"
	}
	return ""
}

// decodeObject decodes a nested object strictly: unknown or mistyped members
// are reported as the field's problem.
func decodeObject[T any](raw json.RawMessage, dst **T) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	v := new(T)
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return "must be an object"
	}
	*dst = v
	return ""
}

// decodeCount rejects an explicit 0 too, which the struct cannot tell from
// an absent count.
func decodeCount(r *Report, raw json.RawMessage) string {
	if p := decodeInt(raw, &r.Count); p != "" {
		return p
	}
	if r.Count < 1 || r.Count > maxCount {
		return fmt.Sprintf("must be between 1 and %d", maxCount)
	}
	return ""
}

// decodeLocation requires lat and lon: a location without them would
// silently mean the Gulf of Guinea.
func decodeLocation(r *Report, raw json.RawMessage) string {
	var l *struct {
		Lat        *float64 `json:"lat"`
		Lon        *float64 `json:"lon"`
		PrecisionM float64  `json:"precision_m"`
	}
	if p := decodeObject(raw, &l); p != "" {
		return p
	}
	switch {
	case l.Lat == nil && l.Lon == nil:
		return "needs lat and lon"
	case l.Lat == nil:
		return "needs lat"
	case l.Lon == nil:
		return "needs lon"
	}
	r.Location = &Location{Lat: *l.Lat, Lon: *l.Lon, PrecisionM: l.PrecisionM}
	return ""
}

func decodeObservedAt(r *Report, raw json.RawMessage) string {
	return decodeTime(raw, func(t time.Time) { r.ObservedAt = t })
}

func decodeTime(raw json.RawMessage, set func(time.Time)) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "must be an RFC 3339 time string"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Sprintf("%q is not an RFC 3339 time (like 2016-05-04T10:30:00Z)", s)
	}
	set(t)
	return ""
}

func decodeNumber(raw json.RawMessage, dst **float64) string {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return "must be a number"
	}
	*dst = &f
	return ""
}

// decodeObserver requires lat and lon, as decodeLocation does.
func decodeObserver(r *Report, raw json.RawMessage) string {
	var o *struct {
		Lat *float64 `json:"lat"`
		Lon *float64 `json:"lon"`
	}
	if p := decodeObject(raw, &o); p != "" {
		return p
	}
	if p := needLatLon(o.Lat, o.Lon); p != "" {
		return p
	}
	r.Observer = &Position{Lat: *o.Lat, Lon: *o.Lon}
	return ""
}

// decodeDistance requires min and max: a range with one end left out
// would silently mean 0.
func decodeDistance(r *Report, raw json.RawMessage) string {
	var d *struct {
		Min *float64 `json:"min"`
		Max *float64 `json:"max"`
	}
	if p := decodeObject(raw, &d); p != "" {
		return p
	}
	switch {
	case d.Min == nil && d.Max == nil:
		return "needs min and max (metres; equal for a single estimate)"
	case d.Min == nil:
		return "needs min (metres; equal to max for a single estimate)"
	case d.Max == nil:
		return "needs max (metres; equal to min for a single estimate)"
	}
	r.DistanceM = &DistanceRange{Min: *d.Min, Max: *d.Max}
	return ""
}

func needLatLon(lat, lon *float64) string {
	switch {
	case lat == nil && lon == nil:
		return "needs lat and lon"
	case lat == nil:
		return "needs lat"
	case lon == nil:
		return "needs lon"
	}
	return ""
}

// jsonProblem turns an encoding/json error into words for a field problem.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "must be a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON: the input ends too soon"
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s must be %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return "must be a JSON object"
	default:
		return err.Error()
	}
}

func jsonKind(kind string) string {
	switch kind {
	case "float64", "float32":
		return "a number"
	case "int", "int64":
		return "an integer"
	case "string":
		return "a string"
	case "struct", "ptr", "map":
		return "an object"
	default:
		return "a " + kind
	}
}

// ParkedReport is a report that failed every try, waiting for an operator
// to mend the cause and replay it.
type ParkedReport struct {
	Seq      uint64    `json:"seq"`      // in the stream of rejections
	At       time.Time `json:"at"`       // when it was parked
	Subject  string    `json:"subject"`  // where it arrived, and is replayed
	Attempts string    `json:"attempts"` // how often it was tried
	Reason   string    `json:"reason"`   // the last try's error
	Report   string    `json:"report"`   // the report as it was sent
}
