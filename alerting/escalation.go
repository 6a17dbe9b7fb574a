package alerting

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Escalation is where an alert stands in its policy.
type Escalation struct {
	Step   int `json:"step"`   // the next step to fire, in the current pass
	Repeat int `json:"repeat"` // the current pass over the steps, 0 first
	Level  int `json:"level"`  // steps fired so far, over every pass
	// PassStart is when the current pass began; each step's After counts
	// from it.
	PassStart time.Time `json:"pass_start"`
	// NextAt is when the next step is due; nil once escalation stopped.
	NextAt *time.Time `json:"next_at,omitempty"`
	// Stopped says why escalation ended: acknowledged, resolved, or
	// exhausted (every step of every pass fired).
	Stopped string `json:"stopped,omitempty"`
}

// StoppedExhausted is Escalation.Stopped once every step of every pass
// fired.
const StoppedExhausted = "exhausted"

// Notification is one escalation step's message to one contact method (or
// to the board). Key is its idempotency key, (alert, step, repeat, contact
// method): a notification is delivered at most once when delivery
// succeeds, and receivers dedupe on the key.
type Notification struct {
	Key    string `json:"key"`
	Step   int    `json:"step"`
	Repeat int    `json:"repeat"`
	// Target is what the step named: board, a contact or a schedule.
	Target string `json:"target"`
	// InfoRequest, when set, is the overdue request for information whose
	// on_info_request_overdue step this is (Step counts those steps).
	InfoRequest string `json:"info_request,omitempty"`
	// Contact and Method are who is notified, and how.
	Contact string     `json:"contact,omitempty"`
	Method  string     `json:"method,omitempty"`
	Kind    MethodKind `json:"kind"`
	// Fallback says the step's schedule had nobody on call, so the
	// policy's fallback contact is notified instead.
	Fallback bool      `json:"fallback,omitempty"`
	Urgent   bool      `json:"urgent,omitempty"` // extreme severity: the priority lane
	At       time.Time `json:"at"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts,omitempty"`
	// Error is the last failure, for failed and gave_up.
	Error       string     `json:"error,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`
	SentAt      *time.Time `json:"sent_at,omitempty"`
}

// Notification states. A board notification is shown at once; the others
// are pending until sent, failed while they are retried, and gave_up when
// retrying stopped. A pending notification of an alert that was
// acknowledged or resolved meanwhile is cancelled.
const (
	NotificationShown     = "shown"
	NotificationPending   = "pending"
	NotificationSent      = "sent"
	NotificationFailed    = "failed"
	NotificationGaveUp    = "gave_up"
	NotificationCancelled = "cancelled"
)

// Final reports whether the notification's delivery is over.
func (n *Notification) Final() bool {
	switch n.State {
	case NotificationPending, NotificationFailed:
		return false
	}
	return true
}

// Directory finds the contacts and schedules escalation steps name; a
// Catalog is one.
type Directory interface {
	Contact(id string) (Contact, bool)
	Schedule(id string) (*Schedule, bool)
}

// Verifying is one party's judgement of an alert's facts.
type Verifying struct {
	Party  string       `json:"party"`
	Status Verification `json:"status"`
	Reason string       `json:"reason,omitempty"`
	By     string       `json:"by"`
	At     time.Time    `json:"at"`
}

// StartEscalation begins the policy's first pass at now and fires the steps
// already due (a step 0 with no delay notifies at once).
func (a *Alert) StartEscalation(p Policy, dir Directory, now time.Time) {
	if len(p.Steps) == 0 {
		return
	}
	a.RequireAckFrom = p.RequireAckFrom
	a.Escalation = &Escalation{PassStart: now}
	a.Escalation.schedule(p)
	a.fireDue(p, dir, now)
}

// Escalate fires the steps of p that are due at now, on a copy of the
// alert; ok is false when none is due (escalation stopped, snoozed, or the
// next step lies ahead).
func (a *Alert) Escalate(p Policy, dir Directory, now time.Time) (_ *Alert, ok bool) {
	if !a.escalationDue(p, now) {
		return a, false
	}
	b := a.clone()
	b.fireDue(p, dir, now)
	b.UpdatedAt = now
	b.Version++
	return b, true
}

