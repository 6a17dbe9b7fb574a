package cap

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/truceline/truceline/alerting"
)

// MaxBytes is the largest CAP message Decode reads: four times a report's
// limit, since CAP says the same things more wordily.
const MaxBytes = alerting.MaxReportBytes * 4

// Decoded is a CAP message read as a violation report.
type Decoded struct {
	Report alerting.Report
	// sources maps each report field that was set to the CAP element it
	// came from, so that the report's validation problems name the
	// sender's elements.
	sources map[string]string
	// Warnings name what was accepted though CAP forbids it (a time in
	// "Z"), for the answer to the sender.
	Warnings []string
	// Amends is the identifier of the message an Update or Cancel
	// updates or withdraws: the last of its references. Withdraws is set
	// for a Cancel. The server keys it to the sender (see
	// alerting.Arrival).
	Amends    string
	Withdraws bool
}

// Decode reads a CAP 1.2 message (an Alert, Update or Cancel, status Actual
// or Exercise) as a report: the zone from the geocode "truceline-zone" or an
// areaDesc naming one of zones (its name or id, in any case), the category
// from a parameter "truceline-category" or the event, observed_at from
// onset, effective or sent, reported_by from senderName or sender, the id
// from identifier. It does not judge the report: validate it next (Explain
// names its problems by CAP element).
//
// Every element that cannot be mapped is named in one *alerting.Error
// (EINVALID); a message larger than MaxBytes is ETOOLARGE. Documents with a
// DOCTYPE are refused: CAP needs no DTD, and entities are a way to make a
// small document expand.
func Decode(data []byte, zones []alerting.Zone) (*Decoded, error) {
	if len(data) > MaxBytes {
		return nil, alerting.Errorf(alerting.ETOOLARGE, "CAP message is %d bytes; the limit is %d", len(data), MaxBytes)
	}
	if upper := bytes.ToUpper(data); bytes.Contains(upper, []byte("<!DOCTYPE")) || bytes.Contains(upper, []byte("<!ENTITY")) {
		return nil, bodyError("must not have a DOCTYPE or entity declarations")
	}
	var msg Message
	if err := readMessage(data, &msg); err != nil {
		return nil, err
	}
	d := &Decoded{sources: map[string]string{}}
	var p problems
	d.envelope(&msg, &p)
	if len(msg.Info) == 0 {
		p.add("info", "is required: it says what happened (event) and where (area)")
	} else {
		i := pickInfo(msg.Info)
		d.info(&msg, &msg.Info[i], fmt.Sprintf("info[%d]", i), zones, &p)
	}
	if len(p) > 0 {
		return nil, &alerting.Error{Code: alerting.EINVALID,
			Message: fmt.Sprintf("CAP message cannot be read as a report: %d problem(s)", len(p)), Fields: p}
	}
	return d, nil
}

func bodyError(problem string) error {
	return &alerting.Error{Code: alerting.EINVALID, Message: "not a CAP 1.2 message",
		Fields: []alerting.FieldProblem{{Field: "(body)", Problem: problem}}}
}

// readMessage decodes the document's root, which must be CAP 1.2's alert,
// and refuses anything but comments and processing instructions after it.
func readMessage(data []byte, msg *Message) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root *xml.StartElement
	for root == nil {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return bodyError("is empty: send a CAP 1.2 <alert>")
			}
			return bodyError("malformed XML: " + err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = &t
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return bodyError("has text outside the root element")
			}
		case xml.Directive:
			return bodyError("must not have a DOCTYPE or entity declarations")
		}
	}
	if root.Name.Local != "alert" || root.Name.Space != Namespace {
		return bodyError(fmt.Sprintf("the root element is {%s}%s; send a CAP 1.2 <alert> in namespace %s",
			root.Name.Space, root.Name.Local, Namespace))
	}
	if err := dec.DecodeElement(msg, root); err != nil {
		return bodyError("malformed XML: " + err.Error())
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return bodyError("malformed XML after the alert: " + err.Error())
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return bodyError("has another element after the alert: <" + t.Name.Local + ">")
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return bodyError("has text after the alert")
			}
		case xml.Directive:
			return bodyError("must not have a DOCTYPE or entity declarations")
		}
	}
}

