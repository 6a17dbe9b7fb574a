package redisstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/truceline/truceline/alerting"
)

// commitArgsVersion is the version of the commit script's arguments:
// commitArgs writes it into the header, and commitScript refuses a header
// of another version. Version 1 was a flat list of positional arguments,
// without a header. docs/REDIS.md ("The commit script's arguments")
// describes version 2 field by field; testdata/commit-args.golden.json
// pins it.
const commitArgsVersion = 2

// commitArgs writes the commit script's arguments for the commits cs, on
// the incarnation runID, and returns the frame body and the record of each
// of their alert changes, commit by commit.
//
// The arguments are ARGV[1] and ARGV[2], the fence (fencedArgsLua);
// ARGV[3], the header: one JSON object (commitHeader), which the script
// decodes with cjson; and ARGV[4] on, the blobs: frame bodies, report JSON,
// classifications, records and delivery jobs, each an argument of its own
// that the header names by its ARGV index, so the large ones are neither
// escaped nor copied into the header. The header's fields:
//
//	v              commitArgsVersion
//	history_limit  the changes each zone's history keeps
//	timers         the timers key; deliveries: the deliveries hash
//	zones          zone id → the keys of the zones the commits touch:
//	                 seq, history (changes), active, alerts (the index),
//	                 reports (the report index)
//	commits        in order, each:
//	  report       omitted when none: key, id, zone, observed (ms),
//	               received_at (RFC 3339), json, classification and
//	               records (omitted when the hash keeps none): ARGV indexes
//	  redo         true for a change redone from ALERTS (omitted: false);
//	               report_changes: how many changes the report made (redo)
//	  alerts       each: id, key, version, zone, body (ARGV index of the
//	               frame body), alert_at (the byte offset in the body where
//	               the alert's JSON starts; it ends before the last byte),
//	               active, score (updated_at, ms), reports_key, report_ids
//	               (omitted when none), group (omitted when none: key,
//	               expect: the alert it must be bound to, "" for none,
//	               ttl in ms), timer (ms; 0 removes it), seq (redo only)
//	  deliveries   each: op (add, retry or done), lane, key, job (add: ARGV
//	               index of the job JSON), score (ms; 0 for done)
//	  pending      each threshold count: key, expect (its size now), clear,
//	               member, score (ms), ttl (ms); member and score are empty
//	               when clear
//
// Empty lists are omitted, so the header holds no JSON null. Strings are
// escaped as JSON: a group key holds a report's free text.
func (s *Store) commitArgs(runID string, cs []alerting.Commit) (args []any, bodies, records [][][]byte, err error) {
	args = make([]any, 0, 3+len(cs)*3)
	args = append(args, s.fenceArgs(runID)...)
	args = append(args, nil) // the header, once the blobs have their indexes
	blob := func(b []byte) int {
		args = append(args, b)
		return len(args) // ARGV counts from 1
	}
	h := commitHeader{V: commitArgsVersion, HistoryLimit: s.historyLimit, Timers: s.timersKey(), Deliveries: s.deliveriesKey(),
		Zones: map[string]zoneKeys{}, Commits: make([]commitPlan, len(cs))}
	zone := func(z string) string {
		if _, ok := h.Zones[z]; !ok {
			h.Zones[z] = zoneKeys{Seq: s.zoneKey(z, "seq"), History: s.zoneKey(z, "changes"), Active: s.zoneKey(z, "active"),
				Alerts: s.zoneKey(z, "alerts"), Reports: s.zoneKey(z, "reports")}
		}
		return z
	}
	bodies, records = make([][][]byte, len(cs)), make([][][]byte, len(cs))
	for i, c := range cs {
		p := &h.Commits[i]
		p.Redo, p.ReportChanges = c.Redo, c.ReportChanges
		reportID := ""
		if r := c.Report; r != nil {
			reportID = r.ID
			reportJSON, err := json.Marshal(r)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode report %s: %w", reportID, err)
			}
			class, err := json.Marshal(c.Classification)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode classification of %s: %w", reportID, err)
			}
			if records[i], err = c.Records(reportJSON, class); err != nil {
				return nil, nil, nil, err
			}
			p.Report = &reportPlan{Key: s.reportKey(reportID), ID: reportID, Zone: zone(r.Zone), Observed: r.ObservedAt.UnixMilli(),
				ReceivedAt: c.ReceivedAt.UTC().Format(time.RFC3339Nano), JSON: blob(reportJSON), Classification: blob(class)}
			// The report's hash keeps the records without the report and its
			// classification, which it holds in fields of their own, and only
			// when they say more than ReportChanges can tell from the rest.
			if c.RecordsNeeded() {
				stored, err := c.Records(nil, nil)
				if err != nil {
					return nil, nil, nil, err
				}
				p.Report.Records = blob(joinRecords(stored))
			}
		} else if records[i], err = c.Records(nil, nil); err != nil {
			return nil, nil, nil, err
		}
		bodies[i] = make([][]byte, len(c.Alerts))
		if len(c.Alerts) > 0 {
			p.Alerts = make([]alertPlan, len(c.Alerts))
		}
		for j, ac := range c.Alerts {
			a := ac.Alert
			var body []byte
			var at int
			if c.Redo {
				var ok bool
				if body, at, ok = alerting.FrameBody(a.Zone, ac.Seq, ac.Frame); !ok {
					return nil, nil, nil, fmt.Errorf("redo change %s/%d: its frame is not a change frame of that zone and seq", a.Zone, ac.Seq)
				}
			} else {
				alertJSON, err := json.Marshal(a)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("encode alert %s: %w", a.ID, err)
				}
				body, at = alerting.ChangeBody(ac.Event, reportID, alertJSON)
			}
			bodies[i][j] = body
			ap := alertPlan{ID: a.ID, Key: s.alertKey(a.ID), Version: a.Version, Zone: zone(a.Zone), Body: blob(body), AlertAt: at,
				Active: a.Active(), Score: a.UpdatedAt.UnixMilli(), ReportsKey: s.alertReportsKey(a.ID), ReportIDs: ac.ReportIDs}
			if ac.GroupKey != "" {
				ap.Group = &groupPlan{Key: s.groupKey(ac.GroupKey), Expect: ac.PrevGroupAlert, TTL: ac.GroupTTL.Milliseconds()}
			}
			if t := timerAt(a); t != nil {
				ap.Timer = t.UnixMilli()
			}
			if c.Redo {
				ap.Seq = ac.Seq
			}
			p.Alerts[j] = ap
			for _, d := range ac.Enqueue {
				job, err := json.Marshal(d)
				if err != nil {
					return nil, nil, nil, fmt.Errorf("encode delivery %s: %w", d.Key, err)
				}
				p.Deliveries = append(p.Deliveries, deliveryPlan{Op: "add", Lane: s.laneKey(d.Urgent), Key: d.Key, Job: blob(job), Score: a.UpdatedAt.UnixMilli()})
			}
			if st := ac.Settle; st != nil {
				d := deliveryPlan{Op: "done", Lane: s.laneKey(st.Delivery.Urgent), Key: st.Delivery.Key}
				if st.RetryAt != nil {
					d.Op, d.Score = "retry", st.RetryAt.UnixMilli()
				}
				p.Deliveries = append(p.Deliveries, d)
			}
		}
		for _, pc := range c.Pending {
			pp := pendingPlan{Key: s.pendingKey(pc.GroupKey), Expect: pc.Expect, Clear: pc.Clear, TTL: pc.TTL.Milliseconds()}
			if pc.Add != nil {
				pp.Member, pp.Score = pendingMember(*pc.Add), pc.Add.ObservedAt.UnixMilli()
			}
			p.Pending = append(p.Pending, pp)
		}
	}
	header, err := json.Marshal(h)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode the commit script's header: %w", err)
	}
	args[2] = header
	return args, bodies, records, nil
}

