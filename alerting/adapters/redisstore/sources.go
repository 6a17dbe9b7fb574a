package redisstore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

var _ alerting.Sources = (*Store)(nil)

func (s *Store) sourceKey(monitor string) string { return s.prefix + "source:" + monitor }
func (s *Store) sourceTimersKey() string         { return s.prefix + "source-timers" }

// watchSourcesScript starts watching each monitor that has no state, and
// makes a timer due now for each that has none.
//
// KEYS: 1 source timers zset. ARGV: 1 now ms, 2 source key prefix, then
// monitor ids.
var watchSourcesScript = redis.NewScript(`
for i = 3, #ARGV do
  local id = ARGV[i]
  redis.call('HSETNX', ARGV[2] .. id, 'since', ARGV[1])
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], id)
end
return 0
`)

// heardScript records a heartbeat: the later of the stored and the new
// one, and a timer due at the beat.
//
// KEYS: 1 source hash, 2 source timers zset. ARGV: 1 heard ms, 2 monitor.
var heardScript = redis.NewScript(`
redis.call('HSETNX', KEYS[1], 'since', ARGV[1])
local heard = tonumber(redis.call('HGET', KEYS[1], 'heard') or '0')
if tonumber(ARGV[1]) > heard then
  redis.call('HSET', KEYS[1], 'heard', ARGV[1])
end
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 0
`)

// setSourceTimerScript sets or removes a source's timer unless the source
// was heard after the state the caller judged.
//
// KEYS: 1 source hash, 2 source timers zset. ARGV: 1 heard ms the caller
// saw ('0' for never), 2 monitor, 3 timer ms (” removes it).
var setSourceTimerScript = redis.NewScript(`
local heard = redis.call('HGET', KEYS[1], 'heard') or '0'
if heard ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
end
return 1
`)

// WatchSources implements alerting.Sources.
func (s *Store) WatchSources(ctx context.Context, monitors []string, now time.Time) error {
	if len(monitors) == 0 {
		return nil
	}
	args := make([]any, 0, 2+len(monitors))
	args = append(args, now.UnixMilli(), s.prefix+"source:")
	for _, m := range monitors {
		args = append(args, m)
	}
	if err := watchSourcesScript.Run(ctx, s.rdb, []string{s.sourceTimersKey()}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("watch sources", err)
	}
	return nil
}

// SourceStates implements alerting.Sources.
func (s *Store) SourceStates(ctx context.Context, monitors []string) (map[string]alerting.Source, error) {
	cmds := make([]*redis.SliceCmd, len(monitors))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range monitors {
			cmds[i] = p.HMGet(ctx, s.sourceKey(m), "since", "heard")
		}
		return nil
	})
	if err != nil {
		return nil, unavailable("read sources", err)
	}
	out := make(map[string]alerting.Source, len(monitors))
	for i, m := range monitors {
		v := cmds[i].Val()
		since, ok := millis(v[0])
		if !ok {
			continue
		}
		src := alerting.Source{Monitor: m, Since: since}
		if heard, ok := millis(v[1]); ok {
			src.Heard = &heard
		}
		out[m] = src
	}
	return out, nil
}

func millis(v any) (time.Time, bool) {
	str, ok := v.(string)
	if !ok {
		return time.Time{}, false
	}
	ms, err := strconv.ParseInt(str, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms).UTC(), true
}

// Heard implements alerting.Sources.
func (s *Store) Heard(ctx context.Context, monitor string, at time.Time) error {
	if err := heardScript.Run(ctx, s.rdb, []string{s.sourceKey(monitor), s.sourceTimersKey()}, at.UnixMilli(), monitor).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("record a heartbeat", err)
	}
	s.timerSetAt(at)
	return nil
}

// ClaimDueSources implements alerting.Sources.
func (s *Store) ClaimDueSources(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]string, time.Time, error) {
	out, err := claimScript.Run(ctx, s.rdb, []string{s.sourceTimersKey()}, now.UnixMilli(), limit, lease.Milliseconds()).StringSlice()
	if err != nil {
		return nil, time.Time{}, unavailable("claim source timers", err)
	}
	next, ids := claimed(out)
	return ids, next, nil
}

// SetSourceTimer implements alerting.Sources.
func (s *Store) SetSourceTimer(ctx context.Context, src alerting.Source, at *time.Time) error {
	heard, timer := "0", ""
	if src.Heard != nil {
		heard = strconv.FormatInt(src.Heard.UnixMilli(), 10)
	}
	if at != nil {
		timer = strconv.FormatInt(at.UnixMilli(), 10)
	}
	if err := setSourceTimerScript.Run(ctx, s.rdb, []string{s.sourceKey(src.Monitor), s.sourceTimersKey()}, heard, src.Monitor, timer).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return unavailable("set a source's timer", err)
	}
	if at != nil {
		s.timerSetAt(*at)
	}
	return nil
}

var _ alerting.SilentAlertReader = (*Store)(nil)

// SilentAlerts returns the source_silent alerts of a zone that were active
// at or after since: those changed since (the zone's index of alerts is
// scored by their last change) and those active now.
func (s *Store) SilentAlerts(ctx context.Context, zone string, since time.Time) ([]*alerting.Alert, error) {
	pipe := s.rdb.Pipeline()
	changed := pipe.ZRangeByScore(ctx, s.zoneKey(zone, "alerts"), &redis.ZRangeBy{Min: strconv.FormatInt(since.UnixMilli(), 10), Max: "+inf"})
	active := pipe.SMembers(ctx, s.zoneKey(zone, "active"))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, unavailable("list the silent alerts of "+zone, err)
	}
	ids := append(changed.Val(), active.Val()...)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := []*alerting.Alert{}
	if len(ids) == 0 {
		return out, nil
	}
	pipe = s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.alertKey(id), "json")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("list the silent alerts of "+zone, err)
	}
	for _, cmd := range cmds {
		text, err := cmd.Result()
		if err != nil {
			continue // deleted between the index read and now
		}
		if !strings.Contains(text, string(alerting.CategorySourceSilent)) {
			continue // not worth decoding
		}
		a, err := decodeAlert(text)
		if err != nil {
			return nil, err
		}
		if a.Category == alerting.CategorySourceSilent {
			out = append(out, a)
		}
	}
	return out, nil
}
