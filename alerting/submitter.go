package alerting

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
)

// Submitter is who handed truceline a report, as truceline knows it: the
// signed-in user or API token of an HTTP request, or the NATS user of the
// embedded server. The report itself never says; what it claims
// (reported_by, source_type) is the sender's word.
type Submitter struct {
	// Via is how the report came: "http", "cap" (a CAP message over HTTP)
	// or "nats".
	Via string `json:"via"`
	// User is the truceline user (HTTP, CAP) or the embedded server's NATS
	// user; "" for a NATS publisher truceline cannot tell apart from
	// another (a server without users, or one truceline does not run).
	User string `json:"user,omitempty"`
	// Token is the id of the API token the request used, if any.
	Token string `json:"token,omitempty"`
}

// Submitter.Via values.
const (
	ViaHTTP = "http"
	ViaCAP  = "cap"
	ViaNATS = "nats"
	ViaDemo = "demo" // the demo's generator (truceline serve --demo)
)

// scope is whose report ids a submitter's share: one user's, over HTTP
// and CAP whatever the token; one NATS user's; or every anonymous NATS
// publisher's.
func (s Submitter) scope() string {
	if s.Via == ViaNATS {
		return "nats:" + s.User
	}
	return "user:" + s.User
}

// String names the submitter for logs and the audit log.
func (s Submitter) String() string {
	switch {
	case s.Via == ViaNATS && s.User == "":
		return "NATS (anonymous)"
	case s.Via == ViaNATS:
		return "NATS user " + s.User
	case s.Via == ViaDemo:
		return "the demo"
	case s.Token != "":
		return s.User + " (token " + s.Token + ")"
	}
	return s.User
}

// HeaderValue encodes the submitter for the Truceline-Submitted-By header
// of a report's message in VIOLATIONS.
func (s Submitter) HeaderValue() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ParseSubmitter decodes a Truceline-Submitted-By header; ok is false for
// anything that is not one.
func ParseSubmitter(v string) (s Submitter, ok bool) {
	if json.Unmarshal([]byte(v), &s) != nil {
		return Submitter{}, false
	}
	switch s.Via {
	case ViaHTTP, ViaCAP, ViaNATS, ViaDemo:
		return s, true
	}
	return Submitter{}, false
}

// keyTag is the length of the tag that ReportKey adds, in hex digits.
const keyTag = 12

var reportKeyPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}(~[0-9a-f]{12})?$`)

// ValidReportKey reports whether key may name a stored report: an id
// truceline assigned, or a sender's id with its tag (see ReportKey).
func ValidReportKey(key string) bool { return reportKeyPattern.MatchString(key) }

// ReportKey is the id truceline keeps a report under when its sender chose
// the id: the sender's id, "~", and a tag of the submitter and the zone.
// Two senders, or one sender in two zones, may use the same id without
// one report hiding the other; the same sender sending again gets the same
// key, and so is not counted twice.
//
// An anonymous NATS publisher's report keeps its id as it is: truceline
// cannot tell such publishers apart (nor JetStream's deduplication, which
// they share), and reports truceline stored before it recorded senders
// are kept under their ids, so that one such report still in the stream
// is not counted again under a new key.
func ReportKey(s Submitter, zone, id string) string {
	if s.Via == ViaNATS && s.User == "" {
		return id
	}
	sum := sha256.Sum256([]byte(s.scope() + "\x00" + zone))
	return id + "~" + hex.EncodeToString(sum[:])[:keyTag]
}

// Stamp records who submitted r. When the sender named the report (named),
// its id moves to SubmittedID and the report is kept under its ReportKey;
// an id truceline assigned stays as it is.
func (r *Report) Stamp(s Submitter, named bool) {
	r.SubmittedBy = &s
	if named {
		r.SubmittedID = r.ID
		r.ID = ReportKey(s, r.Zone, r.ID)
	}
}

// AsSent is the report as its sender sent it: without what Stamp and
// Admit added (the amended report's key goes in a header), and without an
// id truceline assigned.
func (r Report) AsSent() Report {
	if r.SubmittedBy == nil {
		return r
	}
	r.ID = r.SubmittedID
	r.SubmittedID, r.SubmittedBy, r.Amends, r.Withdraws = "", nil, "", false
	return r
}

// Arrival is what truceline knows of a report beside its body: where it
// was sent, by whom, and under which id when the body has none.
type Arrival struct {
	// Zone and Category are those the subject names; "" over HTTP.
	Zone, Category string
	By             Submitter
	// SenderID is an id the sender gave outside the body (a NATS
	// message's Nats-Msg-Id); it names the report when the body has no id.
	SenderID string
	// AssignedID is the id truceline gave a report that came without one.
	AssignedID string
	// Amends, when set, is the id the sender gave an earlier report of its
	// own, in the same zone, that this one updates, or withdraws when
	// Withdraws is set (a CAP Update or Cancel naming it).
	Amends    string
	Withdraws bool
}
