package redisstore

import (
	"context"
	"crypto/rand"
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

// Options configures a Store. Client is required.
type Options struct {
	Client redis.UniversalClient
	// Prefix starts every key; "" means "tl:". Several truceline
	// deployments can share one Redis with different prefixes.
	Prefix string
	// HistoryLimit is how many recent changes each zone keeps for clients
	// that resume; 0 means 2000.
	HistoryLimit int
	// MaxResume is the most missed changes a resume may replay before the
	// client gets a snapshot instead; 0 means 1000.
	MaxResume int
	// Fence, when set, keeps the store from writing alert state or serving
	// zone history until a Healer has checked this Redis against the
	// streams, and again whenever Redis restarts or is wiped (fence.go).
	// Off, the store trusts Redis as it finds it (tests, tools).
	Fence bool
}

// Store is the Redis implementation of alerting.Store, and the history and
// snapshots the WebSocket gateway serves.
type Store struct {
	rdb          redis.UniversalClient
	prefix       string
	historyLimit int
	maxResume    int
	groups       groupCache
	fence        fence
}

var (
	_ alerting.Store  = (*Store)(nil)
	_ alerting.Timers = (*Store)(nil)
)

// New returns a Store.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redisstore: Options.Client is required")
	}
	s := &Store{rdb: o.Client, prefix: o.Prefix, historyLimit: o.HistoryLimit, maxResume: o.MaxResume}
	s.fence.on = o.Fence
	if s.prefix == "" {
		s.prefix = "tl:"
	}
	if s.historyLimit <= 0 {
		s.historyLimit = 2000
	}
	if s.maxResume <= 0 {
		s.maxResume = 1000
	}
	return s, nil
}

// Keys. Zone ids are [a-z0-9-], report and alert ids [A-Za-z0-9._:-], so
// none can forge another key's shape.
func (s *Store) alertKey(id string) string        { return s.prefix + "alert:" + id }
func (s *Store) alertReportsKey(id string) string { return s.prefix + "alert:" + id + ":reports" }
func (s *Store) reportKey(id string) string       { return s.prefix + "report:" + id }
func (s *Store) pendingKey(key string) string     { return s.prefix + "pending:" + key }
func (s *Store) groupKey(key string) string       { return s.prefix + "group:" + key }
func (s *Store) zoneKey(zone, k string) string    { return s.prefix + "zone:" + zone + ":" + k }

// unavailable reports a failed Redis call as the application error
// "unavailable" (HTTP 503, a NATS redelivery), keeping the cause for logs.
func unavailable(op string, err error) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE, Message: "the state store (Redis) is unavailable; try again", Cause: fmt.Errorf("%s: %w", op, err)}
}

// Ping checks that Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return unavailable("redis ping", err)
	}
	return nil
}

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
		for _, f := range found {
			c, err := alerting.DecodeChange([]byte(f))
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

// CommittedChanges returns the zone's changes with sequence numbers in
// (after, upto] that its history still holds, oldest first, with their
// records, and the zone's sequence number: what the broker stores in
// ALERTS when nobody published it (broker.ChangeSource).
func (s *Store) CommittedChanges(ctx context.Context, zone string, after, upto int64) ([]alerting.Change, int64, error) {
	pipe := s.rdb.Pipeline()
	seqCmd := pipe.Get(ctx, s.zoneKey(zone, "seq"))
	framesCmd := pipe.ZRangeByScore(ctx, s.zoneKey(zone, "changes"), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(after, 10), Max: strconv.FormatInt(upto, 10)})
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, unavailable(fmt.Sprintf("read the changes of %s after %d", zone, after), err)
	}
	seq, err := seqCmd.Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("the sequence number of %s: %w", zone, err)
	}
	byReport := map[string][]alerting.Change{} // a report's changes, with their records
	var out []alerting.Change
	for _, f := range framesCmd.Val() {
		c, err := alerting.DecodeChange([]byte(f))
		if err != nil {
			return nil, 0, fmt.Errorf("change of %s in the history: %w", zone, err)
		}
		if c.ReportID != "" {
			rcs, ok := byReport[c.ReportID]
			if !ok {
				if rcs, _, err = s.ReportChanges(ctx, c.ReportID); err != nil {
					return nil, 0, err
				}
				byReport[c.ReportID] = rcs
			}
			for _, rc := range rcs {
				if rc.Zone == zone && rc.Seq == c.Seq {
					c.Record = rc.Record
				}
			}
		}
		out = append(out, c)
	}
	return out, seq, nil
}