type problems []alerting.FieldProblem

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, alerting.FieldProblem{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// envelope maps what the alert element itself says.
func (d *Decoded) envelope(msg *Message, p *problems) {
	r := &d.Report
	if id := strings.TrimSpace(msg.Identifier); id != "" {
		if alerting.ValidReportID(id) {
			r.ID = id
			d.sources["id"] = "identifier"
		} else {
			p.add("identifier", "%s cannot serve as the report id: it must match [A-Za-z0-9._:-]{1,128}", quote(id))
		}
	}
	switch s := strings.TrimSpace(msg.Status); s {
	case "Actual":
	case "Exercise":
		r.Exercise = true
		d.sources["exercise"] = "status"
	case "":
		p.add("status", "is required: Actual, or Exercise for drills")
	default:
		p.add("status", "%s is not a report: only Actual and Exercise messages are", quote(s))
	}
	msgType := strings.TrimSpace(msg.MsgType)
	switch msgType {
	case "Alert", "Update":
	case "Cancel":
		if strings.TrimSpace(msg.References) == "" {
			p.add("references", "is required for a Cancel: name the message it withdraws (sender,identifier,sent)")
		}
	case "":
		p.add("msgType", "is required: Alert; Update for a report that updates an earlier one; Cancel to withdraw one")
	default:
		p.add("msgType", "%s is not a report: only Alert, Update and Cancel messages are", quote(msgType))
	}
	for _, ref := range strings.Fields(msg.References) {
		parts := strings.Split(ref, ",")
		switch {
		case len(parts) != 3:
			p.add("references", "%s is not sender,identifier,sent", quote(ref))
		case !alerting.ValidReportID(parts[1]):
			p.add("references", "identifier %s cannot name a report: it must match [A-Za-z0-9._:-]{1,128}", quote(parts[1]))
		default:
			r.References = append(r.References, parts[1])
			d.sources["references"] = "references"
		}
	}
	if n := len(r.References); n > 0 && (msgType == "Update" || msgType == "Cancel") {
		d.Amends, d.Withdraws = r.References[n-1], msgType == "Cancel"
	}
}

// pickInfo chooses the info block to read: the first in English (or
// without a language, which CAP takes as en-US), else the first.
func pickInfo(infos []Info) int {
	for i, in := range infos {
		lang := strings.ToLower(strings.TrimSpace(in.Language))
		if lang == "" || lang == "en" || strings.HasPrefix(lang, "en-") {
			return i
		}
	}
	return 0
}

func (d *Decoded) info(msg *Message, in *Info, pre string, zones []alerting.Zone, p *problems) {
	r := &d.Report
	params := map[string]param{}
	for i, pv := range in.Parameter {
		name := strings.ToLower(strings.TrimSpace(pv.ValueName))
		if _, seen := params[name]; !seen {
			params[name] = param{strings.TrimSpace(pv.Value), fmt.Sprintf("%s.parameter[%d]", pre, i)}
		}
	}
	for i, ec := range in.EventCode {
		if name := strings.ToLower(strings.TrimSpace(ec.ValueName)); name == "truceline-category" {
			if _, seen := params[name]; !seen {
				params[name] = param{strings.TrimSpace(ec.Value), fmt.Sprintf("%s.eventCode[%d]", pre, i)}
			}
		}
	}
	d.category(in, pre, params, p)
	d.zone(in, pre, params, zones, p)
	d.observedAt(msg, in, pre, p)

	switch name, sender := strings.TrimSpace(in.SenderName), strings.TrimSpace(msg.Sender); {
	case name != "":
		r.ReportedBy = name
		d.sources["reported_by"] = pre + ".senderName"
	case sender != "":
		r.ReportedBy = sender
		d.sources["reported_by"] = "sender"
	default:
		p.add("sender", "is required: it names who reports (or give %s.senderName)", pre)
	}

	switch s := strings.TrimSpace(in.Severity); s {
	case "Extreme", "Severe", "Moderate", "Minor":
		r.Severity = alerting.Severity(strings.ToLower(s))
		d.sources["severity"] = pre + ".severity"
	case "", "Unknown":
	default:
		p.add(pre+".severity", "%s is not a CAP severity (Extreme, Severe, Moderate, Minor, Unknown)", quote(s))
	}
	switch c := strings.TrimSpace(in.Certainty); c {
	case "Observed", "Likely", "Possible", "Unlikely", "Unknown":
		r.Certainty = strings.ToLower(c)
		d.sources["certainty"] = pre + ".certainty"
	case "Very Likely": // CAP 1.0's, which 1.2 asks receivers to read as Likely
		r.Certainty = "likely"
		d.sources["certainty"] = pre + ".certainty"
	case "":
	default:
		p.add(pre+".certainty", "%s is not a CAP certainty (Observed, Likely, Possible, Unlikely, Unknown)", quote(c))
	}

	desc := strings.TrimSpace(in.Description)
	if h := strings.TrimSpace(in.Headline); h != "" {
		if desc == "" {
			desc = h
		} else {
			desc = h + "\n\n" + desc
		}
	}
	if desc != "" {
		r.Description = truncate(desc, alerting.MaxDescriptionBytes)
		d.sources["description"] = pre + ".description"
	}
	d.parameters(params, p)
	d.location(in, pre, p)
}

type param struct{ value, path string }

func (d *Decoded) category(in *Info, pre string, params map[string]param, p *problems) {
	if c, ok := params["truceline-category"]; ok {
		if cat := alerting.Category(c.value); cat.Valid() {
			d.Report.Category = cat
			d.sources["category"] = c.path
		} else {
			p.add(c.path, "truceline-category %s is not a category (one of %s)", quote(c.value), categoryList())
		}
		return
	}
	ev := strings.TrimSpace(in.Event)
	if ev == "" {
		p.add(pre+".event", "is required: it says what happened, such as \"Shelling\"")
		return
	}
	if cat, ok := matchCategory(ev); ok {
		d.Report.Category = cat
		d.sources["category"] = pre + ".event"
		return
	}
	p.add(pre+".event", "no category matches %s: give a parameter truceline-category (one of %s), or an event such as \"Shelling\" or \"Small-arms fire\"",
		quote(ev), categoryList())
}

// matchCategory finds the category an event names by its label ("Small-arms
// fire") or id ("small_arms"), in any case, after an optional "Ceasefire
// violation" prefix.
func matchCategory(event string) (alerting.Category, bool) {
	ev := strings.ToLower(strings.TrimSpace(event))
	for _, prefix := range []string{"ceasefire violation"} {
		if rest, ok := strings.CutPrefix(ev, prefix); ok {
			ev = strings.TrimLeft(rest, " -–—:")
		}
	}
	for _, c := range alerting.Categories {
		if ev == strings.ToLower(c.Label()) || ev == string(c) || ev == strings.ReplaceAll(string(c), "_", " ") {
			return c, true
		}
	}
	return "", false
}

func categoryList() string {
	names := make([]string, len(alerting.Categories))
	for i, c := range alerting.Categories {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

func (d *Decoded) zone(in *Info, pre string, params map[string]param, zones []alerting.Zone, p *problems) {
	byID := make(map[string]alerting.Zone, len(zones))
	for _, z := range zones {
		byID[z.ID] = z
	}
	set := func(id, path string) bool {
		if _, ok := byID[id]; !ok {
			p.add(path, "no zone %s", quote(id))
			return false
		}
		d.Report.Zone = id
		d.sources["zone"] = path
		return true
	}
	for ai, area := range in.Area {
		for gi, g := range area.Geocode {
			if strings.EqualFold(strings.TrimSpace(g.ValueName), ZoneGeocode) {
				set(strings.TrimSpace(g.Value), fmt.Sprintf("%s.area[%d].geocode[%d]", pre, ai, gi))
				return
			}
		}
	}
	if z, ok := params[ZoneGeocode]; ok {
		set(z.value, z.path)
		return
	}
	var descs []string
	for ai, area := range in.Area {
		desc := strings.TrimSpace(area.AreaDesc)
		for _, z := range zones {
			if strings.EqualFold(desc, z.Name) || strings.EqualFold(desc, z.ID) {
				set(z.ID, fmt.Sprintf("%s.area[%d].areaDesc", pre, ai))
				return
			}
		}
		descs = append(descs, quote(desc))
	}
	if len(in.Area) == 0 {
		p.add(pre+".area", "is required: give a geocode %q with the zone id, or an areaDesc that names a zone", ZoneGeocode)
		return
	}
	p.add(pre+".area", "no geocode %q, and no areaDesc names a zone (%s)", ZoneGeocode, strings.Join(descs, ", "))
}

// observedAt is when it happened: onset (when the event began), else
// effective (when the information applies), else when the message was
// sent.
func (d *Decoded) observedAt(msg *Message, in *Info, pre string, p *problems) {
	candidates := []struct{ value, path string }{
		{in.Onset, pre + ".onset"}, {in.Effective, pre + ".effective"}, {msg.Sent, "sent"},
	}
	found := false
	for _, c := range candidates {
		if strings.TrimSpace(c.value) == "" {
			continue
		}
		t, ok := parseDateTime(c.value)
		if !ok {
			p.add(c.path, "%s is not a CAP dateTime (like 2026-11-23T14:05:00-00:00)", quote(c.value))
			continue
		}
		if !capDateTime.MatchString(strings.TrimSpace(c.value)) {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s %s is not a CAP dateTime: CAP 1.2 writes whole seconds and an offset, UTC as -00:00, never Z (like 2026-11-23T14:05:00-00:00); accepted as %s",
				c.path, quote(c.value), DateTime(t)))
		}
		if !found {
			d.Report.ObservedAt, found = t, true
			d.sources["observed_at"] = c.path
		}
	}
	if !found && strings.TrimSpace(msg.Sent) == "" {
		p.add("sent", "is required (or give %s.effective or %s.onset): it says when the violation was observed", pre, pre)
	}
}

// parameters maps the optional truceline-* parameters of report fields
// CAP has no element for; other parameters are ignored.
func (d *Decoded) parameters(params map[string]param, p *problems) {
	r := &d.Report
	text := map[string]*string{
		"truceline-weapon": &r.Weapon, "truceline-attributed-to": &r.AttributedTo,
		"truceline-target": &r.Target, "truceline-source-type": &r.SourceType,
		"truceline-weapon-calibre": &r.WeaponCalibre,
	}
	for name, dst := range text {
		if v, ok := params[name]; ok && v.value != "" {
			*dst = v.value
			d.sources[strings.ReplaceAll(strings.TrimPrefix(name, "truceline-"), "-", "_")] = v.path
		}
	}
	number := func(name string, min int) (int, bool) {
		v, ok := params[name]
		if !ok {
			return 0, false
		}
		n, err := strconv.Atoi(v.value)
		if err != nil || n < min || n > 100_000 {
			p.add(v.path, "%s %s must be an integer from %d to 100000", name, quote(v.value), min)
			return 0, false
		}
		return n, true
	}
	if n, ok := number("truceline-count", 1); ok {
		r.Count = n
		d.sources["count"] = params["truceline-count"].path
	}
	if n, ok := number("truceline-impacts", 0); ok {
		r.Impacts = &n
		d.sources["impacts"] = params["truceline-impacts"].path
	}
	d.observation(params, p)
	killed, k := number("truceline-killed", 0)
	injured, i := number("truceline-injured", 0)
	if k || i {
		r.Casualties = &alerting.Casualties{Killed: killed, Injured: injured}
		if k {
			d.sources["casualties"] = params["truceline-killed"].path
		} else {
			d.sources["casualties"] = params["truceline-injured"].path
		}
	}
}

// observation maps the parameters of observed fire: truceline-observed-until
// (a CAP dateTime), truceline-observer ("lat,lon", as CAP writes points),
// truceline-direction-deg (a number) and truceline-distance-m ("min-max"
// in metres, or one number for both). The report's validation judges
// their ranges.
func (d *Decoded) observation(params map[string]param, p *problems) {
	r := &d.Report
	if v, ok := params["truceline-observed-until"]; ok {
		if t, ok := parseDateTime(v.value); ok {
			r.ObservedUntil = &t
			d.sources["observed_until"] = v.path
		} else {
			p.add(v.path, "truceline-observed-until %s is not a CAP dateTime (like 2026-11-23T14:05:00-00:00)", quote(v.value))
		}
	}
	if v, ok := params["truceline-observer"]; ok {
		if lat, lon, ok := parsePair(strings.TrimSpace(v.value)); ok {
			r.Observer = &alerting.Position{Lat: lat, Lon: lon}
			d.sources["observer"] = v.path
		} else {
			p.add(v.path, "truceline-observer %s is not a point \"lat,lon\"", quote(v.value))
		}
	}
	if v, ok := params["truceline-direction-deg"]; ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(v.value), 64); err == nil && finite(f) {
			r.DirectionDeg = &f
			d.sources["direction_deg"] = v.path
		} else {
			p.add(v.path, "truceline-direction-deg %s is not a number of degrees", quote(v.value))
		}
	}
	if v, ok := params["truceline-distance-m"]; ok {
		if rng, ok := parseDistance(v.value); ok {
			r.DistanceM = rng
			d.sources["distance_m"] = v.path
		} else {
			p.add(v.path, "truceline-distance-m %s is not a distance in metres, \"min-max\" or one number", quote(v.value))
		}
	}
}

