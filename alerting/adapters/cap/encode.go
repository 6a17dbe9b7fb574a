package cap

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/truceline/truceline/alerting"
)

// DefaultRestriction is who may see a restricted message when Options
// says nothing else.
const DefaultRestriction = "For the joint monitoring centre and its partners; not for public release."

// ZoneGeocode is the valueName of the geocode (and the parameter) that
// carries a truceline zone id.
const ZoneGeocode = "truceline-zone"

// Options says how messages name their sender and where they point.
// The zero value works: sender "truceline@localhost", scope Restricted,
// board links relative to the server.
type Options struct {
	// Sender identifies the originator of the messages, like
	// "truceline@truceline.example.org". Spaces, commas, '<' and '&', which
	// CAP forbids in it, are dropped.
	Sender string
	// SenderName is the sender as people read it; "" means "truceline".
	SenderName string
	// BoardURL is where people reach the board ("https://truceline.example.org");
	// each message's <web> is BoardURL/?alert=<id>.
	BoardURL string
	// Public makes messages' scope Public. By default it is Restricted,
	// with Restriction (DefaultRestriction when "").
	Public      bool
	Restriction string
	// PartyName, when set, names a party by its id in what messages say of
	// the parties' verifications; "" (or no PartyName) leaves the id.
	PartyName func(id string) string
}

func (o Options) withDefaults() Options {
	o.Sender = strings.Map(func(r rune) rune {
		if r == ' ' || r == ',' || r == '<' || r == '&' || r < ' ' {
			return -1
		}
		return r
	}, o.Sender)
	if o.Sender == "" {
		o.Sender = "truceline@localhost"
	}
	if o.SenderName == "" {
		o.SenderName = "truceline"
	}
	if o.Restriction == "" {
		o.Restriction = DefaultRestriction
	}
	o.BoardURL = strings.TrimRight(o.BoardURL, "/")
	return o
}

// Messages returns the CAP messages alert a implies, oldest first: one per
// timeline entry partners care about (see docs/CAP.md), and a last Update
// when reports were added after the last entry. Each message's identifier
// is stable: the same entry always yields the same identifier, sent time and
// msgType. Every message after the first references the first and the one
// before it. z is the alert's zone, for the area.
//
// truceline keeps no copy of an alert per version, so every message
// carries the alert's facts as they are now (severity, reports,
// casualties); its state and verification are those after its entry.
func Messages(a *alerting.Alert, z alerting.Zone, o Options) []*Message {
	o = o.withDefaults()
	area := zoneArea(a.Zone, z)
	changes := o.history(a)
	out := make([]*Message, len(changes))
	for i, c := range changes {
		m := o.message(a, c, area)
		m.seq = i
		if i > 0 {
			refs := []string{out[0].Ref()}
			if i > 1 {
				refs = append(refs, out[i-1].Ref())
			}
			m.References = strings.Join(refs, " ")
		}
		out[i] = m
	}
	return out
}

// Latest returns the newest of the alert's messages: what a partner must
// know of it now.
func Latest(a *alerting.Alert, z alerting.Zone, o Options) *Message {
	ms := Messages(a, z, o)
	return ms[len(ms)-1]
}

// change is one message an alert implies, before it is written out.
type change struct {
	key          string // the identifier's last part
	at           time.Time
	msgType      string
	note         string
	state        alerting.State
	verification alerting.Verification
	// verifications are the parties' judgements after the entry, and
	// sentence what they say (alerting.VerificationSentence).
	verifications []alerting.Verifying
	sentence      string
}

// verificationNote is how alerting.Alert.Verify writes a verification on
// the timeline: "<party>: <status> (<reason>)".
var verificationNote = regexp.MustCompile(`(?s)^([a-z0-9-]{1,64}): (confirmed|cannot_confirm|disputed|not_applicable) \((.*)\)$`)

// withdrawnAll says whether an engine's timeline entry is the withdrawal
// of the alert's last standing report (alerting.Alert.Amend).
func withdrawnAll(e alerting.Entry) bool {
	return e.By == "engine" && strings.Contains(e.Note, " withdrawn by its sender (") && strings.Contains(e.Note, "; no report stands")
}

