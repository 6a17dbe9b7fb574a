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

// What the Healer reads and writes to bring Redis back to the streams (the
// fence's part is in fence.go).

var _ alerting.HealStore = (*Store)(nil)

func (s *Store) checkpointKey() string { return s.prefix + "checkpoint:reports" }

// LastChangeAt implements alerting.HealStore: when the zone's newest change
// in its history was made (its alert's updated_at).
func (s *Store) LastChangeAt(ctx context.Context, zone string) (time.Time, error) {
	frames, err := s.rdb.ZRange(ctx, s.zoneKey(zone, "changes"), -1, -1).Result()
	if err != nil {
		return time.Time{}, unavailable("read the history of "+zone, err)
	}
	if len(frames) == 0 {
		return time.Time{}, nil
	}
	c, err := alerting.DecodeChange([]byte(frames[0]))
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
		data, err := json.Marshal(u)
		if err != nil {
			return false, err
		}
		old, err := s.rdb.Get(ctx, s.userKey(u.Name)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, unavailable("read user", err)
		}
		if old == string(data) {
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
		data, err := json.Marshal(t)
		if err != nil {
			return false, err
		}
		old, err := s.rdb.Get(ctx, s.tokenKey(t.ID)).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return false, unavailable("read token", err)
		}
		if old != string(data) {
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
