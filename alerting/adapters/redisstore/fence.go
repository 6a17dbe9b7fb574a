package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// The fence keeps truceline from writing to, or serving boards from, a Redis
// that may have gone back in time, until it is checked against the streams.
//
// Redis comes back behind what it acknowledged when it restarts after a
// crash inside its fsync window, when a lagging replica is promoted, when a
// backup is restored, or when it is wiped. Every one of those is a new
// incarnation (a new run_id: a restart, another server) or a missing epoch
// key (FLUSHALL). So every script that writes alert state, or reads what a
// board is sent, first compares the server's run_id and the epoch key with
// what this process verified, inside the script, atomically with its work:
// no write can land on an incarnation nobody checked. When they differ the
// script does nothing and fails with fenceError, the store calls the trip
// function, and the Healer checks each zone against the streams, reopening
// the zones that are in step at once and the others once healed.
//
// Checking costs one EXISTS and one INFO server per script call, nothing per
// report.

// fenceError is how a script says the fence tripped.
const fenceError = "TRUCELINE_FENCE"

// fenceLua is the check each fenced script starts with: ARGV epoch key and
// run_id; run_id "*" is an unfenced store (tests, tools).
const fenceLua = `
local function fence_tripped(epoch_key, run_id)
  if run_id == '*' then return false end
  if redis.call('EXISTS', epoch_key) == 0 then return true end
  local ok, info = pcall(redis.call, 'INFO', 'server')
  local id = ''
  if ok and type(info) == 'string' then id = string.match(info, 'run_id:(%x+)') or '' end
  return id ~= run_id
end
`

// fencedArgsLua starts a script whose ARGV begin with the fence: it checks
// the fence, and arg() then reads the arguments after it in order.
const fencedArgsLua = fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
local i = 2
local function arg()
  i = i + 1
  return ARGV[i]
end
`

// fence is what this process verified of Redis.
type fence struct {
	mu      sync.Mutex
	on      bool            // fencing at all (Options.Fence)
	runID   string          // the incarnation verified
	open    bool            // runID is verified
	healing map[string]bool // zones still behind the streams
	trip    func()
}

// errVerifying is the answer while no incarnation is verified.
func errVerifying() error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE,
		Message: "the state store (Redis) is being checked against the streams after a restart; try again in a moment"}
}

// errHealing is the answer for a zone being healed.
func errHealing(zone string) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE,
		Message: fmt.Sprintf("zone %s is being restored from the streams after Redis lost recent changes; try again in a moment", zone)}
}

// gate returns the run_id a fenced script must find, or why the zones may
// not be used now.
func (s *Store) gate(zones ...string) (string, error) {
	f := &s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return "*", nil
	}
	if !f.open {
		return "", errVerifying()
	}
	for _, z := range zones {
		if f.healing[z] {
			return "", errHealing(z)
		}
	}
	return f.runID, nil
}

// fenceArgs are a fenced script's first two arguments.
func (s *Store) fenceArgs(runID string) []any { return []any{s.epochKey(), runID} }

func (s *Store) epochKey() string { return s.prefix + "epoch" }

// tripped reports whether err says a fenced script found Redis changed; if
// so it closes the fence, kicks the verifier and returns the error to give.
func (s *Store) tripped(err error) (error, bool) {
	if err == nil || !strings.Contains(err.Error(), fenceError) {
		return nil, false
	}
	s.trip()
	return errVerifying(), true
}

// trip closes the fence and kicks the verifier: Redis is not what was
// verified.
func (s *Store) trip() {
	f := &s.fence
	f.mu.Lock()
	wasOpen := f.on && f.open
	f.open = false
	trip := f.trip
	f.mu.Unlock()
	if wasOpen && trip != nil {
		trip()
	}
}

// fail maps a failed script call: a tripped fence, or Redis unavailable.
func (s *Store) fail(op string, err error) error {
	if ferr, ok := s.tripped(err); ok {
		return ferr
	}
	return unavailable(op, err)
}

// OnFenceTrip sets the function called when a fenced script finds Redis is
// not the incarnation verified (Healer.Kick).
func (s *Store) OnFenceTrip(fn func()) {
	s.fence.mu.Lock()
	defer s.fence.mu.Unlock()
	s.fence.trip = fn
}

// Incarnation implements alerting.HealStore: Redis's run_id ("" for a
// server that has none, such as the in-memory fallback) and whether the
// epoch key exists.
func (s *Store) Incarnation(ctx context.Context) (runID string, epoch bool, err error) {
	pipe := s.rdb.Pipeline()
	info := pipe.Info(ctx, "server")
	exists := pipe.Exists(ctx, s.epochKey())
	_, _ = pipe.Exec(ctx)
	if err := exists.Err(); err != nil {
		return "", false, unavailable("read the epoch", err)
	}
	for line := range strings.SplitSeq(info.Val(), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			runID = v
		}
	}
	return runID, exists.Val() == 1, nil
}

// HasState implements alerting.HealStore: whether Redis holds any of
// truceline's state (configuration, users, the audit log), as opposed to
// being empty.
func (s *Store) HasState(ctx context.Context) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.versionKey(), s.usersKey(), s.auditHeadKey()).Result()
	if err != nil {
		return false, unavailable("look for state", err)
	}
	return n > 0, nil
}

// SetEpoch implements alerting.HealStore: it marks this Redis as checked
// against the streams (a wipe removes the mark).
func (s *Store) SetEpoch(ctx context.Context, epoch string) error {
	if err := s.rdb.SetNX(ctx, s.epochKey(), epoch, 0).Err(); err != nil {
		return unavailable("set the epoch", err)
	}
	return nil
}

// OpenFence implements alerting.HealStore: the incarnation runID is
// verified, and every zone but those behind the streams may be used.
func (s *Store) OpenFence(runID string, behind []string) {
	f := &s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runID, f.open = runID, true
	f.healing = map[string]bool{}
	for _, z := range behind {
		f.healing[z] = true
	}
}

// ZoneHealed implements alerting.HealStore: the zone may be used again.
func (s *Store) ZoneHealed(zone string) {
	f := &s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.healing, zone)
}

// Healing returns the zones being healed, sorted.
func (s *Store) Healing() []string {
	f := &s.fence
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.healing))
	for z := range f.healing {
		out = append(out, z)
	}
	slices.Sort(out)
	return out
}

// probeScript does nothing but check the fence.
var probeScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
return 1
`)

// Probe implements alerting.HealStore: it checks the fence, tripping it
// when Redis changed since it was verified, so an idle truceline notices a
// restart too.
func (s *Store) Probe(ctx context.Context) error {
	runID, err := s.gate()
	if err != nil {
		return err
	}
	if err := probeScript.Run(ctx, s.rdb, nil, s.fenceArgs(runID)...).Err(); err != nil {
		return s.fail("probe", err)
	}
	return nil
}

// getScript reads one key behind the fence: what decides who may do what
// (users, tokens, sessions) is not read from a Redis that may have brought
// a revoked token back.
//
// KEYS: 1 the key. ARGV: 1-2 the fence.
var getScript = redis.NewScript(fenceLua + `
if fence_tripped(ARGV[1], ARGV[2]) then return redis.error_reply('` + fenceError + `') end
return redis.call('GET', KEYS[1])
`)

// fencedGet is GET behind the fence; redis.Nil when the key is absent.
func (s *Store) fencedGet(ctx context.Context, key string) (string, error) {
	runID, err := s.gate()
	if err != nil {
		return "", err
	}
	text, err := getScript.Run(ctx, s.rdb, []string{key}, s.fenceArgs(runID)...).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", s.fail("read "+key, err)
	}
	return text, err
}