// commitHeader is the commit script's ARGV[3] (commitArgs).
type commitHeader struct {
	V            int                 `json:"v"`
	HistoryLimit int                 `json:"history_limit"`
	Timers       string              `json:"timers"`
	Deliveries   string              `json:"deliveries"`
	Zones        map[string]zoneKeys `json:"zones"`
	Commits      []commitPlan        `json:"commits"`
}

// zoneKeys are the keys of a zone that commits touch.
type zoneKeys struct {
	Seq     string `json:"seq"`
	History string `json:"history"`
	Active  string `json:"active"`
	Alerts  string `json:"alerts"`
	Reports string `json:"reports"`
}

type commitPlan struct {
	Report        *reportPlan    `json:"report,omitempty"`
	Redo          bool           `json:"redo,omitempty"`
	ReportChanges int            `json:"report_changes,omitempty"`
	Alerts        []alertPlan    `json:"alerts,omitempty"`
	Deliveries    []deliveryPlan `json:"deliveries,omitempty"`
	Pending       []pendingPlan  `json:"pending,omitempty"`
}

type reportPlan struct {
	Key            string `json:"key"`
	ID             string `json:"id"`
	Zone           string `json:"zone"`
	Observed       int64  `json:"observed"`
	ReceivedAt     string `json:"received_at"`
	JSON           int    `json:"json"`
	Classification int    `json:"classification"`
	Records        int    `json:"records,omitempty"`
}

type alertPlan struct {
	ID         string     `json:"id"`
	Key        string     `json:"key"`
	Version    int64      `json:"version"`
	Zone       string     `json:"zone"`
	Body       int        `json:"body"`
	AlertAt    int        `json:"alert_at"`
	Active     bool       `json:"active"`
	Score      int64      `json:"score"`
	ReportsKey string     `json:"reports_key"`
	ReportIDs  []string   `json:"report_ids,omitempty"`
	Group      *groupPlan `json:"group,omitempty"`
	Timer      int64      `json:"timer"`
	Seq        int64      `json:"seq,omitempty"`
}

type groupPlan struct {
	Key    string `json:"key"`
	Expect string `json:"expect"`
	TTL    int64  `json:"ttl"`
}

type deliveryPlan struct {
	Op    string `json:"op"`
	Lane  string `json:"lane"`
	Key   string `json:"key"`
	Job   int    `json:"job,omitempty"`
	Score int64  `json:"score"`
}

type pendingPlan struct {
	Key    string `json:"key"`
	Expect int    `json:"expect"`
	Clear  bool   `json:"clear"`
	Member string `json:"member"`
	Score  int64  `json:"score"`
	TTL    int64  `json:"ttl"`
}

// joinRecords encodes the records of a report's changes as a JSON array,
// an absent one as {}.
func joinRecords(records [][]byte) []byte {
	out := []byte{'['}
	for i, r := range records {
		if i > 0 {
			out = append(out, ',')
		}
		if r == nil {
			r = []byte("{}")
		}
		out = append(out, r...)
	}
	return append(out, ']')
}
