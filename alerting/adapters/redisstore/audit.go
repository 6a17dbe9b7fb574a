package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// The audit log: a list of entry JSON, oldest first (list index = seq-1
// while nobody tampered with it), and a hash holding the seq and hash of the
// last entry, which appends compare and set.
func (s *Store) auditKey() string     { return s.prefix + "audit" }
func (s *Store) auditHeadKey() string { return s.prefix + "audit:head" }

const (
	// auditPage is the most entries AuditEntries returns and VerifyAudit
	// reads at once.
	auditPage = 1000
	// auditAttempts is how often AppendAudit tries when other appenders
	// keep moving the head.
	auditAttempts = 16
)

// appendAuditScript appends one chained entry if the head is still the one
// its chain was computed from.
//
// KEYS: 1 list, 2 head hash. ARGV: 1 expected head seq ("0" for an empty
// log), 2 expected head hash ("" for an empty log), 3 new seq, 4 new hash,
// 5 entry JSON. It returns 1, or 0 when the head moved.
var appendAuditScript = redis.NewScript(`
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash')
local seq = head[1] or '0'
local hash = head[2] or ''
if seq ~= ARGV[1] or hash ~= ARGV[2] then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[5])
redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'hash', ARGV[4])
return 1
`)

// AppendAudit records e as the next entry of the audit log and returns it
// with Seq, Prev and Hash filled (and At, set to now when zero). It reads
// the head, chains e to it and appends only if the head has not moved
// meanwhile, retrying otherwise, so appenders on any number of replicas
// keep one chain.
func (s *Store) AppendAudit(ctx context.Context, e alerting.AuditEntry) (alerting.AuditEntry, error) {
	if e.At.IsZero() {
		e.At = time.Now()
	}
	var ps []alerting.FieldProblem
	if e.Actor == "" {
		ps = append(ps, alerting.FieldProblem{Field: "actor", Problem: "is required"})
	}
	if e.Action == "" {
		ps = append(ps, alerting.FieldProblem{Field: "action", Problem: "is required"})
	}
	if y := e.At.UTC().Year(); y < 1 || y > 9999 {
		ps = append(ps, alerting.FieldProblem{Field: "at", Problem: "must be within the years 1 to 9999"})
	}
	if len(ps) > 0 {
		return e, &alerting.Error{Code: alerting.EINVALID, Message: "audit entry is invalid", Fields: ps}
	}
	for attempt := range auditAttempts {
		seq, hash, err := s.AuditHead(ctx)
		if err != nil {
			return e, err
		}
		var prev *alerting.AuditEntry
		if seq > 0 {
			prev = &alerting.AuditEntry{Seq: seq, Hash: hash}
		}
		next := alerting.Chain(prev, e)
		data, err := json.Marshal(next)
		if err != nil {
			return e, fmt.Errorf("encode audit entry: %w", err)
		}
		ok, err := appendAuditScript.Run(ctx, s.rdb, []string{s.auditKey(), s.auditHeadKey()},
			strconv.FormatInt(seq, 10), hash, strconv.FormatInt(next.Seq, 10), next.Hash, data).Int()
		if err != nil {
			return e, unavailable("append audit entry", err)
		}
		if ok == 1 {
			return next, nil
		}
		// Another appender got there first: back off a little, at random,
		// so that contenders spread out.
		wait := time.Duration(rand.Int64N(int64(attempt+1) * int64(time.Millisecond)))
		select {
		case <-ctx.Done():
			return e, unavailable("append audit entry", ctx.Err())
		case <-time.After(wait):
		}
	}
	return e, alerting.Errorf(alerting.ECONFLICT, "the audit log is busy: gave up after %d attempts; try again", auditAttempts)
}

// AuditHead returns the seq and hash of the last entry as recorded at
// append time: 0 and "" for an empty log.
func (s *Store) AuditHead(ctx context.Context) (seq int64, hash string, err error) {
	vals, err := s.rdb.HMGet(ctx, s.auditHeadKey(), "seq", "hash").Result()
	if err != nil {
		return 0, "", unavailable("read audit head", err)
	}
	return parseAuditHead(vals)
}

func parseAuditHead(vals []any) (int64, string, error) {
	text, _ := vals[0].(string)
	hash, _ := vals[1].(string)
	if text == "" {
		return 0, hash, nil
	}
	seq, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, "", alerting.Errorf(alerting.EINTERNAL, "the audit head holds seq %q, not a number: it was tampered with", text)
	}
	return seq, hash, nil
}

// decodeAuditEntry decodes one list element; pos counts from 1.
func decodeAuditEntry(text string, pos int64) (alerting.AuditEntry, error) {
	var e alerting.AuditEntry
	if err := json.Unmarshal([]byte(text), &e); err != nil {
		return e, alerting.Errorf(alerting.EINTERNAL, "the audit log element at position %d is not an audit entry: it was tampered with", pos)
	}
	return e, nil
}

