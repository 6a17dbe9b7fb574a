package redisstore

import (
	"context"
	"log/slog"

	"github.com/truceline/truceline/alerting"
)

// CommitArgs are the commit script's arguments for cs on an unfenced store
// (commitArgs).
func (s *Store) CommitArgs(cs []alerting.Commit) ([]any, error) {
	args, _, _, err := s.commitArgs("*", cs)
	return args, err
}

// RunCommitScript runs the commit script with args as they are.
func (s *Store) RunCommitScript(ctx context.Context, args []any) ([]any, error) {
	return commitScript.Run(ctx, s.rdb, nil, args...).Slice()
}

// StartMemory starts the in-memory Redis that StartEmbedded falls back to
// when redis-server is not installed.
func StartMemory() (*Embedded, error) { return startMemory("", slog.New(slog.DiscardHandler)) }