// Report returns a stored report with when it was received and how it was
// classified.
func (s *Store) Report(ctx context.Context, id string) (*alerting.StoredReport, error) {
	vals, err := s.rdb.HMGet(ctx, s.reportKey(id), "report", "received_at", "classification").Result()
	if err != nil {
		return nil, unavailable(fmt.Sprintf("read report %s", id), err)
	}
	sr, err := decodeStoredReport(id, vals)
	if err == nil && sr == nil {
		err = alerting.Errorf(alerting.ENOTFOUND, "report %s not found", id)
	}
	return sr, err
}

// decodeStoredReport reads a report hash's fields; nil when it is absent.
func decodeStoredReport(id string, vals []any) (*alerting.StoredReport, error) {
	text, ok := vals[0].(string)
	if !ok {
		return nil, nil
	}
	var sr alerting.StoredReport
	if err := json.Unmarshal([]byte(text), &sr.Report); err != nil {
		return nil, fmt.Errorf("decode report %s: %w", id, err)
	}
	sr.ReceivedAt, _ = time.Parse(time.RFC3339Nano, fmt.Sprint(vals[1]))
	if class, ok := vals[2].(string); ok {
		_ = json.Unmarshal([]byte(class), &sr.Classification)
	}
	return &sr, nil
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
// for all the commits. The plans go to the script as flat arguments, in the
// order commitScript describes, so neither side encodes or decodes them as
// documents, and each alert's JSON travels once: inside its change's frame
// body.
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
	args := make([]any, 0, 6+len(cs)*40)
	args = append(args, s.fenceArgs(runID)...)
	args = append(args, s.historyLimit, s.timersKey(), s.deliveriesKey(), len(cs))
	bodies := make([][][]byte, len(cs))
	records := make([][][]byte, len(cs))
	for i, c := range cs {
		var err error
		if args, bodies[i], records[i], err = s.appendPlan(args, c); err != nil {
			return nil, err
		}
	}
	res, err := commitScript.Run(ctx, s.rdb, nil, args...).Slice()
	if err != nil {
		return nil, s.fail("commit", err)
	}
	applied, _ := res[0].(int64)
	now := time.Now()
	out := make([][]alerting.Change, 0, applied)
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
		}
		out = append(out, changes)
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

// appendPlan appends c's plan to the script's arguments, and returns the
// frame body and the record of each of its alert changes.
func (s *Store) appendPlan(args []any, c alerting.Commit) ([]any, [][]byte, [][]byte, error) {
	reportID := ""
	var records, stored [][]byte
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
		if records, err = c.Records(reportJSON, class); err != nil {
			return nil, nil, nil, err
		}
		// The report's hash keeps the records without the report and its
		// classification, which it holds in fields of their own, and only
		// when they say more than ReportChanges can tell from the rest.
		if c.RecordsNeeded() {
			if stored, err = c.Records(nil, nil); err != nil {
				return nil, nil, nil, err
			}
		}
		args = append(args, s.reportKey(reportID), reportID, s.zoneKey(r.Zone, "reports"), r.ObservedAt.UnixMilli(),
			reportJSON, c.ReceivedAt.UTC().Format(time.RFC3339Nano), class, joinRecords(stored))
	} else {
		var err error
		if records, err = c.Records(nil, nil); err != nil {
			return nil, nil, nil, err
		}
		args = append(args, "", "", "", 0, "", "", "", "")
	}
	deliveries := 0
	for _, ac := range c.Alerts {
		deliveries += len(ac.Enqueue)
		if ac.Settle != nil {
			deliveries++
		}
	}
	args = append(args, boolArg(c.Redo), c.ReportChanges, len(c.Alerts), deliveries, len(c.Pending))
	bodies := make([][]byte, len(c.Alerts))
	for i, ac := range c.Alerts {
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
		bodies[i] = body
		var timer int64
		if t := timerAt(a); t != nil {
			timer = t.UnixMilli()
		}
		groupKey, groupExpect, groupTTL := "", "", int64(0)
		if ac.GroupKey != "" {
			groupKey, groupExpect, groupTTL = s.groupKey(ac.GroupKey), ac.PrevGroupAlert, ac.GroupTTL.Milliseconds()
		}
		args = append(args, a.ID, s.alertKey(a.ID), a.Version, body, at+1, a.Zone, boolArg(a.Active()), a.UpdatedAt.UnixMilli(),
			s.zoneKey(a.Zone, "seq"), s.zoneKey(a.Zone, "changes"), s.zoneKey(a.Zone, "active"), s.zoneKey(a.Zone, "alerts"),
			s.alertReportsKey(a.ID), groupKey, groupExpect, groupTTL, timer, ac.Seq, len(ac.ReportIDs))
		for _, id := range ac.ReportIDs {
			args = append(args, id)
		}
	}
	for _, ac := range c.Alerts {
		for _, d := range ac.Enqueue {
			job, err := json.Marshal(d)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("encode delivery %s: %w", d.Key, err)
			}
			args = append(args, "add", s.laneKey(d.Urgent), d.Key, job, ac.Alert.UpdatedAt.UnixMilli())
		}
		if st := ac.Settle; st != nil {
			op, score := "done", int64(0)
			if st.RetryAt != nil {
				op, score = "retry", st.RetryAt.UnixMilli()
			}
			args = append(args, op, s.laneKey(st.Delivery.Urgent), st.Delivery.Key, "", score)
		}
	}
	for _, pc := range c.Pending {
		member, score := "", int64(0)
		if pc.Add != nil {
			member, score = pendingMember(*pc.Add), pc.Add.ObservedAt.UnixMilli()
		}
		args = append(args, s.pendingKey(pc.GroupKey), pc.Expect, boolArg(pc.Clear), member, score, pc.TTL.Milliseconds())
	}
	return args, bodies, records, nil
}

