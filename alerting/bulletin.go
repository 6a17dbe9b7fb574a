package alerting

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// A daily bulletin says, per zone, what the centre registered in a
// reporting day and where each party stands on it, in the neutral wording
// of the co-chairs' bulletins: what was registered, which party confirms
// it and which cannot confirm it, who the reports allege did it, and the
// regimes in force. It states positions side by side and judges nothing
// itself.

// Bulletin is the daily bulletin of some zones.
type Bulletin struct {
	Day   ReportingDay   `json:"day"`
	Zones []ZoneBulletin `json:"zones"`
	// Exercise: every incident it lists is an exercise.
	Exercise bool `json:"exercise,omitempty"`
}

// ZoneBulletin is a zone's part of the bulletin.
type ZoneBulletin struct {
	Zone     string `json:"zone"`
	ZoneName string `json:"zone_name"`
	// Regimes are those in force in the zone at some time of the day.
	Regimes []BulletinRegime `json:"regimes"`
	// Incidents are the alerts whose reports were observed in the day,
	// earliest first; notices (a regime's end) are not incidents.
	Incidents []Incident `json:"incidents"`
	// Parties are where each party concerned stands on the incidents.
	Parties []PartyStanding `json:"parties"`
	// Requests are the requests for information of the zone's alerts
	// still open (or overdue) at the end of the day, by deadline.
	Requests []OpenRequest `json:"requests"`
	// Statement sums the zone's day up in a sentence.
	Statement string `json:"statement"`
}

// OpenRequest is a request for information unanswered at the end of the
// day.
type OpenRequest struct {
	Alert    string    `json:"alert"`
	ID       string    `json:"id"`
	Party    string    `json:"party"`
	Name     string    `json:"name"`
	Question string    `json:"question"`
	AskedAt  time.Time `json:"asked_at"`
	Deadline time.Time `json:"deadline"`
	// State is open, or overdue when its deadline had passed by then.
	State InfoRequestState `json:"state"`
	// AskedFor is the party that asked; empty for the centre.
	AskedFor     string `json:"asked_for,omitempty"`
	AskedForName string `json:"asked_for_name,omitempty"`
	Statement    string `json:"statement"`
}

// openRequests are a's requests asked before end and neither answered nor
// withdrawn before it, as they stood then.
func openRequests(a *Alert, end time.Time, c *Catalog) []OpenRequest {
	var out []OpenRequest
	for _, r := range a.InfoRequests {
		closed := (r.Answer != nil && r.Answer.At.Before(end)) || (r.Withdrawal != nil && r.Withdrawal.At.Before(end))
		if !r.AskedAt.Before(end) || closed {
			continue
		}
		o := OpenRequest{Alert: a.ID, ID: r.ID, Party: r.Party, Name: partyName(c, r.Party), Question: r.Question,
			AskedAt: r.AskedAt, Deadline: r.Deadline, State: InfoRequestOpen, AskedFor: r.AskedFor}
		asker := "The centre"
		if r.AskedFor != "" {
			o.AskedForName = partyName(c, r.AskedFor)
			asker = o.AskedForName
		}
		if r.OverdueAt != nil && r.OverdueAt.Before(end) {
			o.State = InfoRequestOverdue
		}
		o.Statement = fmt.Sprintf("%s asked %s on %s: %q Answer due %s", asker, o.Name,
			r.AskedAt.UTC().Format("2 Jan 15:04 UTC"), r.Question, r.Deadline.UTC().Format("2 Jan 15:04 UTC"))
		if o.State == InfoRequestOverdue {
			o.Statement += "; overdue, unanswered."
		} else {
			o.Statement += "; not answered yet."
		}
		out = append(out, o)
	}
	return out
}

// BulletinRegime is a regime in force during the day.
type BulletinRegime struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Kind     RegimeKind `json:"kind"`
	StartsAt time.Time  `json:"starts_at"`
	// EndsAt is its end with its extensions; absent when it has none.
	EndsAt *time.Time `json:"ends_at,omitempty"`
}

