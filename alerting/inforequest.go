package alerting

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The co-chairs' procedure for a reported violation starts by requesting
// information from the suspected party, with a deadline. An alert carries
// those requests (InfoRequests); each is asked, then answered or withdrawn,
// and goes overdue, once, when its deadline passes unanswered. The
// escalator's timers drive the deadline (Alert.TimerAt), and the policy's
// on_info_request_overdue steps escalate an overdue request.

// InfoRequestState is where a request for information stands.
type InfoRequestState string

// Request states: open → answered | withdrawn, or open → overdue (the
// deadline passed unanswered) → answered (late) | withdrawn. Answered and
// withdrawn are final.
const (
	InfoRequestOpen      InfoRequestState = "open"
	InfoRequestOverdue   InfoRequestState = "overdue"
	InfoRequestAnswered  InfoRequestState = "answered"
	InfoRequestWithdrawn InfoRequestState = "withdrawn"
)

// Bounds of requests for information, so that an alert and every change
// frame stay small.
const (
	MaxInfoRequests    = 20                  // per alert
	MaxQuestionBytes   = 2000                // a question
	MaxAnswerBytes     = 8000                // an answer's text
	MaxAttachments     = 10                  // references an answer carries
	MaxAttachmentBytes = 2048                // one reference
	MaxInfoDeadline    = 30 * 24 * time.Hour // from the moment of asking
)

// InfoRequest is one request for information from a party about an alert.
type InfoRequest struct {
	// ID is "ir-1", "ir-2"… in the order the alert's requests were asked.
	ID string `json:"id"`
	// Party is the party asked: the one that owes the answer.
	Party    string    `json:"party"`
	Question string    `json:"question"`
	Deadline time.Time `json:"deadline"`
	// AskedBy is who asked (as on the timeline), for the party AskedFor;
	// AskedFor is empty when a duty officer or admin asked for no party
	// (the centre).
	AskedBy  string           `json:"asked_by"`
	AskedFor string           `json:"asked_for,omitempty"`
	AskedAt  time.Time        `json:"asked_at"`
	State    InfoRequestState `json:"state"`
	// OverdueAt is when the request was found overdue (at or just after
	// its deadline); it stays set once answered late or withdrawn.
	OverdueAt *time.Time `json:"overdue_at,omitempty"`
	// Steps counts the policy's on_info_request_overdue steps fired for
	// it; NextAt is when the escalator must next look at it (the
	// deadline while open, then the next overdue step), nil when never.
	Steps  int        `json:"steps,omitempty"`
	NextAt *time.Time `json:"next_at,omitempty"`
	// Answer is set once answered; Withdrawal once withdrawn.
	Answer     *InfoAnswer     `json:"answer,omitempty"`
	Withdrawal *InfoWithdrawal `json:"withdrawal,omitempty"`
}

// Final reports whether the request is answered or withdrawn.
func (r *InfoRequest) Final() bool {
	return r.State == InfoRequestAnswered || r.State == InfoRequestWithdrawn
}

// InfoAnswer is a party's answer to a request for information.
type InfoAnswer struct {
	Text string `json:"text"`
	// Attachments reference documents: http(s) URLs or "doc:<reference>".
	Attachments []string `json:"attachments,omitempty"`
	By          string   `json:"by"`
	// Party is the party answering (the one asked). OnBehalf is true when
	// a duty officer or admin acting for no party recorded the party's
	// answer (given by the hotline, say): Party is then the party asked,
	// By the one who recorded it.
	Party    string    `json:"party"`
	OnBehalf bool      `json:"on_behalf,omitempty"`
	At       time.Time `json:"at"`
	// Late is true when the answer came after the deadline.
	Late bool `json:"late,omitempty"`
}

// InfoWithdrawal is why and by whom a request was withdrawn.
type InfoWithdrawal struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	Party  string    `json:"party,omitempty"`
	At     time.Time `json:"at"`
}

// InfoQuestion is what asking for information needs: the party asked, the
// question and a deadline, given as a time (Deadline) or as a duration from
// now (Within), not both.
type InfoQuestion struct {
	Party    string
	Question string
	Deadline *time.Time
	Within   Duration
}

// Parties finds parties by id; a Catalog is one.
type Parties interface {
	Party(id string) (Party, bool)
}

