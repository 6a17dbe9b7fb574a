package cap_test

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/cap"
)

func TestFeed(t *testing.T) {
	t.Parallel()
	ok := must(t)
	first := opened(t, false)
	first = ok(first.Acknowledge(alerting.Actor{Name: "Duty A", Party: "party-a"}, "", t0.Add(2*time.Minute)))
	second := opened(t, true)
	second.ID = "al-2"
	second.Timeline[0].At, second.OpenedAt, second.UpdatedAt = t0.Add(time.Minute), t0.Add(time.Minute), t0.Add(time.Minute)
	messages := append(cap.Messages(first, aleppo, opts), cap.Messages(second, aleppo, opts)...)
	link := func(alert, key string) string {
		return "https://truceline.example.org/api/v1/alerts/" + alert + "/cap?message=" + key
	}
	feed := cap.Feed(messages, cap.FeedOptions{ID: "urn:x", Title: "Aleppo", Self: "https://truceline.example.org/api/v1/zones/aleppo/cap.atom", Link: link})
	doc, err := feed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var back cap.AtomFeed
	if err := xml.Unmarshal(doc, &back); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
	var ids []string
	for _, e := range back.Entries {
		if e.Content.Message != nil {
			ids = append(ids, e.Content.Message.Identifier)
		}
		// An Atom id is an IRI: a name-based UUID of the message's sender
		// and identifier, the same at every request.
		if e.Content.Type != cap.MediaType || e.Content.Message == nil || e.ID != cap.EntryID(e.Content.Message) ||
			!strings.HasPrefix(e.ID, "urn:uuid:") || e.Updated != e.Content.Message.Sent {
			t.Errorf("entry %s: content %+v", e.ID, e.Content)
		}
		if len(e.Links) != 1 || e.Links[0].Rel != "alternate" || e.Links[0].Type != cap.MediaType || !strings.HasPrefix(e.Links[0].Href, "https://truceline.example.org/api/v1/alerts/al-") {
			t.Errorf("entry %s: links %+v", e.ID, e.Links)
		}
	}
	if got := strings.Join(ids, " "); got != "truceline:al-1:2 truceline:al-2:1 truceline:al-1:1" {
		t.Errorf("entries %s, want newest first", got)
	}
	if back.Updated != "2026-11-23T14:07:00-00:00" || back.Title != "Aleppo" || back.ID != "urn:x" || back.Links[0].Rel != "self" || back.Entries[0].Title != "Shelling in Aleppo" {
		t.Errorf("feed %+v", back)
	}
	if !strings.Contains(string(doc), `<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">`) {
		t.Errorf("the CAP message is not inline in its namespace:\n%s", doc)
	}
	if short := cap.Feed(messages, cap.FeedOptions{Limit: 2}); len(short.Entries) != 2 || short.Entries[0].Content.Message.Identifier != "truceline:al-1:2" {
		t.Errorf("limit 2: %d entries", len(short.Entries))
	}
	empty := cap.Feed(nil, cap.FeedOptions{Updated: t0})
	if len(empty.Entries) != 0 || empty.Updated != "2026-11-23T14:05:00Z" {
		t.Errorf("empty feed %+v", empty)
	}
}
