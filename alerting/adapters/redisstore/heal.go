package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// What the Healer reads and writes to bring Redis back to the streams (the
// fence's part is in fence.go).

var (
	_ alerting.HealStore    = (*Store)(nil)
	_ alerting.CompactStore = (*Store)(nil)
)

func (s *Store) checkpointKey() string { return s.prefix + "checkpoint:reports" }

// LastChangeAt implements alerting.HealStore: when the zone's newest change
// in its history was made (its alert's updated_at).
func (s *Store) LastChangeAt(ctx context.Context, zone string) (time.Time, error) {
	members, err := s.rdb.ZRange(ctx, s.zoneKey(zone, "changes"), -1, -1).Result()
	if err != nil {
		return time.Time{}, unavailable("read the history of "+zone, err)
	}
	if len(members) == 0 {
		return time.Time{}, nil
	}
	c, err := historyChange(zone, members[0])
	if err != nil {
		return time.Time{}, fmt.Errorf("the last change of %s: %w", zone, err)
	}
	return c.Alert.UpdatedAt, nil
}

// Processed implements alerting.HealStore.
func (s *Store) Processed(ctx context.Context, ids []string) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.Exists(ctx, s.reportKey(id))
	}
	if len(ids) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, unavailable("look up reports", err)
		}
	}
	out := make([]bool, len(ids))
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
}

// Checkpoint implements alerting.HealStore: the position in VIOLATIONS up to
// which every report was processed when it was last written; 0 when never.
func (s *Store) Checkpoint(ctx context.Context) (uint64, error) {
	n, err := s.rdb.Get(ctx, s.checkpointKey()).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, unavailable("read the checkpoint", err)
	}
	return n, nil
}