// InfoRequest returns the alert's request with id, or nil.
func (a *Alert) InfoRequest(id string) *InfoRequest {
	for i := range a.InfoRequests {
		if a.InfoRequests[i].ID == id {
			return &a.InfoRequests[i]
		}
	}
	return nil
}

// AwaitingInfoFrom reports whether party owes an answer to one of the
// alert's requests (open or overdue).
func (a *Alert) AwaitingInfoFrom(party string) bool {
	return slices.ContainsFunc(a.InfoRequests, func(r InfoRequest) bool { return r.Party == party && !r.Final() })
}

// AskInfo adds a request for information from q.Party, on a copy. The
// actor asks for its party, or for no party (the centre); a party does not
// ask itself. Every problem of q is named.
func (a *Alert) AskInfo(actor Actor, q InfoQuestion, parties Parties, now time.Time) (*Alert, error) {
	var p problems
	switch pt, ok := parties.Party(q.Party); {
	case q.Party == "":
		p.add("party", "is required: the party asked for information")
	case !ok:
		p.add("party", "unknown party %q", q.Party)
	case pt.Status == PartyExcluded:
		p.add("party", "%q is excluded from the ceasefire: it is not asked for information", q.Party)
	case q.Party == actor.Party:
		p.add("party", "is the asking party itself")
	}
	checkFreeText(&p, "question", q.Question, MaxQuestionBytes)
	var deadline time.Time
	switch {
	case q.Deadline != nil && q.Within != 0:
		p.add("deadline", "give deadline or within, not both")
	case q.Deadline != nil:
		deadline = q.Deadline.UTC()
		if !deadline.After(now) {
			p.add("deadline", "is not in the future")
		} else if deadline.After(now.Add(MaxInfoDeadline)) {
			p.add("deadline", "is more than %s ahead", MaxInfoDeadline)
		}
	case q.Within < 0:
		p.add("within", "must be positive")
	case q.Within == 0:
		p.add("deadline", "is required: give deadline (RFC 3339) or within (like 24h)")
	default:
		deadline = now.Add(time.Duration(q.Within)).UTC()
		if time.Duration(q.Within) > MaxInfoDeadline {
			p.add("within", "is more than %s", MaxInfoDeadline)
		}
	}
	if err := p.err("request for information"); err != nil {
		return nil, err
	}
	if !a.Active() {
		return nil, Errorf(ECONFLICT, "alert %s is resolved; no information is requested on it", a.ID)
	}
	if len(a.InfoRequests) >= MaxInfoRequests {
		return nil, Errorf(ECONFLICT, "alert %s has %d requests for information already, the most it may have", a.ID, MaxInfoRequests)
	}
	b := a.clone()
	next := deadline
	r := InfoRequest{ID: fmt.Sprintf("ir-%d", len(a.InfoRequests)+1), Party: q.Party, Question: q.Question, Deadline: deadline,
		AskedBy: actor.Name, AskedFor: actor.Party, AskedAt: now, State: InfoRequestOpen, NextAt: &next}
	b.InfoRequests = append(b.InfoRequests, r)
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: fmt.Sprintf("information requested (%s) from %s%s by %s UTC: %s",
		r.ID, r.Party, forParty(actor.Party), deadline.Format("2 Jan 15:04"), clip(q.Question, 200))})
	return b, nil
}

// AnswerInfo records the answer to request id, on a copy. Only the party
// asked answers, through its people, or a duty officer or admin acting for
// no party records the answer on its behalf. An overdue request can still
// be answered (late); an answered or withdrawn one cannot.
func (a *Alert) AnswerInfo(actor Actor, id, text string, attachments []string, now time.Time) (*Alert, error) {
	r := a.InfoRequest(id)
	if r == nil {
		return nil, Errorf(ENOTFOUND, "alert %s has no request for information %q", a.ID, id)
	}
	if actor.Party != "" && actor.Party != r.Party {
		return nil, Errorf(EFORBIDDEN, "request %s asks %s; %s acts for %s, which cannot answer for it", id, r.Party, actor.Name, actor.Party)
	}
	var p problems
	checkFreeText(&p, "text", text, MaxAnswerBytes)
	checkAttachments(&p, attachments)
	if err := p.err("answer"); err != nil {
		return nil, err
	}
	if r.Final() {
		return nil, Errorf(ECONFLICT, "request %s is %s already; it cannot be answered", id, r.State)
	}
	b := a.clone()
	r = b.InfoRequest(id)
	ans := &InfoAnswer{Text: text, Attachments: slices.Clone(attachments), By: actor.Name, Party: r.Party, OnBehalf: actor.Party == "", At: now,
		Late: now.After(r.Deadline)}
	r.State, r.Answer, r.NextAt = InfoRequestAnswered, ans, nil
	note := fmt.Sprintf("%s answered request %s", r.Party, id)
	if ans.OnBehalf {
		note = fmt.Sprintf("answer of %s to request %s recorded on its behalf", r.Party, id)
	}
	if ans.Late {
		note += fmt.Sprintf(" LATE, %s after the deadline", now.Sub(r.Deadline).Round(time.Second))
	}
	if len(attachments) > 0 {
		note += fmt.Sprintf(" (%d attachment(s))", len(attachments))
	}
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: note + ": " + clip(text, 200)})
	return b, nil
}