// joinRecords encodes the records of a report's changes as a JSON array,
// an absent one as {}; no records at all as "".
func joinRecords(records [][]byte) []byte {
	if records == nil {
		return nil
	}
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

// boolArg is a flag as the scripts read it.
func boolArg(b bool) int {
	if b {
		return 1
	}
	return 0
}

// timerAt is when the escalator must next look at an alert (its next
// escalation step, or a request for information's deadline), or nil.
func timerAt(a *alerting.Alert) *time.Time { return a.TimerAt() }

func (s *Store) timersKey() string { return s.prefix + "timers" }

// ClaimDue implements alerting.Timers.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, error) {
	ids, err := claimScript.Run(ctx, s.rdb, []string{s.timersKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, unavailable("claim timers", err)
	}
	return ids, nil
}

// SetTimer implements alerting.Timers: nil removes the alert's timer.
func (s *Store) SetTimer(ctx context.Context, alertID string, at *time.Time) error {
	var err error
	if at == nil {
		err = s.rdb.ZRem(ctx, s.timersKey(), alertID).Err()
	} else {
		err = s.rdb.ZAdd(ctx, s.timersKey(), redis.Z{Score: float64(at.UnixMilli()), Member: alertID}).Err()
	}
	if err != nil {
		return unavailable("set timer", err)
	}
	return nil
}

// Timers returns how many escalation timers are pending.
func (s *Store) Timers(ctx context.Context) (int64, error) {
	n, err := s.rdb.ZCard(ctx, s.timersKey()).Result()
	if err != nil {
		return 0, unavailable("count timers", err)
	}
	return n, nil
}

// AlertReports returns the ids of every report of an alert, oldest first,
// from offset, at most limit of them, and how many there are in all.
func (s *Store) AlertReports(ctx context.Context, id string, offset, limit int) ([]string, int, error) {
	pipe := s.rdb.Pipeline()
	exists := pipe.Exists(ctx, s.alertKey(id))
	total := pipe.LLen(ctx, s.alertReportsKey(id))
	ids := pipe.LRange(ctx, s.alertReportsKey(id), int64(offset), int64(offset+limit-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, unavailable(fmt.Sprintf("read reports of alert %s", id), err)
	}
	if exists.Val() == 0 {
		return nil, 0, alerting.Errorf(alerting.ENOTFOUND, "alert %s not found", id)
	}
	return ids.Val(), int(total.Val()), nil
}

// AlertHolds implements alerting.Store: whether the report is in the
// alert's complete list.
func (s *Store) AlertHolds(ctx context.Context, alertID, reportID string) (bool, error) {
	_, err := s.rdb.LPos(ctx, s.alertReportsKey(alertID), reportID, redis.LPosArgs{}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, unavailable(fmt.Sprintf("read reports of alert %s", alertID), err)
	}
	return true, nil
}

// Seq returns the zone's current sequence number.
func (s *Store) Seq(ctx context.Context, zone string) (int64, error) {
	runID, err := s.gate(zone)
	if err != nil {
		return 0, err
	}
	n, err := seqScript.Run(ctx, s.rdb, []string{s.zoneKey(zone, "seq")}, s.fenceArgs(runID)...).Int64()
	if err != nil {
		return 0, s.fail(fmt.Sprintf("read seq of %s", zone), err)
	}
	return n, nil
}

// StoredSeq implements alerting.HealStore: the zone's sequence number as
// Redis has it, fence or not.
func (s *Store) StoredSeq(ctx context.Context, zone string) (int64, error) {
	n, err := s.rdb.Get(ctx, s.zoneKey(zone, "seq")).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable(fmt.Sprintf("read seq of %s", zone), err)
	}
	return n, nil
}

// Snapshot returns the zone's active alerts and the sequence number they are
// current at, most severe and most recent first.
func (s *Store) Snapshot(ctx context.Context, zone string) (int64, []*alerting.Alert, error) {
	runID, err := s.gate(zone)
	if err != nil {
		return 0, nil, err
	}
	args := append(s.fenceArgs(runID), s.alertKey(""))
	res, err := snapshotScript.Run(ctx, s.rdb, []string{s.zoneKey(zone, "seq"), s.zoneKey(zone, "active")}, args...).StringSlice()
	if err != nil {
		return 0, nil, s.fail(fmt.Sprintf("snapshot of %s", zone), err)
	}
	seq, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return 0, nil, fmt.Errorf("snapshot of %s: bad seq %q", zone, res[0])
	}
	alerts := make([]*alerting.Alert, 0, len(res)-1)
	for _, text := range res[1:] {
		a, err := decodeAlert(text)
		if err != nil {
			return 0, nil, fmt.Errorf("snapshot of %s: %w", zone, err)
		}
		alerts = append(alerts, a)
	}
	alerting.SortByUrgency(alerts)
	return seq, alerts, nil
}