// escalationDue reports whether a step of p is due at now.
func (a *Alert) escalationDue(p Policy, now time.Time) bool {
	e := a.Escalation
	return e != nil && e.NextAt != nil && !now.Before(*e.NextAt) && a.Active() && len(p.Steps) > 0
}

// fireDue fires every step due at now, in order.
func (a *Alert) fireDue(p Policy, dir Directory, now time.Time) {
	e := a.Escalation
	for e.NextAt != nil && !now.Before(*e.NextAt) {
		if a.SnoozedUntil != nil && now.Before(*a.SnoozedUntil) {
			until := *a.SnoozedUntil
			e.NextAt = &until
			return
		}
		step := p.Steps[min(e.Step, len(p.Steps)-1)]
		who := a.notify(step, p, dir, now)
		e.Level++
		note := fmt.Sprintf("step %d notifies %s", e.Step+1, strings.Join(who, ", "))
		if e.Repeat > 0 {
			note += fmt.Sprintf(" (repeat %d of %d)", e.Repeat, p.Repeat)
		}
		a.record(now, Entry{By: engineActor, Action: EventEscalated, Note: note})
		e.Step++
		if e.Step == len(p.Steps) {
			if e.Repeat >= p.Repeat {
				e.NextAt, e.Stopped = nil, StoppedExhausted
				return
			}
			// The next pass's first step comes RepeatAfter after this
			// pass's last step was due.
			e.Repeat++
			e.Step = 0
			e.PassStart = e.NextAt.Add(p.repeatAfter() - time.Duration(p.Steps[0].After))
		}
		e.schedule(p)
	}
}

// notify adds the notifications of one step, a contact method each, and
// says whom they reach for the timeline. A schedule with nobody on call
// falls back to the policy's fallback contact; when even that is missing
// the notification gives up at once, in plain sight on the board.
func (a *Alert) notify(step Step, p Policy, dir Directory, now time.Time) []string {
	e := a.Escalation
	return a.notifyKeyed(fmt.Sprintf("%s:%d:%d:", a.ID, e.Step, e.Repeat), e.Step, e.Repeat, "", step, p, dir, now)
}