// parseDistance reads "3000-5000" or "4000".
func parseDistance(s string) (*alerting.DistanceRange, bool) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	if !isRange {
		hi = lo
	}
	min, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
	max, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
	if err1 != nil || err2 != nil || !finite(min) || !finite(max) {
		return nil, false
	}
	return &alerting.DistanceRange{Min: min, Max: max}, true
}

// location is the first circle's centre (its radius the precision), or
// else the first polygon's centroid (its farthest corner the precision).
func (d *Decoded) location(in *Info, pre string, p *problems) {
	for ai, area := range in.Area {
		for ci, c := range area.Circle {
			path := fmt.Sprintf("%s.area[%d].circle[%d]", pre, ai, ci)
			loc, ok := parseCircle(c)
			if !ok {
				p.add(path, "%s is not a circle \"lat,lon radius_km\"", quote(c))
				return
			}
			d.Report.Location = loc
			d.sources["location"] = path
			return
		}
	}
	for ai, area := range in.Area {
		for pi, s := range area.Polygon {
			path := fmt.Sprintf("%s.area[%d].polygon[%d]", pre, ai, pi)
			loc, ok := parsePolygon(s)
			if !ok {
				p.add(path, "%s is not a polygon: at least 4 \"lat,lon\" pairs, the first and last the same", quote(s))
				return
			}
			d.Report.Location = loc
			d.sources["location"] = path
			return
		}
	}
}