// ChangesSince returns the frames of the zone's changes after seq, in order,
// and the zone's sequence number; ok is false when they cannot all be given
// (see sinceScript) and the client needs a snapshot instead.
func (s *Store) ChangesSince(ctx context.Context, zone string, after int64) (frames [][]byte, seq int64, ok bool, err error) {
	runID, err := s.gate(zone)
	if err != nil {
		return nil, 0, false, err
	}
	args := append(s.fenceArgs(runID), after, s.maxResume)
	res, err := sinceScript.Run(ctx, s.rdb, []string{s.zoneKey(zone, "seq"), s.zoneKey(zone, "changes")}, args...).Slice()
	if err != nil {
		return nil, 0, false, s.fail(fmt.Sprintf("changes of %s since %d", zone, after), err)
	}
	seq, _ = res[0].(int64)
	if seq < 0 {
		return nil, 0, false, nil
	}
	frames = make([][]byte, 0, len(res)-1)
	for _, f := range res[1:] {
		text, _ := f.(string)
		frames = append(frames, []byte(text))
	}
	return frames, seq, true, nil
}

// Alerts lists alerts of the given zones, most severe and most recent first.
func (s *Store) Alerts(ctx context.Context, f alerting.AlertFilter) ([]*alerting.Alert, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	var ids []string
	for _, zone := range f.Zones {
		var zoneIDs []string
		var err error
		switch {
		case !f.Since.IsZero():
			zoneIDs, err = s.rdb.ZRevRangeByScore(ctx, s.zoneKey(zone, "alerts"), &redis.ZRangeBy{
				Min: strconv.FormatInt(f.Since.UnixMilli(), 10), Max: "+inf", Count: int64(limit) * 4}).Result()
		case f.State != "" && f.State != alerting.StateResolved:
			zoneIDs, err = s.rdb.SMembers(ctx, s.zoneKey(zone, "active")).Result()
		default:
			zoneIDs, err = s.rdb.ZRevRange(ctx, s.zoneKey(zone, "alerts"), 0, int64(limit)*4-1).Result()
		}
		if err != nil {
			return nil, unavailable(fmt.Sprintf("list alerts of %s", zone), err)
		}
		ids = append(ids, zoneIDs...)
	}
	if len(ids) == 0 {
		return []*alerting.Alert{}, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.alertKey(id), "json")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("list alerts", err)
	}
	out := make([]*alerting.Alert, 0, len(ids))
	for _, cmd := range cmds {
		text, err := cmd.Result()
		if err != nil {
			continue // deleted between the index read and now
		}
		a, err := decodeAlert(text)
		if err != nil {
			return nil, err
		}
		if f.State == "" || a.State == f.State {
			out = append(out, a)
		}
	}
	alerting.SortByUrgency(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Delivery queue: a hash of deliveries by key and a sorted set per lane,
// scored by when each is due.
func (s *Store) deliveriesKey() string { return s.prefix + "deliveries" }
func (s *Store) laneKey(urgent bool) string {
	if urgent {
		return s.prefix + "deliveries:urgent"
	}
	return s.prefix + "deliveries:normal"
}

var _ alerting.DeliveryQueue = (*Store)(nil)

// ClaimDeliveries implements alerting.DeliveryQueue: it leases up to limit
// due deliveries of one lane, so that one replica works on each at a time.
func (s *Store) ClaimDeliveries(ctx context.Context, urgent bool, now time.Time, limit int, lease time.Duration) ([]alerting.Delivery, error) {
	jobs, err := claimDeliveriesScript.Run(ctx, s.rdb, []string{s.laneKey(urgent), s.deliveriesKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("claim deliveries", err)
	}
	out := make([]alerting.Delivery, 0, len(jobs))
	for _, j := range jobs {
		var d alerting.Delivery
		if err := json.Unmarshal([]byte(j), &d); err != nil {
			return nil, fmt.Errorf("decode delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DeferDelivery implements alerting.DeliveryQueue: the delivery comes due
// again at at, without an attempt recorded.
func (s *Store) DeferDelivery(ctx context.Context, d alerting.Delivery, at time.Time) error {
	if err := s.rdb.ZAddXX(ctx, s.laneKey(d.Urgent), redis.Z{Score: float64(at.UnixMilli()), Member: d.Key}).Err(); err != nil {
		return unavailable("defer delivery "+d.Key, err)
	}
	return nil
}

// DropDelivery implements alerting.DeliveryQueue: it takes a delivery whose
// alert or notification is gone off the queue.
func (s *Store) DropDelivery(ctx context.Context, d alerting.Delivery) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, s.laneKey(d.Urgent), d.Key)
		p.HDel(ctx, s.deliveriesKey(), d.Key)
		return nil
	})
	if err != nil {
		return unavailable("drop delivery "+d.Key, err)
	}
	return nil
}

// QueuedDeliveries says how many deliveries wait in each lane, due or not.
func (s *Store) QueuedDeliveries(ctx context.Context) (normal, urgent int64, err error) {
	var n, u *redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		n, u = p.ZCard(ctx, s.laneKey(false)), p.ZCard(ctx, s.laneKey(true))
		return nil
	})
	if err != nil {
		return 0, 0, unavailable("count deliveries", err)
	}
	return n.Val(), u.Val(), nil
}

