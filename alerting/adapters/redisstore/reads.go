package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// Reads of alerts and reports, for the HTTP API (web.Alerts) and the
// engine's amendments (alerting.Store's Report and AlertHolds).

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