// history walks the timeline and says which message each entry of
// interest implies, replaying the alert's state and verification. Only the
// withdrawal of every report is a Cancel: a party's verification, whatever
// it says, is an Update of an alert that stands.
func (o Options) history(a *alerting.Alert) []change {
	var out []change
	state, verification := alerting.StateOpen, alerting.Unverified
	var verdicts []alerting.Verifying
	sentence := ""
	var last time.Time
	for i, e := range a.Timeline {
		if e.At.After(last) {
			last = e.At
		}
		c := change{key: strconv.Itoa(i + 1), at: e.At, msgType: "Update", note: entryNote(e)}
		switch e.Action {
		case alerting.EventOpened:
			if len(out) == 0 {
				c.msgType = "Alert"
			}
			if strings.HasSuffix(e.Note, "(not applicable)") {
				verification = alerting.NotApplicable
			}
		case alerting.EventReopened:
			state = alerting.StateOpen
		case alerting.EventAcknowledged:
			c.msgType = "Ack"
			if !strings.Contains(e.Note, "(still waiting for ") {
				state = alerting.StateAcknowledged
			}
		case alerting.EventResolved:
			state = alerting.StateResolved
		case alerting.EventUpdated:
			switch m := verificationNote.FindStringSubmatch(e.Note); {
			case e.By == "delivery", strings.HasPrefix(e.Note, "comment: "), strings.HasPrefix(e.Note, "snoozed until "):
				continue // the centre's own handling: no news for partners
			case m != nil:
				v := alerting.Verifying{Party: m[1], Status: alerting.Verification(m[2]), Reason: m[3], By: e.By, At: e.At}
				if j := slices.IndexFunc(verdicts, func(x alerting.Verifying) bool { return x.Party == v.Party }); j >= 0 {
					verdicts = slices.Clone(verdicts)
					verdicts[j] = v
				} else {
					verdicts = append(slices.Clip(verdicts), v)
				}
				verification = alerting.Summarise(verdicts, a.RequireAckFrom)
				sentence = alerting.VerificationSentence(verdicts, a.RequireAckFrom, o.name)
			case withdrawnAll(e):
				c.msgType = "Cancel"
			}
		}
		c.state, c.verification, c.verifications, c.sentence = state, verification, verdicts, sentence
		out = append(out, c)
	}
	if len(out) == 0 {
		out = append(out, change{key: "1", at: a.OpenedAt, msgType: "Alert", note: "opened"})
		last = a.OpenedAt
	}
	if a.UpdatedAt.After(last) {
		// Reports that only add to the count change the alert without a
		// timeline entry; the version names that state.
		out = append(out, change{key: "v" + strconv.FormatInt(a.Version, 10), at: a.UpdatedAt, msgType: "Update",
			note: fmt.Sprintf("new reports: %d in all", a.ReportCount)})
	}
	// The newest message tells the alert as it is.
	newest := &out[len(out)-1]
	newest.state, newest.verification, newest.verifications = a.State, a.Verification, a.Verifications
	newest.sentence = ""
	if len(a.Verifications) > 0 {
		newest.sentence = alerting.VerificationSentence(a.Verifications, a.RequireAckFrom, o.name)
	}
	return out
}

func entryNote(e alerting.Entry) string {
	note := string(e.Action) + " by " + e.By
	if e.Note != "" {
		note += ": " + e.Note
	}
	return note
}

func (o Options) message(a *alerting.Alert, c change, area Area) *Message {
	m := &Message{
		Identifier: "truceline:" + a.ID + ":" + c.key,
		Sender:     o.Sender,
		Sent:       DateTime(c.at),
		Status:     "Actual",
		MsgType:    c.msgType,
		Source:     "truceline",
		Scope:      "Restricted",
		Note:       c.note,
		Incidents:  a.ID,
		alertID:    a.ID,
		key:        c.key,
		at:         c.at,
	}
	if a.Exercise {
		m.Status = "Exercise"
	}
	if o.Public {
		m.Scope = "Public"
	} else {
		m.Restriction = o.Restriction
	}
	info := Info{
		Language:    "en",
		Category:    []string{"Security"},
		Event:       event(a),
		Urgency:     urgency(a, c.state),
		Severity:    severity(a.Severity),
		Certainty:   certainty(c),
		EventCode:   []ValuePair{{"truceline-category", string(a.Category)}},
		SenderName:  o.SenderName,
		Headline:    a.Title,
		Description: describe(a, c, o.name),
		Web:         o.BoardURL + "/?alert=" + url.QueryEscape(a.ID),
		Parameter:   parameters(a, c),
		Area:        []Area{area},
	}
	if c.state == alerting.StateResolved {
		info.ResponseType = []string{"AllClear"}
	}
	if !a.FirstSeen.IsZero() {
		info.Onset = DateTime(a.FirstSeen)
	}
	m.Info = []Info{info}
	return m
}

