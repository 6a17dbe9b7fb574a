package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
)

// Secrets the replicas share without configuration.

// SharedSecret returns the secret named name, which the first replica to ask
// generates (32 random bytes) and every later one reads: replicas that must
// check each other's signatures share it without configuration.
func (s *Store) SharedSecret(ctx context.Context, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("generate secret: %w", err)
	}
	key := s.prefix + "secret:" + name
	if err := s.rdb.SetNX(ctx, key, fresh, 0).Err(); err != nil {
		return nil, unavailable("store secret "+name, err)
	}
	b, err := s.rdb.Get(ctx, key).Bytes()
	if err != nil {
		return nil, unavailable("read secret "+name, err)
	}
	return b, nil
}
