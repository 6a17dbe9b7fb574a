package redisstore

import (
	"context"
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
