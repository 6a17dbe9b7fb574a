package cap

import (
	"github.com/google/uuid"

	"encoding/xml"
	"sort"
	"time"
)

// AtomMediaType is the media type of an Atom feed.
const AtomMediaType = "application/atom+xml"

// AtomFeed is an Atom 1.0 (RFC 4287) feed of CAP messages.
type AtomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Author  AtomPerson  `xml:"author"`
	Links   []AtomLink  `xml:"link"`
	Entries []AtomEntry `xml:"entry"`
}

// AtomPerson is an Atom author.
type AtomPerson struct {
	Name string `xml:"name"`
}

// AtomLink is an Atom link.
type AtomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

// AtomEntry is one CAP message in the feed: its id is EntryID of the
// message, its alternate link the message on its own, and its content the
// message itself.
type AtomEntry struct {
	ID      string      `xml:"id"`
	Title   string      `xml:"title"`
	Updated string      `xml:"updated"`
	Summary string      `xml:"summary,omitempty"`
	Links   []AtomLink  `xml:"link"`
	Content AtomContent `xml:"content"`
}

// AtomContent carries a CAP message inline (RFC 4287 §4.1.3.3: an XML
// media type's content is the element itself), or text (type "text").
type AtomContent struct {
	Type    string   `xml:"type,attr"`
	Text    string   `xml:",chardata"`
	Message *Message `xml:"urn:oasis:names:tc:emergency:cap:1.2 alert"`
}

// FeedOptions describes a feed.
type FeedOptions struct {
	ID, Title string
	// Self is the feed's own URL.
	Self string
	// Link is the URL of one message of an alert (by the message's Key).
	Link func(alertID, key string) string
	// Limit is the most entries the feed lists; 0 means 100.
	Limit int
	// Updated is the feed's time when it has no entries.
	Updated time.Time
}

// Feed lists messages newest first, at most o.Limit of them.
func Feed(messages []*Message, o FeedOptions) *AtomFeed {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	ms := append([]*Message(nil), messages...)
	sort.SliceStable(ms, func(i, j int) bool {
		if !ms[i].at.Equal(ms[j].at) {
			return ms[i].at.After(ms[j].at)
		}
		if ms[i].alertID == ms[j].alertID {
			return ms[i].seq > ms[j].seq
		}
		return ms[i].alertID > ms[j].alertID
	})
	if len(ms) > o.Limit {
		ms = ms[:o.Limit]
	}
	f := &AtomFeed{ID: o.ID, Title: o.Title, Updated: o.Updated.UTC().Format(time.RFC3339), Author: AtomPerson{Name: "truceline"},
		Links: []AtomLink{{Rel: "self", Type: AtomMediaType, Href: o.Self}}, Entries: make([]AtomEntry, 0, len(ms))}
	if len(ms) > 0 {
		f.Updated = ms[0].Sent
		if len(ms[0].Info) > 0 && ms[0].Info[0].SenderName != "" {
			f.Author.Name = ms[0].Info[0].SenderName
		}
	}
	for _, m := range ms {
		e := AtomEntry{ID: EntryID(m), Updated: m.Sent, Summary: m.MsgType + ": " + m.Note,
			Content: AtomContent{Type: MediaType, Message: m}}
		if len(m.Info) > 0 {
			e.Title = m.Info[0].Headline
		}
		if e.Title == "" {
			e.Title = m.Identifier
		}
		if o.Link != nil {
			e.Links = []AtomLink{{Rel: "alternate", Type: MediaType, Href: o.Link(m.alertID, m.key)}}
		}
		f.Entries = append(f.Entries, e)
	}
	return f
}

// EntryID is the Atom id of a CAP message: a name-based UUID (RFC 9562
// version 5) of its sender and identifier, which CAP makes unique, as a
// urn:uuid: IRI, the same at every request.
func EntryID(m *Message) string {
	return NameURN("cap message " + m.Sender + "," + m.Identifier)
}

// NameURN is a urn:uuid: IRI made from name: the same name, the same IRI.
func NameURN(name string) string {
	return "urn:uuid:" + uuid.NewSHA1(uuid.NameSpaceURL, []byte("truceline:"+name)).String()
}

// Marshal encodes the feed as an XML document.
func (f *AtomFeed) Marshal() ([]byte, error) {
	out, err := xml.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(out, '\n')...), nil
}
