package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
}

// Store is the Redis implementation of alerting.Store, and the history and
// snapshots the WebSocket gateway serves.
type Store struct {
	rdb          redis.UniversalClient
	prefix       string
	historyLimit int
	maxResume    int
}

var _ alerting.Store = (*Store)(nil)

// New returns a Store.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redisstore: Options.Client is required")
	}
	s := &Store{rdb: o.Client, prefix: o.Prefix, historyLimit: o.HistoryLimit, maxResume: o.MaxResume}
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

// ReportFrames implements alerting.Store. A report's hash names the changes
// it made ("zone seq" pairs); their frames come from the zone's history, so
// each frame is stored once. A change already trimmed from the history is
// long delivered and is not sent again.
func (s *Store) ReportFrames(ctx context.Context, reportID string) ([][]byte, bool, error) {
	vals, err := s.rdb.HMGet(ctx, s.reportKey(reportID), "report", "changes").Result()
	if err != nil {
		return nil, false, unavailable(fmt.Sprintf("read report %s", reportID), err)
	}
	if vals[0] == nil {
		return nil, false, nil
	}
	changes, _ := vals[1].(string)
	var frames [][]byte
	for ref := range strings.SplitSeq(changes, ",") {
		zone, seq, ok := strings.Cut(ref, " ")
		if !ok {
			continue
		}
		found, err := s.rdb.ZRangeByScore(ctx, s.zoneKey(zone, "changes"), &redis.ZRangeBy{Min: seq, Max: seq}).Result()
		if err != nil {
			return nil, true, unavailable(fmt.Sprintf("read change %s of report %s", ref, reportID), err)
		}
		for _, f := range found {
			frames = append(frames, []byte(f))
		}
	}
	return frames, true, nil
}

// Report returns a stored report and when it was received.
func (s *Store) Report(ctx context.Context, id string) (*alerting.Report, time.Time, error) {
	vals, err := s.rdb.HMGet(ctx, s.reportKey(id), "report", "received_at").Result()
	if err != nil {
		return nil, time.Time{}, unavailable(fmt.Sprintf("read report %s", id), err)
	}
	text, ok := vals[0].(string)
	if !ok {
		return nil, time.Time{}, alerting.Errorf(alerting.ENOTFOUND, "report %s not found", id)
	}
	var r alerting.Report
	if err := json.Unmarshal([]byte(text), &r); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode report %s: %w", id, err)
	}
	received, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(vals[1]))
	return &r, received, nil
}

// GroupAlert implements alerting.Store.
func (s *Store) GroupAlert(ctx context.Context, key string) (*alerting.Alert, error) {
	id, err := s.rdb.Get(ctx, s.groupKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(fmt.Sprintf("read group %s", key), err)
	}
	return s.Alert(ctx, id)
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

// Commit implements alerting.Store with one Lua script.
func (s *Store) Commit(ctx context.Context, c alerting.Commit) (alerting.Change, error) {
	a := c.Alert
	alertJSON, err := json.Marshal(a)
	if err != nil {
		return alerting.Change{}, fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	reportID, reportJSON, reportKey := "", []byte(nil), s.prefix+"report:-"
	if c.Report != nil {
		reportID, reportKey = c.Report.ID, s.reportKey(c.Report.ID)
		if reportJSON, err = json.Marshal(c.Report); err != nil {
			return alerting.Change{}, fmt.Errorf("encode report %s: %w", reportID, err)
		}
	}
	body, err := alerting.EncodeChangeBody(c.Event, reportID, a)
	if err != nil {
		return alerting.Change{}, err
	}
	bindGroup, groupKey := "0", s.prefix+"group:-"
	if c.GroupKey != "" {
		bindGroup, groupKey = "1", s.groupKey(c.GroupKey)
	}
	active := "0"
	if a.Active() {
		active = "1"
	}
	keys := []string{
		s.alertKey(a.ID), s.zoneKey(a.Zone, "seq"), s.zoneKey(a.Zone, "changes"), s.zoneKey(a.Zone, "active"),
		s.zoneKey(a.Zone, "alerts"), reportKey, groupKey, s.alertReportsKey(a.ID),
	}
	res, err := commitScript.Run(ctx, s.rdb, keys,
		a.ID, a.Version, alertJSON, body, a.Zone, active, a.UpdatedAt.UnixMilli(), s.historyLimit,
		reportJSON, c.PrevGroupAlert, c.GroupTTL.Milliseconds(), bindGroup, c.ReceivedAt.UTC().Format(time.RFC3339Nano), reportID,
	).Slice()
	if err != nil {
		return alerting.Change{}, unavailable(fmt.Sprintf("commit alert %s", a.ID), err)
	}
	if ok, _ := res[0].(int64); ok != 1 {
		if res[1] == "dup" {
			return alerting.Change{}, alerting.ErrDuplicate
		}
		return alerting.Change{}, alerting.ErrStale
	}
	seq, _ := res[1].(int64)
	frame, _ := res[2].(string)
	return alerting.Change{Zone: a.Zone, Seq: seq, Event: c.Event, ReportID: reportID, Alert: a, Frame: []byte(frame)}, nil
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

// Seq returns the zone's current sequence number.
func (s *Store) Seq(ctx context.Context, zone string) (int64, error) {
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
	res, err := snapshotScript.Run(ctx, s.rdb, []string{s.zoneKey(zone, "seq"), s.zoneKey(zone, "active")}, s.alertKey("")).StringSlice()
	if err != nil {
		return 0, nil, unavailable(fmt.Sprintf("snapshot of %s", zone), err)
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
	res, err := sinceScript.Run(ctx, s.rdb, []string{s.zoneKey(zone, "seq"), s.zoneKey(zone, "changes")}, after, s.maxResume).Slice()
	if err != nil {
		return nil, 0, false, unavailable(fmt.Sprintf("changes of %s since %d", zone, after), err)
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
		if f.State != "" && f.State != alerting.StateResolved {
			zoneIDs, err = s.rdb.SMembers(ctx, s.zoneKey(zone, "active")).Result()
		} else {
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