// SharedSecret returns the secret named name, which the first replica to ask
// generates (32 random bytes) and every later one reads: replicas that must
// check each other's signatures share it without configuration.
func (s *Store) SharedSecret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	key := s.prefix + "secret:" + name
	if err := s.rdb.SetNX(ctx, key, fresh, 0).Err(); err != nil {
		return nil, unavailable("store secret "+name, err)
	}
	b, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, unavailable("read secret "+name, err)
	}
	return b, nil
}

// ZoneReports returns the stored reports of a zone observed in [from, to),
// oldest first, at most limit of them, and whether there were more.
func (s *Store) ZoneReports(ctx context.Context, zone string, from, to time.Time, limit int) ([]*alerting.StoredReport, bool, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.zoneKey(zone, "reports"), ByScore: true,
		Start: strconv.FormatInt(from.UnixMilli(), 10), Stop: "(" + strconv.FormatInt(to.UnixMilli(), 10), Count: int64(limit) + 1}).Result()
	if err != nil {
		return nil, false, unavailable("list reports of "+zone, err)
	}
	more := len(ids) > limit
	if more {
		ids = ids[:limit]
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.reportKey(id), "report", "received_at", "classification")
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, false, unavailable("read reports of "+zone, err)
		}
	}
	out := make([]*alerting.StoredReport, 0, len(ids))
	for i, cmd := range cmds {
		sr, err := decodeStoredReport(ids[i], cmd.Val())
		if err != nil {
			return nil, false, err
		}
		if sr != nil {
			out = append(out, sr)
		}
	}
	return out, more, nil
}
