package redisstore

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting"
)

// A rule's faults live in three hashes keyed by rule id: how many
// failures, since when, and the latest (JSON). Writing the rule (or
// deleting it, or dismissing its fault) removes its fields.
func (s *Store) ruleFaultKeys() (count, since, last string) {
	return s.prefix + "rule-faults:count", s.prefix + "rule-faults:since", s.prefix + "rule-faults:last"
}

// RecordRuleFault counts a failure of a rule's condition on report r.
func (s *Store) RecordRuleFault(ctx context.Context, f alerting.RuleFailure, r *alerting.Report, at time.Time) error {
	last, err := json.Marshal(alerting.RuleFault{Rule: f.Rule, At: at.UTC(), Report: r.ID, Zone: r.Zone, Error: f.Reason()})
	if err != nil {
		return err
	}
	count, since, latest := s.ruleFaultKeys()
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, count, f.Rule, 1)
		p.HSetNX(ctx, since, f.Rule, at.UTC().Format(time.RFC3339Nano))
		p.HSet(ctx, latest, f.Rule, last)
		return nil
	})
	if err != nil {
		return unavailable("record the failure of rule "+f.Rule, err)
	}
	return nil
}

// RuleFaults lists the rules whose conditions failed, by rule id.
func (s *Store) RuleFaults(ctx context.Context) ([]alerting.RuleFault, error) {
	count, since, latest := s.ruleFaultKeys()
	var counts, starts, lasts *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		counts, starts, lasts = p.HGetAll(ctx, count), p.HGetAll(ctx, since), p.HGetAll(ctx, latest)
		return nil
	})
	if err != nil {
		return nil, unavailable("read the rules' failures", err)
	}
	out := []alerting.RuleFault{}
	for rule, text := range lasts.Val() {
		var f alerting.RuleFault
		if json.Unmarshal([]byte(text), &f) != nil {
			continue
		}
		f.Rule = rule
		_ = json.Unmarshal([]byte(counts.Val()[rule]), &f.Count)
		f.Since, _ = time.Parse(time.RFC3339Nano, starts.Val()[rule])
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out, nil
}

// ClearRuleFault forgets a rule's failures; false when it had none.
func (s *Store) ClearRuleFault(ctx context.Context, rule string) (bool, error) {
	var removed *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		removed = s.clearRuleFault(ctx, p, rule)
		return nil
	})
	if err != nil {
		return false, unavailable("dismiss the failures of rule "+rule, err)
	}
	return removed.Val() > 0, nil
}

// clearRuleFault queues the removal of a rule's failures; the command
// returned says whether it had any.
func (s *Store) clearRuleFault(ctx context.Context, p redis.Pipeliner, rule string) *redis.IntCmd {
	count, since, latest := s.ruleFaultKeys()
	p.HDel(ctx, count, rule)
	p.HDel(ctx, since, rule)
	return p.HDel(ctx, latest, rule)
}