func parsePair(s string) (lat, lon float64, ok bool) {
	a, b, found := strings.Cut(s, ",")
	if !found {
		return 0, 0, false
	}
	lat, err1 := strconv.ParseFloat(a, 64)
	lon, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || !finite(lat) || !finite(lon) {
		return 0, 0, false
	}
	return lat, lon, true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func parseCircle(s string) (*alerting.Location, bool) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return nil, false
	}
	lat, lon, ok := parsePair(f[0])
	radius, err := strconv.ParseFloat(f[1], 64)
	if !ok || err != nil || !finite(radius) || radius < 0 {
		return nil, false
	}
	return &alerting.Location{Lat: lat, Lon: lon, PrecisionM: radius * 1000}, true
}

func parsePolygon(s string) (*alerting.Location, bool) {
	f := strings.Fields(s)
	if len(f) < 4 {
		return nil, false
	}
	pts := make([][2]float64, len(f))
	for i, pair := range f {
		lat, lon, ok := parsePair(pair)
		if !ok {
			return nil, false
		}
		pts[i] = [2]float64{lat, lon}
	}
	if pts[0] != pts[len(pts)-1] {
		return nil, false
	}
	lat, lon := centroid(pts[:len(pts)-1])
	lat, lon = alerting.RoundCoordinate(lat), alerting.RoundCoordinate(lon)
	var far float64
	for _, pt := range pts {
		far = max(far, distance(lat, lon, pt[0], pt[1]))
	}
	return &alerting.Location{Lat: lat, Lon: lon, PrecisionM: math.Round(min(far, 1e6))}, true
}

