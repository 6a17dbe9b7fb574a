package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// The commit path, alerting.Store: reports, the alerts of groups, pending
// threshold reports, and commits through the commit script; alerting.HealStore's
// Redo commits the changes redone from the streams the same way.

// ReportChanges implements alerting.Store. A report's hash names the
// changes it made ("zone seq" pairs) and keeps their records; their frames
// come from the zone's history, so each frame is stored once. A change
// already trimmed from the history is long delivered and is not sent again.
func (s *Store) ReportChanges(ctx context.Context, reportID string) ([]alerting.Change, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.reportKey(reportID), "report", "changes", "classification", "records", "received_at").Result()
	if err != nil {
		return nil, false, unavailable(fmt.Sprintf("read report %s", reportID), err)
	}
	report, _ := vals[0].(string)
	if vals[0] == nil {
		return nil, false, nil
	}
	changes, _ := vals[1].(string)
	class, _ := vals[2].(string)
	received, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(vals[4]))
	var records []json.RawMessage
	if text, ok := vals[3].(string); ok {
		_ = json.Unmarshal([]byte(text), &records) // a report stored before records were kept has none
	}
	var out []alerting.Change
	refs := strings.Split(changes, ",")
	for i, ref := range refs {
		zone, seq, ok := strings.Cut(ref, " ")
		if !ok {
			continue
		}
		found, err := s.rdb.ZRangeByScore(ctx, s.zoneKey(zone, "changes"), &redis.ZRangeBy{Min: seq, Max: seq}).Result()
		if err != nil {
			return nil, true, unavailable(fmt.Sprintf("read change %s of report %s", ref, reportID), err)
		}
		for _, m := range found {
			c, err := historyChange(zone, m)
			if err != nil {
				return nil, true, err
			}
			// A report's change binds its rule's group, and adds the
			// report: what the record says when the hash keeps none.
			rec := &alerting.Record{Group: c.Alert.GroupKey}
			if i < len(records) {
				if rec, err = alerting.DecodeRecord(records[i]); err != nil {
					return nil, true, err
				}
			}
			if i == len(refs)-1 {
				if rec.Report == nil {
					rec.Report = &alerting.ReportRecord{Changes: len(refs)}
				}
				rec.Report.Report, rec.Report.Classification, rec.Report.ReceivedAt = json.RawMessage(report), json.RawMessage(class), received
			}
			if c.Record, err = json.Marshal(rec); err != nil {
				return nil, true, err
			}
			out = append(out, c)
		}
	}
	return out, true, nil
}

// GroupAlert implements alerting.Store.
//
// When this process holds the group's alert (groupCache), one pipelined
// round trip of two plain commands confirms that the group is still bound
// to it and that it is at the same version, and the JSON is neither read
// nor decoded.
func (s *Store) GroupAlert(ctx context.Context, key string) (*alerting.Alert, error) {
	cached, trusted := s.groups.get(key)
	if trusted {
		return cached, nil
	}
	var id string
	if cached != nil {
		pipe := s.rdb.Pipeline()
		bound := pipe.Get(ctx, s.groupKey(key))
		version := pipe.HGet(ctx, s.alertKey(cached.ID), "v")
		_, _ = pipe.Exec(ctx)
		err := bound.Err()
		if err == nil && bound.Val() == cached.ID && version.Val() == strconv.FormatInt(cached.Version, 10) {
			return cached, nil
		}
		id = bound.Val()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		} else if err != nil {
			return nil, unavailable(fmt.Sprintf("read group %s", key), err)
		}
	} else {
		var err error
		id, err = s.rdb.Get(ctx, s.groupKey(key)).Result()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		} else if err != nil {
			return nil, unavailable(fmt.Sprintf("read group %s", key), err)
		}
	}
	a, err := s.Alert(ctx, id)
	if err != nil {
		return nil, err
	}
	s.groups.put(key, a, false, time.Now())
	return a, nil
}

// Alert implements alerting.Store.
func (s *Store) Alert(ctx context.Context, id string) (*alerting.Alert, error) {
	text, err := s.rdb.HGet(ctx, s.alertKey(id), "json").Result()
	if errors.Is(err, redis.Nil) {
		return nil, alerting.Errorf(alerting.ENOTFOUND, "alert %s not found", id)
	}
	if err != nil {
		return nil, unavailable(fmt.Sprintf("read alert %s", id), err)
	}
	return decodeAlert(text)
}

func decodeAlert(text string) (*alerting.Alert, error) {
	var a alerting.Alert
	if err := json.Unmarshal([]byte(text), &a); err != nil {
		return nil, fmt.Errorf("decode alert: %w", err)
	}
	return &a, nil
}