// AuditEntries returns the entries with seq > afterSeq, oldest first, at
// most limit of them (at most 1000; limit <= 0 means 1000).
//
// The entry after afterSeq is at list index afterSeq while the log is
// intact. Reading does not rely on it: it starts there, steps back over
// earlier elements with a larger seq (entries before them were removed) and
// skips elements with a smaller one (entries were inserted), so that a
// tampered log reads as what it is and VerifyAudit on the pages finds the
// tampering.
func (s *Store) AuditEntries(ctx context.Context, afterSeq int64, limit int) ([]alerting.AuditEntry, error) {
	if limit <= 0 || limit > auditPage {
		limit = auditPage
	}
	afterSeq = max(afterSeq, 0)
	n, err := s.rdb.LLen(ctx, s.auditKey()).Result()
	if err != nil {
		return nil, unavailable("read audit log", err)
	}
	start := min(afterSeq, n)
	for start > 0 {
		from := max(0, start-64)
		texts, err := s.rdb.LRange(ctx, s.auditKey(), from, start-1).Result()
		if err != nil {
			return nil, unavailable("read audit log", err)
		}
		j := int64(len(texts))
		for j > 0 {
			e, err := decodeAuditEntry(texts[j-1], from+j)
			if err != nil {
				return nil, err
			}
			if e.Seq <= afterSeq {
				break
			}
			j--
		}
		if len(texts) == 0 || j > 0 {
			start = from + j
			break
		}
		start = from
	}
	out := make([]alerting.AuditEntry, 0, min(int64(limit), max(n-start, 0)))
	for idx := start; len(out) < limit; {
		texts, err := s.rdb.LRange(ctx, s.auditKey(), idx, idx+int64(limit)-1).Result()
		if err != nil {
			return nil, unavailable("read audit log", err)
		}
		if len(texts) == 0 {
			break
		}
		for k, text := range texts {
			e, err := decodeAuditEntry(text, idx+int64(k)+1)
			if err != nil {
				return nil, err
			}
			if e.Seq > afterSeq {
				out = append(out, e)
				if len(out) == limit {
					break
				}
			}
		}
		idx += int64(len(texts))
	}
	return out, nil
}

// VerifyAudit reads the whole audit log, in pages of 1000, and checks it
// against its head with alerting.VerifyAudit. It returns every problem found
// (positions count the list's elements from 1; an element that is not an
// entry at all is one too) and how many elements it checked. The head and
// the length are read together first, so entries appended while it reads
// are left for the next check.
func (s *Store) VerifyAudit(ctx context.Context) ([]alerting.AuditProblem, int64, error) {
	var headCmd *redis.SliceCmd
	var lenCmd *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		headCmd = p.HMGet(ctx, s.auditHeadKey(), "seq", "hash")
		lenCmd = p.LLen(ctx, s.auditKey())
		return nil
	})
	if err != nil {
		return nil, 0, unavailable("read audit head", err)
	}
	headSeq, headHash, err := parseAuditHead(headCmd.Val())
	var problems []alerting.AuditProblem
	if err != nil {
		problems = append(problems, alerting.AuditProblem{Problem: alerting.ErrorMessage(err)})
		headSeq = -1
	}
	n := lenCmd.Val()
	entries := make([]alerting.AuditEntry, 0, n)
	positions := make([]int, 0, n) // list position of each decoded entry
	var undecodable []alerting.AuditProblem
	for from := int64(0); from < n; from += auditPage {
		texts, err := s.rdb.LRange(ctx, s.auditKey(), from, min(from+auditPage, n)-1).Result()
		if err != nil {
			return nil, 0, unavailable("read audit log", err)
		}
		for k, text := range texts {
			pos := from + int64(k) + 1
			e, err := decodeAuditEntry(text, pos)
			if err != nil {
				undecodable = append(undecodable, alerting.AuditProblem{Position: int(pos), Problem: alerting.ErrorMessage(err)})
				continue
			}
			entries = append(entries, e)
			positions = append(positions, int(pos))
		}
	}
	found := alerting.VerifyAudit(entries, headSeq, headHash)
	for i := range found {
		switch p := found[i].Position; {
		case p >= 1 && p <= len(positions):
			found[i].Position = positions[p-1]
		case p == len(positions)+1:
			found[i].Position = int(n) + 1
		}
	}
	// Merge, in the order of the list.
	for len(found) > 0 || len(undecodable) > 0 {
		if len(undecodable) == 0 || (len(found) > 0 && found[0].Position <= undecodable[0].Position) {
			problems, found = append(problems, found[0]), found[1:]
		} else {
			problems, undecodable = append(problems, undecodable[0]), undecodable[1:]
		}
	}
	return problems, n, nil
}

// restoreAuditScript appends entries read back from the stream AUDIT where
// the list ends right before each, and moves the head to the last.
//
// KEYS: 1 list, 2 head hash. ARGV: triples of seq, hash, entry JSON, in
// order. It returns how many it appended.
var restoreAuditScript = redis.NewScript(`
local n = 0
for i = 1, #ARGV, 3 do
  local seq = tonumber(ARGV[i])
  if redis.call('LLEN', KEYS[1]) == seq - 1 then
    redis.call('RPUSH', KEYS[1], ARGV[i + 2])
    redis.call('HSET', KEYS[2], 'seq', ARGV[i], 'hash', ARGV[i + 1])
    n = n + 1
  end
end
return n
`)

// RestoreAudit appends entries the list lacks (read back from the stream
// AUDIT, oldest first): each where the list ends right before it. It
// returns how many it appended.
func (s *Store) RestoreAudit(ctx context.Context, entries []alerting.AuditEntry) (int, error) {
	args := make([]any, 0, 3*len(entries))
	for _, e := range entries {
		data, err := json.Marshal(e)
		if err != nil {
			return 0, fmt.Errorf("encode audit entry %d: %w", e.Seq, err)
		}
		args = append(args, e.Seq, e.Hash, data)
	}
	if len(args) == 0 {
		return 0, nil
	}
	n, err := restoreAuditScript.Run(ctx, s.rdb, []string{s.auditKey(), s.auditHeadKey()}, args...).Int()
	if err != nil {
		return 0, unavailable("restore audit entries", err)
	}
	return n, nil
}

// AuditLength is how many elements the audit log's list holds.
func (s *Store) AuditLength(ctx context.Context) (int64, error) {
	n, err := s.rdb.LLen(ctx, s.auditKey()).Result()
	if err != nil {
		return 0, unavailable("read audit log", err)
	}
	return n, nil
}
