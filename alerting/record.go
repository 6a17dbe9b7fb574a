package alerting

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Record is what a committed change did to the state besides the alert,
// which its frame carries whole. A change and its record together are
// enough to redo the change on a store that lost it: the stream of changes
// (ALERTS) is the record of the alerts, and the store a projection of it.
//
// The broker sends a change's record with it, in the header
// Truceline-Record; its JSON form is internal to truceline.
type Record struct {
	// Reports are the report ids the change added to the alert's
	// complete list, when they are not just the change's report: an
	// opening adds the reports its rule's threshold held back.
	Reports []string `json:"reports,omitempty"`
	// Group binds a rule's group key to the alert for GroupTTL.
	Group    string `json:"group,omitempty"`
	GroupTTL int64  `json:"group_ttl_ms,omitempty"`
	// Report is set on the last change of a report's commit: the report
	// as stored, which marks it processed, and what it did besides its
	// alert changes.
	Report *ReportRecord `json:"report,omitempty"`
}

// ReportRecord is a processed report as its commit stored it.
type ReportRecord struct {
	Report         json.RawMessage `json:"report,omitempty"`
	Classification json.RawMessage `json:"classification,omitempty"`
	ReceivedAt     time.Time       `json:"received_at,omitzero"`
	// Changes is how many alert changes the report's commit made; this
	// change is the last of them.
	Changes int `json:"changes"`
	// Pending are the report's changes to rules' threshold counts.
	Pending []PendingRecord `json:"pending,omitempty"`
}

// PendingRecord is one change to a rule's threshold count.
type PendingRecord struct {
	Group string         `json:"group"`
	Add   *PendingReport `json:"add,omitempty"`
	Clear bool           `json:"clear,omitempty"`
	TTL   int64          `json:"ttl_ms,omitempty"`
}

// Records returns the record of each of c's alert changes, encoded, given
// the report and its classification as the store encoded them. A store
// that keeps the report, its classification and when it was received
// apart passes nil for both, and gets records without them. A change that
// did nothing besides its alert has no record (nil).
func (c Commit) Records(reportJSON, classJSON []byte) ([][]byte, error) {
	out := make([][]byte, len(c.Alerts))
	for i, ac := range c.Alerts {
		rec := Record{Group: ac.GroupKey, GroupTTL: ac.GroupTTL.Milliseconds()}
		if c.Report == nil || len(ac.ReportIDs) != 1 || ac.ReportIDs[0] != c.Report.ID {
			rec.Reports = ac.ReportIDs
		}
		if rec.Group == "" && len(rec.Reports) == 0 && c.Report == nil {
			continue
		}
		if c.Report != nil && i == len(c.Alerts)-1 {
			rec.Report = &ReportRecord{Report: reportJSON, Classification: classJSON,
				Changes: len(c.Alerts), Pending: pendingRecords(c.Pending)}
			if reportJSON != nil {
				rec.Report.ReceivedAt = c.ReceivedAt.UTC()
			}
		}
		data, err := rec.encode()
		if err != nil {
			return nil, fmt.Errorf("encode the record of a change of %s: %w", ac.Alert.ID, err)
		}
		out[i] = data
	}
	return out, nil
}

// encode is json.Marshal(rec), byte for byte, with the report and its
// classification written as they are: they are JSON the store has just
// encoded, and json.Marshal would scan and compact them again: a quarter of
// the time it took to encode a commit's arguments.
func (rec Record) encode() ([]byte, error) {
	rr := rec.Report
	if rr == nil || len(rr.Report)+len(rr.Classification) == 0 {
		return json.Marshal(rec)
	}
	rest := *rr
	rest.Report, rest.Classification = nil, nil
	tail, err := json.Marshal(rest) // {"received_at":…,"changes":N…}: never {}, Changes is always written
	if err != nil {
		return nil, err
	}
	rec.Report = nil
	head, err := json.Marshal(rec) // {} or {"reports":…}: Report is its last field
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(head)+len(rr.Report)+len(rr.Classification)+len(tail)+40)
	b = append(b, head[:len(head)-1]...)
	if len(head) > 2 {
		b = append(b, ',')
	}
	b = append(b, `"report":{`...)
	if len(rr.Report) > 0 {
		b = append(append(append(b, `"report":`...), rr.Report...), ',')
	}
	if len(rr.Classification) > 0 {
		b = append(append(append(b, `"classification":`...), rr.Classification...), ',')
	}
	return append(append(b, tail[1:]...), '}'), nil
}