// Incident is one alert as the bulletin tells it.
type Incident struct {
	Alert      string     `json:"alert"`
	Title      string     `json:"title"`
	Category   Category   `json:"category"`
	Severity   Severity   `json:"severity"`
	State      State      `json:"state"`
	Exercise   bool       `json:"exercise,omitempty"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	Reports    int        `json:"reports"`
	Casualties Casualties `json:"casualties"`
	// Regime is the regime in force when it opened, if any.
	Regime string `json:"regime,omitempty"`
	// Alleged are the parties its reports allege did it.
	Alleged []PartyCount `json:"alleged"`
	// Views are the parties' verifications side by side: one per party
	// that must acknowledge or has judged any incident of the zone that
	// day, by party id; a party that has not judged it has status
	// unverified.
	Views []PartyView `json:"views"`
	// Attributions are the parties' judgements of who did it, by alleged
	// party then judging party.
	Attributions []PartyAttribution `json:"attributions"`
	// Statement is the incident in a sentence.
	Statement string `json:"statement"`
}

// PartyAttribution is a party's judgement of an allegation.
type PartyAttribution struct {
	Party       string            `json:"party"`
	Name        string            `json:"name"`
	Alleged     string            `json:"alleged"`
	AllegedName string            `json:"alleged_name"`
	Status      AttributionStatus `json:"status"`
	Reason      string            `json:"reason,omitempty"`
}

// PartyCount is how many reports allege a party did it.
type PartyCount struct {
	Party   string `json:"party"`
	Name    string `json:"name"`
	Reports int    `json:"reports"`
}

// PartyView is a party's verification of an incident.
type PartyView struct {
	Party  string       `json:"party"`
	Name   string       `json:"name"`
	Status Verification `json:"status"`
	Reason string       `json:"reason,omitempty"`
}

// PartyStanding counts a party's views on a zone's incidents of the day,
// and the incidents whose reports allege it.
type PartyStanding struct {
	Party string `json:"party"`
	Name  string `json:"name"`
	// Views counts the incidents by the party's verification of them,
	// by status (unverified: it has not judged).
	Views map[Verification]int `json:"views"`
	// Alleged is how many incidents have reports alleging the party.
	Alleged   int    `json:"alleged"`
	Statement string `json:"statement"`
}

// BuildBulletin writes the bulletin of day over zones from the alerts of
// each zone (alerts[zone.ID], in any order; those not observed in the day
// are left out) and the catalog's parties and regimes.
func BuildBulletin(day ReportingDay, zones []Zone, alerts map[string][]*Alert, c *Catalog) Bulletin {
	b := Bulletin{Day: day, Zones: []ZoneBulletin{}}
	incidents, exercises := 0, 0
	for _, z := range zones {
		zb := ZoneBulletin{Zone: z.ID, ZoneName: z.Name, Regimes: []BulletinRegime{}, Incidents: []Incident{}, Parties: []PartyStanding{},
			Requests: []OpenRequest{}}
		for _, r := range c.Config().Regimes {
			if r.Covers(z.ID) && inForceDuring(&r, day.From, day.To) {
				zb.Regimes = append(zb.Regimes, BulletinRegime{ID: r.ID, Name: nameOr(r.Name, r.ID), Kind: r.Kind, StartsAt: r.StartsAt, EndsAt: r.End()})
			}
		}
		var ofDay []*Alert
		var judges []string
		for _, a := range alerts[z.ID] {
			zb.Requests = append(zb.Requests, openRequests(a, day.To, c)...)
			if a.Rule == RegimeEndRule || !a.FirstSeen.Before(day.To) || a.LastSeen.Before(day.From) {
				continue
			}
			ofDay = append(ofDay, a)
			judges = append(judges, a.RequireAckFrom...)
			for _, v := range a.Verifications {
				judges = append(judges, v.Party)
			}
		}
		slices.Sort(judges)
		judges = slices.Compact(judges)
		for _, a := range ofDay {
			zb.Incidents = append(zb.Incidents, incident(a, judges, c))
		}
		slices.SortFunc(zb.Incidents, func(x, y Incident) int {
			return cmpTimeThen(x.FirstSeen, y.FirstSeen, x.Alert, y.Alert)
		})
		slices.SortFunc(zb.Requests, func(x, y OpenRequest) int {
			return cmpTimeThen(x.Deadline, y.Deadline, x.Alert+" "+x.ID, y.Alert+" "+y.ID)
		})
		zb.Parties = standings(zb.Incidents, c)
		zb.Statement = zoneStatement(zb)
		for _, in := range zb.Incidents {
			incidents++
			if in.Exercise {
				exercises++
			}
		}
		b.Zones = append(b.Zones, zb)
	}
	b.Exercise = incidents > 0 && exercises == incidents
	return b
}

func inForceDuring(r *Regime, from, to time.Time) bool {
	end := r.End()
	return r.StartsAt.Before(to) && (end == nil || end.After(from))
}

func cmpTimeThen(a, b time.Time, x, y string) int {
	if c := a.Compare(b); c != 0 {
		return c
	}
	return strings.Compare(x, y)
}

func nameOr(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

func partyName(c *Catalog, id string) string {
	if p, ok := c.Party(id); ok {
		return nameOr(p.Name, id)
	}
	return id
}

// incident tells a, with the views of judges side by side.
func incident(a *Alert, judges []string, c *Catalog) Incident {
	in := Incident{Alert: a.ID, Title: a.Title, Category: a.Category, Severity: a.Severity, State: a.State, Exercise: a.Exercise,
		FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, Reports: a.ReportCount, Casualties: a.Casualties, Regime: a.Regime,
		Alleged: []PartyCount{}, Views: []PartyView{}, Attributions: []PartyAttribution{}}
	for _, j := range a.Attributions {
		in.Attributions = append(in.Attributions, PartyAttribution{Party: j.Party, Name: partyName(c, j.Party),
			Alleged: j.Alleged, AllegedName: partyName(c, j.Alleged), Status: j.Status, Reason: j.Reason})
	}
	slices.SortFunc(in.Attributions, func(x, y PartyAttribution) int {
		return cmp.Or(strings.Compare(x.Alleged, y.Alleged), strings.Compare(x.Party, y.Party))
	})
	for _, al := range a.Alleged {
		in.Alleged = append(in.Alleged, PartyCount{Party: al.Party, Name: partyName(c, al.Party), Reports: al.Reports})
	}
	for _, p := range judges {
		view := PartyView{Party: p, Name: partyName(c, p), Status: Unverified}
		for _, v := range a.Verifications {
			if v.Party == p {
				view.Status, view.Reason = v.Status, v.Reason
			}
		}
		in.Views = append(in.Views, view)
	}
	in.Statement = incidentStatement(in)
	return in
}

// viewPhrase is a party's view in the bulletins' words.
func viewPhrase(v PartyView) string {
	switch v.Status {
	case Confirmed:
		return v.Name + " confirms it"
	case CannotConfirm:
		return v.Name + " cannot confirm it"
	case Disputed:
		return v.Name + " disputes it"
	case NotApplicable:
		return v.Name + " holds that the ceasefire does not apply"
	default:
		return v.Name + " has not given its view"
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// incidentStatement: "Shelling, 3 reports, 1 killed; the reports allege
// Co-chair B (2). Co-chair A confirms it; Co-chair B has not given its
// view."
func incidentStatement(in Incident) string {
	var b strings.Builder
	b.WriteString(in.Category.Label())
	b.WriteString(", " + plural(in.Reports, "report", "reports"))
	if k := in.Casualties.Killed; k > 0 {
		b.WriteString(fmt.Sprintf(", %d killed", k))
	}
	if i := in.Casualties.Injured; i > 0 {
		b.WriteString(fmt.Sprintf(", %d injured", i))
	}
	if len(in.Alleged) > 0 {
		var names []string
		for _, a := range in.Alleged {
			names = append(names, fmt.Sprintf("%s (%d)", a.Name, a.Reports))
		}
		b.WriteString("; the reports allege " + strings.Join(names, " and "))
	}
	b.WriteString(".")
	if len(in.Views) > 0 {
		var views []string
		for _, v := range in.Views {
			views = append(views, viewPhrase(v))
		}
		b.WriteString(" " + strings.Join(views, "; ") + ".")
	}
	for i, j := range in.Attributions {
		if i == 0 || in.Attributions[i-1].Alleged != j.Alleged {
			if i > 0 {
				b.WriteString(".")
			}
			b.WriteString(" On the allegation against " + j.AllegedName + ", ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(j.Name + " finds it " + strings.ReplaceAll(string(j.Status), "_", " "))
	}
	if len(in.Attributions) > 0 {
		b.WriteString(".")
	}
	if in.Exercise {
		b.WriteString(" EXERCISE.")
	}
	return b.String()
}

// standings count each party's views and allegations over incidents.
func standings(incidents []Incident, c *Catalog) []PartyStanding {
	by := map[string]*PartyStanding{}
	get := func(party, name string) *PartyStanding {
		if by[party] == nil {
			by[party] = &PartyStanding{Party: party, Name: name, Views: map[Verification]int{}}
		}
		return by[party]
	}
	for _, in := range incidents {
		for _, v := range in.Views {
			get(v.Party, v.Name).Views[v.Status]++
		}
		for _, a := range in.Alleged {
			get(a.Party, a.Name).Alleged++
		}
	}
	out := []PartyStanding{}
	for _, p := range c.Parties() {
		if s := by[p.ID]; s != nil {
			s.Statement = standingStatement(s)
			out = append(out, *s)
			delete(by, p.ID)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(by)) { // parties no longer configured
		s := by[id]
		s.Statement = standingStatement(s)
		out = append(out, *s)
	}
	return out
}

// standingStatement: "Co-chair A confirms 2 incidents, disputes 1 and has
// not given its view on 1; the reports of 1 incident allege it."
func standingStatement(s *PartyStanding) string {
	var parts []string
	for _, st := range []struct {
		status Verification
		verb   string
	}{{Confirmed, "confirms"}, {CannotConfirm, "cannot confirm"}, {Disputed, "disputes"}, {NotApplicable, "holds that the ceasefire does not apply to"}, {Unverified, "has not given its view on"}} {
		if n := s.Views[st.status]; n > 0 {
			parts = append(parts, st.verb+" "+plural(n, "incident", "incidents"))
		}
	}
	alleged := "the reports of " + plural(s.Alleged, "incident allege", "incidents allege")
	switch {
	case len(parts) == 0 && s.Alleged > 0:
		return strings.ToUpper(alleged[:1]) + alleged[1:] + " " + s.Name + "."
	case len(parts) == 0:
		return s.Name + "."
	}
	out := s.Name + " " + parts[0]
	if len(parts) > 1 {
		out = s.Name + " " + strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	if s.Alleged > 0 {
		out += "; " + alleged + " it"
	}
	return out + "."
}

// zoneStatement: "3 incidents registered; 1 request for information
// unanswered; in force: Regime of silence."
func zoneStatement(z ZoneBulletin) string {
	s := "No incidents registered"
	if n := len(z.Incidents); n > 0 {
		s = plural(n, "incident", "incidents") + " registered"
	}
	if n := len(z.Requests); n > 0 {
		s += "; " + plural(n, "request for information", "requests for information") + " unanswered"
	}
	if len(z.Regimes) == 0 {
		return s + "; no regime in force."
	}
	var names []string
	for _, r := range z.Regimes {
		names = append(names, r.Name)
	}
	return s + "; in force: " + strings.Join(names, ", ") + "."
}