// centroid is the area centroid of a ring (lat, lon pairs, not closed),
// taken as planar, or the mean of its points when it has no area.
func centroid(pts [][2]float64) (lat, lon float64) {
	var area, cx, cy float64
	for i := range pts {
		x0, y0 := pts[i][1], pts[i][0]
		x1, y1 := pts[(i+1)%len(pts)][1], pts[(i+1)%len(pts)][0]
		cross := x0*y1 - x1*y0
		area += cross
		cx += (x0 + x1) * cross
		cy += (y0 + y1) * cross
	}
	if math.Abs(area) > 1e-12 && finite(cx/(3*area)) && finite(cy/(3*area)) {
		return cy / (3 * area), cx / (3 * area)
	}
	for _, pt := range pts {
		lat += pt[0]
		lon += pt[1]
	}
	return lat / float64(len(pts)), lon / float64(len(pts))
}

// distance is the great-circle distance in metres.
func distance(lat1, lon1, lat2, lon2 float64) float64 {
	const r = 6371e3
	rad := math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	d := 2 * r * math.Asin(math.Sqrt(min(1, max(0, h))))
	if !finite(d) {
		return 0
	}
	return d
}

// truncate shortens s to at most n bytes, on a character boundary, marking
// the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// quote quotes a sender's value for a problem, shortened so that an error
// stays readable.
func quote(s string) string { return strconv.Quote(truncate(s, 80)) }

// Explain renames the report fields that an error's problems name to the
// CAP elements they came from ("observed_at" → "info[0].onset"), keeping
// the report field in the problem. Other errors, and a nil Decoded's, are
// returned as they are.
func (d *Decoded) Explain(err error) error {
	var e *alerting.Error
	if d == nil || !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	out := *e
	out.Fields = make([]alerting.FieldProblem, len(e.Fields))
	for i, f := range e.Fields {
		base := f.Field
		if cut := strings.IndexAny(base, ".["); cut > 0 {
			base = base[:cut]
		}
		if src, ok := d.sources[base]; ok {
			f = alerting.FieldProblem{Field: src, Problem: f.Problem + " (report field " + f.Field + ")"}
		}
		out.Fields[i] = f
	}
	return &out
}
