package alerting

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one notification on its way to one contact method: what a
// Sender sends.
type Message struct {
	// Key is the notification's idempotency key: the same key is the same
	// notification, however often it is sent. It travels as webhook-id,
	// as the email's Message-ID and as the NATS message's Nats-Msg-Id.
	Key     string
	Alert   *Alert
	Contact Contact
	Method  Method
	// Step and Repeat say which escalation step notifies, from 1.
	Step, Repeat int
	// Fallback is true when the step's schedule had nobody on call and
	// the policy's fallback contact is notified instead.
	Fallback bool
	// Target is what the step named: a contact or a schedule id.
	Target string
	// AckURL acknowledges the alert on behalf of the contact's party (or
	// of the contact, without a party) until AckExpires; empty when the
	// server has no public URL.
	AckURL     string
	AckExpires time.Time
	// AlertURL shows the alert on the board; empty without a public URL.
	AlertURL string
	// Attempt counts from 1.
	Attempt int
	SentAt  time.Time
	// InfoRequest, when set, is the overdue request for information whose
	// on_info_request_overdue step this message is.
	InfoRequest *InfoRequest
}

// Payload is the JSON document a webhook POSTs and a NATS method publishes;
// docs/NOTIFICATIONS.md describes it.
type Payload struct {
	Type string `json:"type"` // "alert.escalated"
	// Timestamp is when the message was sent, as the Standard Webhooks
	// payload structure has it; SentAt is the same time, kept for the
	// receivers that read it. Both are whole seconds, as the
	// webhook-timestamp header that is signed.
	Timestamp  time.Time    `json:"timestamp"`
	Key        string       `json:"key"`
	SentAt     time.Time    `json:"sent_at"`
	Attempt    int          `json:"attempt"`
	Step       int          `json:"step"`
	Repeat     int          `json:"repeat"`
	Target     string       `json:"target"`
	Fallback   bool         `json:"fallback,omitempty"`
	Contact    string       `json:"contact"`
	Alert      AlertSummary `json:"alert"`
	AckURL     string       `json:"ack_url,omitempty"`
	AckExpires *time.Time   `json:"ack_expires_at,omitempty"`
	// InfoRequest is set when the message is an overdue request for
	// information's step (the policy's on_info_request_overdue).
	InfoRequest *InfoRequestSummary `json:"info_request,omitempty"`
}

// InfoRequestSummary is what a notification tells of an overdue request for
// information.
type InfoRequestSummary struct {
	ID       string           `json:"id"`
	Party    string           `json:"party"`
	Question string           `json:"question"`
	Deadline time.Time        `json:"deadline"`
	AskedBy  string           `json:"asked_by"`
	AskedFor string           `json:"asked_for,omitempty"`
	State    InfoRequestState `json:"state"`
}

// AlertSummary is what a notification tells of its alert.
type AlertSummary struct {
	ID           string       `json:"id"`
	Zone         string       `json:"zone"`
	Category     Category     `json:"category"`
	Title        string       `json:"title"`
	Severity     Severity     `json:"severity"`
	State        State        `json:"state"`
	Verification Verification `json:"verification"`
	ReportCount  int          `json:"report_count"`
	FirstSeen    time.Time    `json:"first_seen"`
	LastSeen     time.Time    `json:"last_seen"`
	OpenedAt     time.Time    `json:"opened_at"`
	Regime       string       `json:"regime,omitempty"`
	URL          string       `json:"url,omitempty"`
}

// PayloadType is the type of every notification payload.
const PayloadType = "alert.escalated"

// Payload returns the message as the JSON document webhooks and NATS carry.
func (m *Message) Payload() Payload {
	a := m.Alert
	sent := m.SentAt.UTC().Truncate(time.Second)
	p := Payload{
		Type: PayloadType, Timestamp: sent, Key: m.Key, SentAt: sent, Attempt: m.Attempt, Step: m.Step, Repeat: m.Repeat,
		Target: m.Target, Fallback: m.Fallback, Contact: m.Contact.ID, AckURL: m.AckURL,
		Alert: AlertSummary{ID: a.ID, Zone: a.Zone, Category: a.Category, Title: a.Title, Severity: a.Severity,
			State: a.State, Verification: a.Verification, ReportCount: a.ReportCount, FirstSeen: a.FirstSeen,
			LastSeen: a.LastSeen, OpenedAt: a.OpenedAt, Regime: a.Regime, URL: m.AlertURL},
	}
	if r := m.InfoRequest; r != nil {
		p.InfoRequest = &InfoRequestSummary{ID: r.ID, Party: r.Party, Question: r.Question, Deadline: r.Deadline, AskedBy: r.AskedBy,
			AskedFor: r.AskedFor, State: r.State}
	}
	if m.AckURL != "" {
		exp := m.AckExpires.UTC()
		p.AckExpires = &exp
	}
	return p
}

// Subject is a one-line summary, for an email's subject.
func (m *Message) Subject() string {
	a := m.Alert
	if r := m.InfoRequest; r != nil {
		return fmt.Sprintf("[truceline] %s %s: information from %s OVERDUE (%s): %s", a.Severity, a.Zone, r.Party, r.ID, a.Title)
	}
	return fmt.Sprintf("[truceline] %s %s: %s", a.Severity, a.Zone, a.Title)
}

// Sender delivers messages by one kind of method. Send returns nil only once
// the destination accepted the message; an error wrapped by Permanent means
// retrying cannot help.
type Sender interface {
	Send(ctx context.Context, m *Message) error
}

// permanentError marks a failure retrying cannot mend.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as a failure that retrying cannot mend (a webhook's
// 4xx, an email address the server refuses).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}