// notifyKeyed is notify with the notifications' key prefix, step and
// repeat given; infoRequest names the overdue request for information
// whose step it is, if any. Such a step pages the parties that
// acknowledged the alert too: an overdue answer is another matter.
func (a *Alert) notifyKeyed(prefix string, stepIndex, repeat int, infoRequest string, step Step, p Policy, dir Directory, now time.Time) []string {
	seen := map[string]int{} // key → index in a.Notifications
	add := func(n Notification) {
		if i, ok := seen[n.Key]; ok {
			// Two targets reached the same method: notify it once, but
			// never hide that a schedule had nobody on call.
			if n.Fallback {
				a.Notifications[i].Fallback, a.Notifications[i].Target = true, n.Target
			}
			return
		}
		seen[n.Key] = len(a.Notifications)
		n.Step, n.Repeat, n.At, n.InfoRequest = stepIndex, repeat, now, infoRequest
		a.Notifications = append(a.Notifications, n)
	}
	giveUp := func(target, why string) {
		add(Notification{Key: prefix + target, Target: target, State: NotificationGaveUp, Error: why})
	}
	var spared []string  // contacts of parties that acknowledged already
	var outside []string // contacts that do not cover the alert's zone
	contact := func(target string, c Contact, fallback bool) {
		if !c.Covers(a.Zone) {
			// Paging follows the board: what a contact's people may not
			// see is not sent to them.
			if !slices.Contains(outside, c.ID) {
				outside = append(outside, c.ID)
			}
			return
		}
		if infoRequest == "" && c.Party != "" && a.AckedBy(c.Party) {
			// Their party has seen it: paging them again would only
			// wake them, and say the board is wrong.
			if !slices.Contains(spared, c.ID) {
				spared = append(spared, c.ID)
			}
			return
		}
		for _, m := range c.Methods {
			add(Notification{Key: prefix + c.ID + "/" + m.ID, Target: target, Contact: c.ID, Method: m.ID, Kind: m.Type,
				Fallback: fallback, Urgent: a.Severity == SeverityExtreme, State: NotificationPending})
		}
	}
	var who []string
	for _, target := range step.Notify {
		if target == BoardTarget {
			add(Notification{Key: prefix + BoardTarget, Target: BoardTarget, Kind: MethodBoard, State: NotificationShown})
			who = append(who, BoardTarget)
			continue
		}
		if c, ok := dir.Contact(target); ok {
			contact(target, c, false)
			who = append(who, target)
			continue
		}
		s, ok := dir.Schedule(target)
		if !ok {
			giveUp(target, fmt.Sprintf("%q is neither a contact nor a schedule any more", target))
			who = append(who, target+" (unknown)")
			continue
		}
		oc := s.OnCall(now)
		if len(oc.Contacts) > 0 {
			for _, id := range oc.Contacts {
				if c, ok := dir.Contact(id); ok {
					contact(target, c, false)
				} else {
					giveUp(target+"/"+id, fmt.Sprintf("on call in %s, but contact %q is not configured", target, id))
				}
			}
			who = append(who, fmt.Sprintf("%s (on call: %s)", target, strings.Join(oc.Contacts, ", ")))
			continue
		}
		if c, ok := dir.Contact(p.Fallback); ok {
			contact(target, c, true)
			who = append(who, fmt.Sprintf("%s: NOBODY ON CALL, fell back to %s", target, c.ID))
			continue
		}
		giveUp(target, fmt.Sprintf("nobody is on call in %s and policy %s has no fallback contact", target, p.ID))
		who = append(who, target+": NOBODY ON CALL and no fallback")
	}
	if len(spared) > 0 {
		who = append(who, "not "+strings.Join(spared, ", ")+" (their party acknowledged)")
	}
	if len(outside) > 0 {
		who = append(who, "not "+strings.Join(outside, ", ")+" (not covering "+a.Zone+")")
	}
	return who
}

func (e *Escalation) schedule(p Policy) {
	next := e.PassStart.Add(time.Duration(p.Steps[e.Step].After))
	e.NextAt = &next
}

func (a *Alert) stopEscalation(why string) {
	if a.Escalation != nil && a.Escalation.NextAt != nil {
		a.Escalation.NextAt, a.Escalation.Stopped = nil, why
	}
}

// restartEscalation starts a reopened alert's policy over.
func (a *Alert) restartEscalation(p Policy, dir Directory, now time.Time) {
	a.Acks = []Ack{}
	a.SnoozedUntil = nil
	a.StartEscalation(p, dir, now)
}

// Snooze holds escalation until until: no step fires before then.
func (a *Alert) Snooze(actor Actor, until time.Time, note string, now time.Time) (*Alert, error) {
	if !a.Active() {
		return nil, Errorf(ECONFLICT, "alert %s is resolved; there is nothing to snooze", a.ID)
	}
	if !until.After(now) {
		return nil, &Error{Code: EINVALID, Message: "snooze must end in the future", Fields: []FieldProblem{{Field: "until", Problem: "is not in the future"}}}
	}
	if until.After(now.Add(7 * 24 * time.Hour)) {
		return nil, &Error{Code: EINVALID, Message: "snooze is limited to 7 days", Fields: []FieldProblem{{Field: "until", Problem: "is more than 168h ahead"}}}
	}
	if others := a.otherParties(actor.Party); actor.Party != "" && len(others) > 0 {
		// A snooze holds the escalation towards every party.
		return nil, Errorf(EFORBIDDEN, "a snooze would hold the escalation towards %s too: on an alert that needs %s's "+
			"acknowledgement only a duty officer or admin acting for no party may snooze it", strings.Join(others, ", "), strings.Join(others, " and "))
	}
	b := a.clone()
	b.SnoozedUntil = &until
	if e := b.Escalation; e != nil && e.NextAt != nil && e.NextAt.Before(until) {
		e.NextAt = &until
	}
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: strings.TrimSpace("snoozed until " + until.UTC().Format(time.RFC3339) + ". " + note)})
	return b, nil
}