// pendingMember encodes a report counted towards a threshold as a sorted
// set member: what the alert needs of it when it opens.
func pendingMember(p alerting.PendingReport) string {
	exercise := 0
	if p.Exercise {
		exercise = 1
	}
	m := fmt.Sprintf("%s %s %d %d %d %d", p.ID, p.Severity, p.Killed, p.Injured, exercise, p.ObservedAt.UnixNano())
	if p.AttributedTo != "" { // a party id: no spaces
		m += " " + p.AttributedTo
	}
	return m
}

func parsePending(member string) (alerting.PendingReport, error) {
	var p alerting.PendingReport
	var exercise int
	var observed int64
	var sev string
	if _, err := fmt.Sscanf(member, "%s %s %d %d %d %d", &p.ID, &sev, &p.Killed, &p.Injured, &exercise, &observed); err != nil {
		return p, fmt.Errorf("bad pending member %q: %w", member, err)
	}
	p.Severity, p.Exercise, p.ObservedAt = alerting.Severity(sev), exercise == 1, time.Unix(0, observed).UTC()
	if f := strings.Fields(member); len(f) == 7 { // written since the alleged perpetrator is counted
		p.AttributedTo = f[6]
	}
	return p, nil
}

// Pending implements alerting.Store.
func (s *Store) Pending(ctx context.Context, groupKey string) ([]alerting.PendingReport, error) {
	members, err := s.rdb.ZRange(ctx, s.pendingKey(groupKey), 0, -1).Result()
	if err != nil {
		return nil, unavailable("read threshold count "+groupKey, err)
	}
	out := make([]alerting.PendingReport, 0, len(members))
	for _, m := range members {
		p, err := parsePending(m)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Commit implements alerting.Store: CommitAll of one commit.
func (s *Store) Commit(ctx context.Context, c alerting.Commit) ([]alerting.Change, error) {
	changes, err := s.CommitAll(ctx, []alerting.Commit{c})
	if err != nil {
		return nil, err
	}
	return changes[0], nil
}

// CommitAll implements alerting.Store with one Lua script, commitScript,
// for all the commits. The plans go to the script in a header that
// commitArgs writes, and the large parts (frame bodies, reports, records)
// as arguments of their own, so none is escaped, and each alert's JSON
// travels once: inside its change's frame body.
func (s *Store) CommitAll(ctx context.Context, cs []alerting.Commit) ([][]alerting.Change, error) {
	var zones []string
	for _, c := range cs {
		for _, ac := range c.Alerts {
			if !slices.Contains(zones, ac.Alert.Zone) {
				zones = append(zones, ac.Alert.Zone)
			}
		}
	}
	runID, err := s.gate(zones...)
	if err != nil {
		return nil, err
	}
	return s.commitAll(ctx, runID, cs)
}

// Redo implements alerting.HealStore: CommitAll of changes redone from the
// stream, on the incarnation runID the healer is checking, whatever the
// fence says of their zones meanwhile.
func (s *Store) Redo(ctx context.Context, runID string, cs []alerting.Commit) ([][]alerting.Change, error) {
	if !s.fence.on {
		runID = "*"
	}
	return s.commitAll(ctx, runID, cs)
}

func (s *Store) commitAll(ctx context.Context, runID string, cs []alerting.Commit) ([][]alerting.Change, error) {
	args, bodies, records, err := s.commitArgs(runID, cs)
	if err != nil {
		return nil, err
	}
	res, err := commitScript.Run(ctx, s.rdb, nil, args...).Slice()
	if err != nil {
		return nil, s.fail("commit", err)
	}
	applied, _ := res[0].(int64)
	now := time.Now()
	out := make([][]alerting.Change, 0, applied)
	var timer time.Time // the earliest timer the commits set
	seqs := res[2:]
	for i, c := range cs[:applied] {
		changes := make([]alerting.Change, len(c.Alerts))
		reportID := ""
		if c.Report != nil {
			reportID = c.Report.ID
		}
		for j, ac := range c.Alerts {
			s.groups.committed(ac, now)
			seq, _ := seqs[0].(int64)
			seqs = seqs[1:]
			changes[j] = alerting.Change{Zone: ac.Alert.Zone, Seq: seq, Event: ac.Event, ReportID: reportID, Alert: ac.Alert,
				Frame: alerting.ChangeFrame(ac.Alert.Zone, seq, bodies[i][j]), Record: records[i][j]}
			if t := timerAt(ac.Alert); t != nil && (timer.IsZero() || t.Before(timer)) {
				timer = *t
			}
		}
		out = append(out, changes)
	}
	if !timer.IsZero() {
		s.timerSetAt(timer)
	}
	switch res[1] {
	case "ok":
		return out, nil
	case "dup":
		return out, alerting.ErrDuplicate
	case "gap":
		return out, fmt.Errorf("redo change %s/%d: %w", cs[applied].Alerts[0].Alert.Zone, cs[applied].Alerts[0].Seq, alerting.ErrGap)
	default:
		for _, ac := range cs[applied].Alerts {
			s.groups.doubt(ac, now)
		}
		return out, alerting.ErrStale
	}
}

// boolArg is a flag as the scripts read it.
func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}
