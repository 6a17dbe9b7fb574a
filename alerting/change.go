package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Change is one committed alert change: the zone's sequence number it got,
// what happened, and the alert as it is after it.
//
// Frame is the change encoded once, in the form every consumer receives it:
// the WebSocket frame of protocol truceline.v1 and the body of the NATS
// message on alerts.<zone>.<event> are the same bytes.
type Change struct {
	Zone     string
	Seq      int64
	Event    Event
	ReportID string
	Alert    *Alert
	Frame    []byte
	// Record is what the change did besides the alert, encoded (see
	// Record); nil when it did nothing else.
	Record []byte
}

// A change frame is
//
//	{"type":"alert","zone":"<zone>","seq":<seq>,"event":"<event>"[,"report_id":"<id>"],"alert":<alert>}
//
// (docs/WEBSOCKET.md, docs/NATS.md). This file is the only code that writes
// or reads its bytes: a head, {"type":"alert","zone":…,"seq":…, that
// ChangeFrame writes once the store has assigned the sequence number, and
// a body, the rest, that ChangeBody writes before. The Redis store keeps
// the body only (docs/REDIS.md); FrameSeq and FrameBody read the head
// back without decoding the alert; DecodeChange decodes it all.

// frame is the JSON shape of an alert change.
type frame struct {
	Type     string `json:"type"`
	Zone     string `json:"zone"`
	Seq      int64  `json:"seq"`
	Event    Event  `json:"event"`
	ReportID string `json:"report_id,omitempty"`
	Alert    *Alert `json:"alert"`
}

// ChangeBody encodes everything of a change frame but its head
// ({"type":"alert","zone":...,"seq":...,), which only the store can write
// because it assigns the sequence number in the same transaction, from the
// alert already encoded as JSON. It also returns where the alert's JSON
// starts in the body, which runs from there to the body's last byte,
// exclusive: a store keeps the alert and the frame from one encoding.
func ChangeBody(event Event, reportID string, alertJSON []byte) (body []byte, alertAt int) {
	body = make([]byte, 0, len(alertJSON)+len(reportID)+48)
	body = append(body, `"event":`...)
	body = strconv.AppendQuote(body, string(event))
	if reportID != "" {
		body = append(body, `,"report_id":`...)
		body = strconv.AppendQuote(body, reportID)
	}
	body = append(body, `,"alert":`...)
	alertAt = len(body)
	body = append(body, alertJSON...)
	return append(body, '}'), alertAt
}

// ChangeFrame joins a change's head and body into its frame. Zone ids are
// restricted to [a-z0-9-], so they need no escaping. The body may be a
// string, as Redis gives it back, so that the frame is the one copy.
func ChangeFrame[Body []byte | string](zone string, seq int64, body Body) []byte {
	out := make([]byte, 0, len(body)+len(zone)+48)
	out = append(out, `{"type":"alert","zone":"`...)
	out = append(out, zone...)
	out = append(out, `","seq":`...)
	out = strconv.AppendInt(out, seq, 10)
	out = append(out, ',')
	return append(out, body...)
}

// FrameBody returns the body of a change frame (what ChangeBody made) and
// where the alert's JSON starts in it; ok is false for anything but a
// change frame of zone and seq.
func FrameBody(zone string, seq int64, frame []byte) (body []byte, alertAt int, ok bool) {
	z, s, body, ok := frameHead(frame)
	if !ok || string(z) != zone || s != seq || !bytes.HasSuffix(body, []byte("}")) {
		return nil, 0, false
	}
	// Report ids cannot hold a quote, so the first ,"alert": is the key.
	const key = `,"alert":`
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return nil, 0, false
	}
	return body, i + len(key), true
}

// FrameSeq returns the sequence number of a change frame, read from the
// head ChangeFrame wrote without parsing the alert behind it; 0 for
// anything else.
func FrameSeq(frame []byte) int64 {
	_, seq, _, ok := frameHead(frame)
	if !ok {
		return 0
	}
	return seq
}

// frameHead splits a change frame into the zone and seq of its head and
// its body, as ChangeFrame joined them.
func frameHead(frame []byte) (zone []byte, seq int64, body []byte, ok bool) {
	const open, mid = `{"type":"alert","zone":"`, `","seq":`
	rest, found := bytes.CutPrefix(frame, []byte(open))
	if !found {
		return nil, 0, nil, false
	}
	i := 0
	for i < len(rest) && i < 64 && (rest[i] >= 'a' && rest[i] <= 'z' || rest[i] >= '0' && rest[i] <= '9' || rest[i] == '-') {
		i++
	}
	if i == 0 {
		return nil, 0, nil, false
	}
	zone = rest[:i]
	if rest, found = bytes.CutPrefix(rest[i:], []byte(mid)); !found {
		return nil, 0, nil, false
	}
	n := 0
	for n < len(rest) && n < 18 && rest[n] >= '0' && rest[n] <= '9' {
		seq = seq*10 + int64(rest[n]-'0')
		n++
	}
	if n == 0 || n >= len(rest) || rest[n] != ',' || seq <= 0 {
		return nil, 0, nil, false
	}
	return zone, seq, rest[n+1:], true
}

// DecodeChange parses a change frame.
func DecodeChange(data []byte) (Change, error) {
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Change{}, fmt.Errorf("decode change: %w", err)
	}
	if f.Type != "alert" || f.Alert == nil || f.Seq <= 0 || !ValidZoneID(f.Zone) {
		return Change{}, fmt.Errorf("decode change: not an alert change frame")
	}
	return Change{Zone: f.Zone, Seq: f.Seq, Event: f.Event, ReportID: f.ReportID, Alert: f.Alert, Frame: data}, nil
}