// otherParties are the parties of RequireAckFrom other than party.
func (a *Alert) otherParties(party string) []string {
	var out []string
	for _, p := range a.RequireAckFrom {
		if p != party {
			out = append(out, p)
		}
	}
	return out
}

// Verify records a party's judgement: confirmed, cannot_confirm, disputed
// or not_applicable, with its reason, replacing the party's earlier one.
// The alert's verification sums them up (Summarise), and its
// verification_summary says what each party said, naming parties by id.
func (a *Alert) Verify(actor Actor, status Verification, reason string, now time.Time) (*Alert, error) {
	return a.verify(actor, status, reason, nil, now)
}

func (a *Alert) verify(actor Actor, status Verification, reason string, name func(string) string, now time.Time) (*Alert, error) {
	var p problems
	if !slices.Contains(PartyVerifications, status) {
		p.add("status", "must be confirmed, cannot_confirm, disputed or not_applicable")
	}
	if actor.Party == "" {
		p.add("party", "is required: verification is per party")
	}
	if strings.TrimSpace(reason) == "" {
		p.add("reason", "is required")
	}
	if err := p.err("verification"); err != nil {
		return nil, err
	}
	b := a.clone()
	v := Verifying{Party: actor.Party, Status: status, Reason: reason, By: actor.Name, At: now}
	replaced := false
	for i := range b.Verifications {
		if b.Verifications[i].Party == actor.Party {
			b.Verifications[i], replaced = v, true
		}
	}
	if !replaced {
		b.Verifications = append(b.Verifications, v)
	}
	b.summariseVerification(name)
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: fmt.Sprintf("%s: %s (%s)", actor.Party, status, reason)})
	return b, nil
}

// Comment adds a note to the timeline.
func (a *Alert) Comment(actor Actor, text string, now time.Time) (*Alert, error) {
	if strings.TrimSpace(text) == "" {
		return nil, &Error{Code: EINVALID, Message: "a comment needs text", Fields: []FieldProblem{{Field: "note", Problem: "is required"}}}
	}
	b := a.clone()
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: "comment: " + text})
	return b, nil
}

// RegimeEndRule names the built-in rule of the informational alerts that
// announce a regime's end.
const RegimeEndRule = "regime-end"

// RegimeEndKey is the group of the alert announcing regime's end in zone,
// so that it is raised once whichever replica notices first.
func RegimeEndKey(r *Regime, zone string, end time.Time) string {
	return fmt.Sprintf("%s:%s:%s:%d", RegimeEndRule, r.ID, zone, end.Unix())
}

// RegimeEndingAlert is the informational alert that a regime over zone ends
// at end.
func RegimeEndingAlert(id string, r *Regime, zone Zone, end, now time.Time) *Alert {
	name := r.Name
	if name == "" {
		name = r.ID
	}
	// The title says when, not how long from now: it is read for hours, and
	// the board counts down to the end the group key names.
	a := &Alert{
		ID: id, Zone: zone.ID, Category: CategoryOther, Rule: RegimeEndRule, RuleName: "Regime ending",
		Title:    fmt.Sprintf("%s ends at %s UTC", name, end.UTC().Format("2 Jan 15:04")),
		GroupKey: RegimeEndKey(r, zone.ID, end), Regime: r.ID, Severity: SeverityMinor, State: StateOpen,
		Verification: Unverified, FirstSeen: now, LastSeen: now, OpenedAt: now, UpdatedAt: now,
		Acks: []Ack{}, ReportIDs: []string{}, Version: 1,
	}
	a.Timeline = []Entry{{At: now, By: engineActor, Action: EventOpened,
		Note: fmt.Sprintf("regime %s over %s ends at %s; reports after it will be judged outside this regime", r.ID, zone.Name, end.UTC().Format(time.RFC3339))}}
	return a
}
