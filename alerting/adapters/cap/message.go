package cap

import (
	"encoding/xml"
	"regexp"
	"strings"
	"time"
)

// Namespace is CAP 1.2's XML namespace.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// MediaType is the media type of a CAP message.
const MediaType = "application/cap+xml"

// Message is one CAP 1.2 alert message (the <alert> element), with the
// elements truceline writes and reads, in the schema's order.
type Message struct {
	XMLName     xml.Name `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
	Identifier  string   `xml:"identifier"`
	Sender      string   `xml:"sender"`
	Sent        string   `xml:"sent"`
	Status      string   `xml:"status"`
	MsgType     string   `xml:"msgType"`
	Source      string   `xml:"source,omitempty"`
	Scope       string   `xml:"scope"`
	Restriction string   `xml:"restriction,omitempty"`
	Addresses   string   `xml:"addresses,omitempty"`
	Code        []string `xml:"code,omitempty"`
	Note        string   `xml:"note,omitempty"`
	References  string   `xml:"references,omitempty"`
	Incidents   string   `xml:"incidents,omitempty"`
	Info        []Info   `xml:"info"`

	// alertID and key say which alert and which of its messages this is;
	// the identifier ends in the key.
	alertID, key string
	at           time.Time
	seq          int // its place among the alert's messages
}

// Info is a CAP <info> block.
type Info struct {
	Language     string      `xml:"language,omitempty"`
	Category     []string    `xml:"category"`
	Event        string      `xml:"event"`
	ResponseType []string    `xml:"responseType,omitempty"`
	Urgency      string      `xml:"urgency"`
	Severity     string      `xml:"severity"`
	Certainty    string      `xml:"certainty"`
	Audience     string      `xml:"audience,omitempty"`
	EventCode    []ValuePair `xml:"eventCode,omitempty"`
	Effective    string      `xml:"effective,omitempty"`
	Onset        string      `xml:"onset,omitempty"`
	Expires      string      `xml:"expires,omitempty"`
	SenderName   string      `xml:"senderName,omitempty"`
	Headline     string      `xml:"headline,omitempty"`
	Description  string      `xml:"description,omitempty"`
	Instruction  string      `xml:"instruction,omitempty"`
	Web          string      `xml:"web,omitempty"`
	Contact      string      `xml:"contact,omitempty"`
	Parameter    []ValuePair `xml:"parameter,omitempty"`
	Area         []Area      `xml:"area,omitempty"`
}

// ValuePair is CAP's valueName/value pair of eventCode, parameter and
// geocode.
type ValuePair struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}

// Area is a CAP <area> block. Polygons are "lat,lon lat,lon ...", closed;
// circles "lat,lon radius_km".
type Area struct {
	AreaDesc string      `xml:"areaDesc"`
	Polygon  []string    `xml:"polygon,omitempty"`
	Circle   []string    `xml:"circle,omitempty"`
	Geocode  []ValuePair `xml:"geocode,omitempty"`
}

// AlertID is the truceline alert the message is about ("" for a message
// that was decoded, not made from an alert).
func (m *Message) AlertID() string { return m.alertID }

// Key tells the message apart from the alert's others: the last part of
// its identifier ("3" for truceline:<alert>:3).
func (m *Message) Key() string { return m.key }

// Ref is the message as another message's references name it:
// sender,identifier,sent.
func (m *Message) Ref() string { return m.Sender + "," + m.Identifier + "," + m.Sent }

// Marshal encodes the message as a CAP 1.2 XML document.
func (m *Message) Marshal() ([]byte, error) {
	out, err := xml.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}

// utcLayout is CAP's dateTime without its offset: whole seconds.
const utcLayout = "2006-01-02T15:04:05"

// DateTime formats t as CAP's dateTime, in UTC, which CAP 1.2 §3.3.2
// writes with the offset "-00:00", never "+00:00" or "Z"
// ("2026-11-23T14:05:00-00:00").
func DateTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format(utcLayout) + "-00:00"
}

// capDateTime is a dateTime as CAP 1.2 §3.3.2 writes it.
var capDateTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d$`)

// parseDateTime reads a CAP dateTime; RFC 3339's "Z" and fractions of a
// second, which CAP forbids, are tolerated on input.
func parseDateTime(s string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	return t, err == nil
}