// checkpointScript sets the checkpoint behind the fence: a checkpoint
// written into a Redis that went back in time would hide the reports it
// lost.
//
// KEYS: 1 checkpoint. ARGV: 1-2 the fence, 3 the position.
var checkpointScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
redis.call('SET', KEYS[1], ARGV[3])
return 1
`)

// SetCheckpoint implements alerting.HealStore.
func (s *Store) SetCheckpoint(ctx context.Context, runID string, at uint64) error {
	if !s.fence.on {
		runID = "*"
	}
	args := append(s.fenceArgs(runID), strconv.FormatUint(at, 10))
	if err := checkpointScript.Run(ctx, s.rdb, []string{s.checkpointKey()}, args...).Err(); err != nil {
		return s.fail("set the checkpoint", err)
	}
	return nil
}

// RestoreConfig replaces the whole configuration with cfg at version, as
// it was recorded in the streams, unless Redis holds that version or a
// newer one already. It reports whether it replaced it.
func (s *Store) RestoreConfig(ctx context.Context, cfg alerting.Config, version int64) (bool, error) {
	objects, err := cfg.Objects()
	if err != nil {
		return false, err
	}
	restored := false
	err = s.rdb.Watch(ctx, func(tx *redis.Tx) error {
		current, err := tx.Get(ctx, s.versionKey()).Int64()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		if current >= version {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range alerting.Kinds {
				p.Del(ctx, s.kindKey(k))
			}
			for _, o := range objects {
				p.HSet(ctx, s.kindKey(o.Kind), o.ID, []byte(o.JSON))
			}
			p.Set(ctx, s.versionKey(), version, 0)
			return nil
		})
		restored = err == nil
		return err
	}, s.versionKey())
	if err != nil {
		return false, unavailable("restore the configuration", err)
	}
	return restored, nil
}

// RestoreUsers writes the users and API tokens recorded in the streams back
// into Redis where Redis differs (a token revoked there is revoked here), and
// removes the users recorded as deleted. It reports whether it changed
// anything.
func (s *Store) RestoreUsers(ctx context.Context, users []*alerting.User, deleted []string, tokens []*alerting.Token) (bool, error) {
	changed := false
	for _, u := range users {
		data, differs, err := s.differs(ctx, s.userKey(u.Name), u)
		if err != nil {
			return false, err
		}
		if !differs {
			continue
		}
		changed = true
		if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, s.userKey(u.Name), data, 0)
			p.SAdd(ctx, s.usersKey(), u.Name)
			return nil
		}); err != nil {
			return false, unavailable("restore user", err)
		}
	}
	for _, t := range tokens {
		_, differs, err := s.differs(ctx, s.tokenKey(t.ID), t)
		if err != nil {
			return false, err
		}
		if differs {
			changed = true
			if err := s.PutToken(ctx, t); err != nil {
				return false, err
			}
		}
	}
	for _, name := range deleted {
		n, err := s.rdb.Exists(ctx, s.userKey(name)).Result()
		if err != nil {
			return false, unavailable("read user", err)
		}
		if n == 0 {
			continue
		}
		changed = true
		if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, s.userKey(name))
			p.SRem(ctx, s.usersKey(), name)
			return nil
		}); err != nil {
			return false, unavailable("remove user", err)
		}
	}
	return changed, nil
}

// differs encodes v and reports whether key holds something else.
func (s *Store) differs(ctx context.Context, key string, v any) ([]byte, bool, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, false, err
	}
	old, err := s.rdb.Get(ctx, key).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, unavailable("read "+key, err)
	}
	return data, old != string(data), nil
}

// DropSessions signs everybody out: after Redis went back in time, a session
// signed out since may have come back.
func (s *Store) DropSessions(ctx context.Context) (int, error) {
	n := 0
	iter := s.rdb.Scan(ctx, 0, s.sessionKey("*"), 1000).Iterator()
	for iter.Next(ctx) {
		if err := s.rdb.Del(ctx, iter.Val()).Err(); err != nil {
			return n, unavailable("drop sessions", err)
		}
		n++
	}
	if err := iter.Err(); err != nil {
		return n, unavailable("drop sessions", err)
	}
	return n, nil
}

// ChangedAlerts implements alerting.CompactStore: the alerts of the zone's
// index updated at or after since, read after the zone's sequence number,
// so they are at it or later; batch of them at a time.
func (s *Store) ChangedAlerts(ctx context.Context, zone string, since time.Time, batch int, fn func([]alerting.CompactAlert) error) (int64, error) {
	seq, err := s.StoredSeq(ctx, zone)
	if err != nil {
		return 0, err
	}
	ids, err := s.rdb.ZRangeByScore(ctx, s.zoneKey(zone, "alerts"), &redis.ZRangeBy{
		Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return 0, unavailable("list alerts of "+zone, err)
	}
	for chunk := range slices.Chunk(ids, max(batch, 1)) {
		pipe := s.rdb.Pipeline()
		states := make([]*redis.StringCmd, len(chunk))
		reports := make([]*redis.StringSliceCmd, len(chunk))
		for i, id := range chunk {
			states[i] = pipe.HGet(ctx, s.alertKey(id), "json")
			reports[i] = pipe.LRange(ctx, s.alertReportsKey(id), 0, -1)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return 0, unavailable("read alerts of "+zone, err)
		}
		out := make([]alerting.CompactAlert, 0, len(chunk))
		for i := range chunk {
			text, err := states[i].Result()
			if err != nil {
				continue // gone
			}
			out = append(out, alerting.CompactAlert{Alert: json.RawMessage(text), Reports: reports[i].Val(), ID: chunk[i]})
		}
		if err := fn(out); err != nil {
			return 0, err
		}
	}
	return seq, nil
}

// loadScript writes alerts from the compacted record into a zone that is
// behind it, and moves the zone's sequence number there. The zone's
// history before that point stays empty: a board resuming from it gets a
// snapshot.
//
// KEYS: none. ARGV: 1-2 the fence, 3 zone seq key, 4 seq, 5 timers key,
// 6 deliveries key, 7 number of alerts, then each alert: key, id, version,
// JSON, zone, active (1/0), score (ms), active key, index key, reports key,
// group key ("" for none), group TTL (ms), timer (ms; 0 for none), number
// of reports, the reports, number of deliveries, each: lane key, key, job
// JSON, score.
var loadScript = redis.NewScript(fencedArgsLua + `
local seq_key, seq = arg(), tonumber(arg())
local timers_key, deliveries_key = arg(), arg()
if tonumber(redis.call('GET', seq_key) or '0') >= seq then return 0 end
for n = 1, tonumber(arg()) do
  local a = {key = arg(), id = arg(), version = tonumber(arg()), json = arg(), zone = arg(), active = arg() == '1',
    score = arg(), active_key = arg(), index_key = arg(), reports_key = arg(), group_key = arg(), group_ttl = arg(),
    timer = arg()}
  local reports = {}
  for r = 1, tonumber(arg()) do reports[r] = arg() end
  local newer = tonumber(redis.call('HGET', a.key, 'v') or '0') < a.version
  if newer then
    redis.call('HSET', a.key, 'v', string.format('%d', a.version), 'json', a.json, 'zone', a.zone)
    if a.active then redis.call('SADD', a.active_key, a.id) else redis.call('SREM', a.active_key, a.id) end
    redis.call('ZADD', a.index_key, a.score, a.id)
    if a.timer ~= '0' then redis.call('ZADD', timers_key, a.timer, a.id) else redis.call('ZREM', timers_key, a.id) end
    redis.call('DEL', a.reports_key)
    for first = 1, #reports, 256 do
      redis.call('RPUSH', a.reports_key, unpack(reports, first, math.min(first + 255, #reports)))
    end
    if a.group_key ~= '' then redis.call('SET', a.group_key, a.id, 'PX', a.group_ttl) end
  end
  for d = 1, tonumber(arg()) do
    local lane, key, job, score = arg(), arg(), arg(), arg()
    if newer and redis.call('HSETNX', deliveries_key, key, job) == 1 then redis.call('ZADD', lane, score, key) end
  end
end
redis.call('SET', seq_key, seq)
return 1
`)

// LoadAlerts implements alerting.CompactStore.
func (s *Store) LoadAlerts(ctx context.Context, runID, zone string, seq int64, alerts []alerting.CompactAlert) error {
	if !s.fence.on {
		runID = "*"
	}
	args := append(s.fenceArgs(runID), s.zoneKey(zone, "seq"), seq, s.timersKey(), s.deliveriesKey(), len(alerts))
	ttl := (alerting.DefaultWindow + 24*time.Hour).Milliseconds()
	for _, ca := range alerts {
		a, err := decodeAlert(string(ca.Alert))
		if err != nil {
			return err
		}
		var timer int64
		if t := timerAt(a); t != nil {
			timer = t.UnixMilli()
		}
		group := ""
		if a.GroupKey != "" {
			group = s.groupKey(a.GroupKey)
		}
		args = append(args, s.alertKey(a.ID), a.ID, a.Version, string(ca.Alert), a.Zone, boolArg(a.Active()), a.UpdatedAt.UnixMilli(),
			s.zoneKey(a.Zone, "active"), s.zoneKey(a.Zone, "alerts"), s.alertReportsKey(a.ID), group, ttl, timer, len(ca.Reports))
		for _, id := range ca.Reports {
			args = append(args, id)
		}
		deliveries := alerting.OpenDeliveries(a)
		args = append(args, len(deliveries))
		for _, d := range deliveries {
			job, err := json.Marshal(d)
			if err != nil {
				return err
			}
			args = append(args, s.laneKey(d.Urgent), d.Key, job, a.UpdatedAt.UnixMilli())
		}
	}
	if err := loadScript.Run(ctx, s.rdb, nil, args...).Err(); err != nil {
		return s.fail("load the compacted record of "+zone, err)
	}
	return nil
}

// TryLease implements alerting.CompactStore.
func (s *Store) TryLease(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.prefix+"lease:"+name, "1", ttl).Result()
	if err != nil {
		return false, unavailable("take the lease "+name, err)
	}
	return ok, nil
}