func event(a *alerting.Alert) string {
	if a.Rule == alerting.RegimeEndRule {
		if a.RuleName != "" {
			return a.RuleName
		}
		return "Regime ending"
	}
	return a.Category.Label()
}

// urgency: a resolved alert is Past; an announced regime end lies ahead
// (Expected); a violation needs a response now (Immediate).
func urgency(a *alerting.Alert, s alerting.State) string {
	switch {
	case s == alerting.StateResolved:
		return "Past"
	case a.Rule == alerting.RegimeEndRule:
		return "Expected"
	}
	return "Immediate"
}

var severities = map[alerting.Severity]string{
	alerting.SeverityMinor: "Minor", alerting.SeverityModerate: "Moderate",
	alerting.SeveritySevere: "Severe", alerting.SeverityExtreme: "Extreme",
}

func severity(s alerting.Severity) string {
	if v, ok := severities[s]; ok {
		return v
	}
	return "Unknown"
}

// certainty is how sure the centre is that the event is a ceasefire
// violation: Observed once confirmed; Likely when partly confirmed (one
// side registered it, nobody has evidence against it); Possible while
// reported but not established (unverified, or nobody can confirm it);
// Unknown when one party confirms and another disputes; Unlikely when
// disputed and confirmed by nobody, or not applicable.
func certainty(c change) string {
	switch c.verification {
	case alerting.Confirmed:
		return "Observed"
	case alerting.PartlyConfirmed:
		return "Likely"
	case alerting.Unverified, alerting.CannotConfirm:
		return "Possible"
	case alerting.Disputed:
		if slices.ContainsFunc(c.verifications, func(v alerting.Verifying) bool { return v.Status == alerting.Confirmed }) {
			return "Unknown"
		}
		return "Unlikely"
	case alerting.NotApplicable:
		return "Unlikely"
	}
	return "Unknown"
}

// name is a party's name, or its id.
func (o Options) name(id string) string {
	if o.PartyName != nil {
		if n := o.PartyName(id); n != "" {
			return n
		}
	}
	return id
}

func describe(a *alerting.Alert, c change, name func(string) string) string {
	var b strings.Builder
	if a.Exercise {
		b.WriteString("EXERCISE: not a real event. ")
	}
	const day = "2006-01-02 15:04 UTC"
	switch {
	case a.ReportCount == 0:
	case a.FirstSeen.Equal(a.LastSeen):
		fmt.Fprintf(&b, "%s observed %s. ", plural(a.ReportCount, "report"), a.FirstSeen.UTC().Format(day))
	default:
		fmt.Fprintf(&b, "%s observed from %s to %s. ", plural(a.ReportCount, "report"),
			a.FirstSeen.UTC().Format(day), a.LastSeen.UTC().Format(day))
	}
	if a.Casualties.Killed > 0 || a.Casualties.Injured > 0 {
		fmt.Fprintf(&b, "Casualties (best estimates): %d killed, %d injured. ", a.Casualties.Killed, a.Casualties.Injured)
	}
	if a.Regime != "" {
		fmt.Fprintf(&b, "Regime in force: %s. ", a.Regime)
	} else {
		b.WriteString("No regime in force recorded. ")
	}
	fmt.Fprintf(&b, "State: %s; verification: %s.", c.state, words(c.verification))
	if c.sentence != "" {
		b.WriteString(" " + c.sentence)
	}
	for _, v := range c.verifications {
		fmt.Fprintf(&b, " %s, %s: %s.", name(v.Party), words(v.Status), strings.TrimRight(v.Reason, ". "))
	}
	return b.String()
}