// RecordsNeeded reports whether c's records say more than a store can tell
// from the report and its alerts: that a report's changes each added it to
// their alert and bound their alert's group. Threshold counts, and reports
// an opening adds besides, are only in the records.
func (c Commit) RecordsNeeded() bool {
	if len(c.Pending) > 0 || c.Report == nil {
		return true
	}
	for _, ac := range c.Alerts {
		if len(ac.ReportIDs) != 1 || ac.ReportIDs[0] != c.Report.ID || ac.GroupKey != ac.Alert.GroupKey {
			return true
		}
	}
	return false
}

func pendingRecords(ps []PendingChange) []PendingRecord {
	out := make([]PendingRecord, 0, len(ps))
	for _, p := range ps {
		out = append(out, PendingRecord{Group: p.GroupKey, Add: p.Add, Clear: p.Clear, TTL: p.TTL.Milliseconds()})
	}
	return out
}

// DecodeRecord parses a change's record; an empty one is a change that
// did nothing besides its alert (a person's action, an escalation step).
func DecodeRecord(data []byte) (*Record, error) {
	var r Record
	if len(bytes.TrimSpace(data)) == 0 {
		return &r, nil
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("decode change record: %w", err)
	}
	return &r, nil
}

// Redo returns the commit that redoes a change read back from the stream,
// with its record: the change gets exactly its recorded sequence number
// and frame, and nothing is checked against the store but that the zone's
// sequence is one before it (a store that has the change skips it). The
// delivery queue is set from the alert's notifications.
func Redo(ch Change, rec *Record) (Commit, error) {
	reports := rec.Reports
	if reports == nil && ch.ReportID != "" {
		reports = []string{ch.ReportID}
	}
	if rec.Group == "" && ch.ReportID != "" {
		// A report's change binds its rule's group to the alert.
		rec.Group, rec.GroupTTL = ch.Alert.GroupKey, (DefaultWindow + 24*time.Hour).Milliseconds()
	}
	c := Commit{Redo: true, Alerts: []AlertChange{{Alert: ch.Alert, Event: ch.Event, Seq: ch.Seq, Frame: ch.Frame,
		ReportIDs: reports, GroupKey: rec.Group, GroupTTL: time.Duration(rec.GroupTTL) * time.Millisecond,
		Enqueue: OpenDeliveries(ch.Alert)}}}
	if rr := rec.Report; rr != nil {
		var r Report
		if err := json.Unmarshal(rr.Report, &r); err != nil {
			return Commit{}, fmt.Errorf("redo change %s/%d: decode its report: %w", ch.Zone, ch.Seq, err)
		}
		if len(rr.Classification) > 0 {
			if err := json.Unmarshal(rr.Classification, &c.Classification); err != nil {
				return Commit{}, fmt.Errorf("redo change %s/%d: decode its classification: %w", ch.Zone, ch.Seq, err)
			}
		}
		c.Report, c.ReceivedAt, c.ReportChanges = &r, rr.ReceivedAt, rr.Changes
		for _, p := range rr.Pending {
			c.Pending = append(c.Pending, PendingChange{GroupKey: p.Group, Add: p.Add, Clear: p.Clear,
				TTL: time.Duration(p.TTL) * time.Millisecond})
		}
	}
	return c, nil
}

// OpenDeliveries are the deliveries an alert's notifications still need:
// those pending or failed and waiting for their next attempt.
func OpenDeliveries(a *Alert) []Delivery {
	var out []Delivery
	for _, n := range a.Notifications {
		if !n.Final() {
			out = append(out, Delivery{Key: n.Key, Alert: a.ID, Zone: a.Zone, Urgent: n.Urgent})
		}
	}
	return slices.Clip(out)
}
