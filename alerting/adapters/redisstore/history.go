package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// Each zone's sequence number and history of changes: the WebSocket
// gateway's snapshots and gap fills, the healer's StoredSeq and the
// broker's ChangeSource.

// A zone's history (zoneKey(zone, "changes")) is a sorted set of its recent
// changes scored by their seq. The commit script stores each as the member
//
//	<seq> <body>
//
// the change's sequence number in decimal, a space, and its frame's body
// (alerting.ChangeBody: "event":…,"alert":{…}}), never the frame's head,
// which alerting.ChangeFrame adds when the change is read back. The seq
// keeps members unique whatever their bodies. Versions of truceline before
// this one stored the whole frame ({"type":"alert","zone":…,"seq":…,…});
// such members are read as they are, so a Redis written by one reads the
// same after an upgrade. Every reader of a history turns its members into
// frames with historyFrame.

// historyFrame returns the change frame that member of zone's history
// stands for.
func historyFrame(zone, member string) ([]byte, error) {
	if strings.HasPrefix(member, "{") { // a whole frame, as older versions stored it
		return []byte(member), nil
	}
	n, body, ok := strings.Cut(member, " ")
	seq, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil || seq <= 0 {
		return nil, fmt.Errorf("a member of the history of %s that is not \"<seq> <body>\": %.40q", zone, member)
	}
	return alerting.ChangeFrame(zone, seq, body), nil
}

// historyChange decodes member of zone's history (historyFrame).
func historyChange(zone, member string) (alerting.Change, error) {
	frame, err := historyFrame(zone, member)
	if err != nil {
		return alerting.Change{}, err
	}
	return alerting.DecodeChange(frame)
}

// CommittedChanges returns the zone's changes with sequence numbers in
// (after, upto] that its history still holds, oldest first, with their
// records, and the zone's sequence number: what the broker stores in
// ALERTS when nobody published it (broker.ChangeSource).
func (s *Store) CommittedChanges(ctx context.Context, zone string, after, upto int64) ([]alerting.Change, int64, error) {
	pipe := s.rdb.Pipeline()
	seqCmd := pipe.Get(ctx, s.zoneKey(zone, "seq"))
	membersCmd := pipe.ZRangeByScore(ctx, s.zoneKey(zone, "changes"), &redis.ZRangeBy{
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
	for _, m := range membersCmd.Val() {
		c, err := historyChange(zone, m)
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
	for _, m := range res[1:] {
		text, _ := m.(string)
		frame, err := historyFrame(zone, text)
		if err != nil {
			return nil, 0, false, err
		}
		frames = append(frames, frame)
	}
	return frames, seq, true, nil
}