func words(v alerting.Verification) string { return strings.ReplaceAll(string(v), "_", " ") }

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func parameters(a *alerting.Alert, c change) []ValuePair {
	ps := []ValuePair{
		{"truceline-alert", a.ID},
		{ZoneGeocode, a.Zone},
		{"truceline-category", string(a.Category)},
		{"truceline-rule", a.Rule},
	}
	if a.Policy != "" {
		ps = append(ps, ValuePair{"truceline-policy", a.Policy})
	}
	if a.Regime != "" {
		ps = append(ps, ValuePair{"truceline-regime", a.Regime})
	}
	ps = append(ps,
		ValuePair{"truceline-state", string(c.state)},
		ValuePair{"truceline-verification", string(c.verification)},
	)
	if c.sentence != "" {
		ps = append(ps, ValuePair{"truceline-verification-summary", c.sentence})
	}
	for _, v := range c.verifications {
		ps = append(ps, ValuePair{"truceline-verification:" + v.Party, string(v.Status) + ": " + v.Reason})
	}
	return append(append(ps,
		ValuePair{"truceline-report-count", strconv.Itoa(a.ReportCount)},
		ValuePair{"truceline-killed", strconv.Itoa(a.Casualties.Killed)},
		ValuePair{"truceline-injured", strconv.Itoa(a.Casualties.Injured)},
	), infoParameters(a, c.at)...)
}

func zoneArea(id string, z alerting.Zone) Area {
	desc := z.Name
	if desc == "" {
		desc = id
	}
	return Area{AreaDesc: desc, Polygon: Polygons(z.Geometry), Geocode: []ValuePair{{ZoneGeocode, id}}}
}

// Polygons turns a GeoJSON geometry ([lon, lat]) into CAP polygons
// ("lat,lon lat,lon ...", closed): one per polygon of a Polygon,
// MultiPolygon or GeometryCollection (a Feature's geometry too), from its
// outer ring. CAP has no holes, and the union of CAP polygons that CAP
// takes as the area would cover a hole anyway, so holes are left out.
// Rings with fewer than three points or coordinates out of range are
// skipped; anything else yields no polygon.
func Polygons(geometry json.RawMessage) []string {
	var out []string
	addPolygons(geometry, &out, 0)
	return out
}

type geoJSON struct {
	Type        string            `json:"type"`
	Coordinates json.RawMessage   `json:"coordinates"`
	Geometries  []json.RawMessage `json:"geometries"`
	Geometry    json.RawMessage   `json:"geometry"`
	Features    []json.RawMessage `json:"features"`
}

func addPolygons(raw json.RawMessage, out *[]string, depth int) {
	var g geoJSON
	if len(raw) == 0 || depth > 8 || json.Unmarshal(raw, &g) != nil {
		return
	}
	switch g.Type {
	case "Polygon":
		var rings [][][]float64
		if json.Unmarshal(g.Coordinates, &rings) == nil && len(rings) > 0 {
			addRing(rings[0], out)
		}
	case "MultiPolygon":
		var polygons [][][][]float64
		if json.Unmarshal(g.Coordinates, &polygons) == nil {
			for _, rings := range polygons {
				if len(rings) > 0 {
					addRing(rings[0], out)
				}
			}
		}
	case "GeometryCollection":
		for _, sub := range g.Geometries {
			addPolygons(sub, out, depth+1)
		}
	case "Feature":
		addPolygons(g.Geometry, out, depth+1)
	case "FeatureCollection":
		for _, f := range g.Features {
			addPolygons(f, out, depth+1)
		}
	}
}

func addRing(ring [][]float64, out *[]string) {
	pts := make([][2]float64, 0, len(ring)+1)
	for _, p := range ring {
		if len(p) < 2 || !(p[0] >= -180 && p[0] <= 180) || !(p[1] >= -90 && p[1] <= 90) {
			return
		}
		pts = append(pts, [2]float64{p[1], p[0]}) // lat, lon
	}
	if len(pts) > 0 && pts[0] != pts[len(pts)-1] {
		pts = append(pts, pts[0])
	}
	if len(pts) < 4 {
		return
	}
	parts := make([]string, len(pts))
	for i, p := range pts {
		parts[i] = coordinate(p[0]) + "," + coordinate(p[1])
	}
	*out = append(*out, strings.Join(parts, " "))
}

func coordinate(v float64) string {
	if v == 0 {
		v = math.Abs(v) // no "-0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