// WithdrawInfo withdraws request id, on a copy, with a reason. Only the
// party that asked, through its people, or a duty officer or admin acting
// for no party withdraws a request: nobody drops what another party asked.
func (a *Alert) WithdrawInfo(actor Actor, id, reason string, now time.Time) (*Alert, error) {
	r := a.InfoRequest(id)
	if r == nil {
		return nil, Errorf(ENOTFOUND, "alert %s has no request for information %q", a.ID, id)
	}
	if actor.Party != "" && actor.Party != r.AskedFor {
		asker := "the centre (a duty officer or admin acting for no party)"
		if r.AskedFor != "" {
			asker = r.AskedFor
		}
		return nil, Errorf(EFORBIDDEN, "request %s was asked by %s; only it, or a duty officer or admin acting for no party, may withdraw it", id, asker)
	}
	var p problems
	checkFreeText(&p, "reason", reason, 2048)
	if err := p.err("withdrawal"); err != nil {
		return nil, err
	}
	if r.Final() {
		return nil, Errorf(ECONFLICT, "request %s is %s already; it cannot be withdrawn", id, r.State)
	}
	b := a.clone()
	r = b.InfoRequest(id)
	r.State, r.NextAt = InfoRequestWithdrawn, nil
	r.Withdrawal = &InfoWithdrawal{Reason: reason, By: actor.Name, Party: actor.Party, At: now}
	b.touch(now, Entry{By: actor.Name, Action: EventUpdated, Note: fmt.Sprintf("request %s to %s withdrawn%s: %s", id, r.Party, forParty(actor.Party), clip(reason, 200))})
	return b, nil
}

// infoRequestsDue marks the requests whose deadline passed at now overdue,
// each once, and fires the policy's on_info_request_overdue steps that are
// due, in place; it reports whether anything changed and whether a step
// notified.
func (a *Alert) infoRequestsDue(p Policy, dir Directory, now time.Time) (changed, notified bool) {
	for i := range a.InfoRequests {
		r := &a.InfoRequests[i]
		if r.NextAt == nil || now.Before(*r.NextAt) {
			continue
		}
		changed = true
		if r.Final() {
			r.NextAt = nil
			continue
		}
		if r.State == InfoRequestOpen {
			r.State = InfoRequestOverdue
			at := now
			r.OverdueAt = &at
			a.record(now, Entry{By: engineActor, Action: EventUpdated, Note: fmt.Sprintf("request %s to %s is OVERDUE: no answer by its deadline %s UTC: %s",
				r.ID, r.Party, r.Deadline.UTC().Format("2 Jan 15:04"), clip(r.Question, 200))})
		}
		steps := p.OnInfoRequestOverdue
		for r.Steps < len(steps) && !now.Before(r.Deadline.Add(time.Duration(steps[r.Steps].After))) {
			who := a.notifyKeyed(fmt.Sprintf("%s:%s:overdue:%d:", a.ID, r.ID, r.Steps), r.Steps, 0, r.ID, steps[r.Steps], p, dir, now)
			// Updated, not escalated: the alert's own escalation (and
			// whether it went unanswered) is another matter.
			a.record(now, Entry{By: engineActor, Action: EventUpdated, Note: fmt.Sprintf("request %s overdue: step %d notifies %s", r.ID, r.Steps+1, strings.Join(who, ", "))})
			r.Steps++
			notified = true
		}
		r.NextAt = nil
		if r.Steps < len(steps) {
			next := r.Deadline.Add(time.Duration(steps[r.Steps].After))
			r.NextAt = &next
		}
	}
	return changed, notified
}

// infoNextAt is when the earliest request needs the escalator, or nil.
func (a *Alert) infoNextAt() *time.Time {
	var at *time.Time
	for i := range a.InfoRequests {
		at = earliest(at, a.InfoRequests[i].NextAt)
	}
	return at
}

// TimerAt is when the escalator must next look at the alert: its next
// escalation step, while it is active, or a request's deadline or overdue
// step, whatever the alert's state; nil when never.
func (a *Alert) TimerAt() *time.Time {
	at := a.infoNextAt()
	if a.Active() && a.Escalation != nil {
		at = earliest(at, a.Escalation.NextAt)
	}
	return at
}

// Fire fires on a copy whatever is due at now: the steps of the alert's
// policy p (when it has one: hasPolicy) and the deadlines of its requests
// for information. ok is false when nothing is due; event is escalated when
// a step fired, updated when only a request went overdue.
func (a *Alert) Fire(p Policy, hasPolicy bool, dir Directory, now time.Time) (_ *Alert, event Event, ok bool) {
	escalate := hasPolicy && a.escalationDue(p, now)
	if n := a.infoNextAt(); !escalate && (n == nil || now.Before(*n)) {
		return a, "", false
	}
	b := a.clone()
	if escalate {
		b.fireDue(p, dir, now)
	}
	if !hasPolicy {
		p = Policy{}
	}
	_, notified := b.infoRequestsDue(p, dir, now)
	b.UpdatedAt = now
	b.Version++
	if escalate || notified {
		return b, EventEscalated, true
	}
	return b, EventUpdated, true
}

// NewlyOverdue lists the requests that are overdue in next and were open in
// a: what a Fire from a to next made overdue.
func NewlyOverdue(a, next *Alert) []InfoRequest {
	var out []InfoRequest
	for _, r := range next.InfoRequests {
		if r.State != InfoRequestOverdue {
			continue
		}
		if old := a.InfoRequest(r.ID); old == nil || old.State == InfoRequestOpen {
			out = append(out, r)
		}
	}
	return out
}

func earliest(a, b *time.Time) *time.Time {
	if a == nil || (b != nil && b.Before(*a)) {
		return b
	}
	return a
}

func forParty(party string) string {
	if party == "" {
		return ""
	}
	return " for " + party
}

// clip cuts s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// checkFreeText names what is wrong with a required free text of at most max
// bytes: empty, too long, not UTF-8, or with control characters other than
// line breaks and tabs.
func checkFreeText(p *problems, field, s string, max int) {
	switch {
	case strings.TrimSpace(s) == "":
		p.add(field, "is required")
	case len(s) > max:
		p.add(field, "is longer than %d bytes", max)
	case !utf8.ValidString(s):
		p.add(field, "is not valid UTF-8")
	case strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }):
		p.add(field, "has control characters")
	}
}

// checkAttachments names what is wrong with an answer's references: each
// must be an absolute http or https URL with a host, or "doc:" followed by
// a document reference of letters, digits and ._:/#- .
func checkAttachments(p *problems, refs []string) {
	if len(refs) > MaxAttachments {
		p.add("attachments", "are more than %d", MaxAttachments)
		return
	}
	seen := map[string]bool{}
	for i, ref := range refs {
		f := fmt.Sprintf("attachments[%d]", i)
		switch {
		case ref == "":
			p.add(f, "is empty")
		case len(ref) > MaxAttachmentBytes:
			p.add(f, "is longer than %d bytes", MaxAttachmentBytes)
		case seen[ref]:
			p.add(f, "is given twice")
		case strings.HasPrefix(ref, "doc:"):
			if !validDocRef(ref[len("doc:"):]) {
				p.add(f, "a document reference must be doc: then 1 to 256 of letters, digits and ._:/#-")
			}
		default:
			u, err := url.Parse(ref)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
				strings.ContainsFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
				p.add(f, "must be an http(s) URL with a host (and no user info) or doc:<reference>")
			}
		}
		seen[ref] = true
	}
}

func validDocRef(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:/#-", r)) {
			return false
		}
	}
	return true
}
