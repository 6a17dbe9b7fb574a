package redisstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/alerting/alertingtest"
)

func connect(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestEmbeddedRedisServerKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	emb, err := redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: dir, NoFallback: true})
	if err != nil {
		t.Fatal(err)
	}
	if !emb.Persistent() {
		t.Fatal("a redis-server child must be persistent")
	}
	if err := connect(t, emb.URL()).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	emb.Kill() // as a crash would
	emb, err = redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: dir, NoFallback: true})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown(ctx)
	if v, err := connect(t, emb.URL()).Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("after a restart: %q, %v", v, err)
	}
}

func TestEmbeddedFallsBackToMemoryWithoutRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no redis-server here
	ctx := context.Background()
	if _, err := redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: t.TempDir(), NoFallback: true}); !errors.Is(err, redisstore.ErrNoRedisServer) {
		t.Fatalf("with NoFallback: %v, want ErrNoRedisServer", err)
	}
	emb, err := redisstore.StartEmbedded(ctx, redisstore.EmbeddedOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer emb.Shutdown(ctx)
	if emb.Persistent() {
		t.Error("the in-memory fallback must say it is not persistent")
	}
	c := connect(t, emb.URL())
	if err := c.Set(ctx, "k", "v", 100*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	alertingtest.Eventually(t, 5*time.Second, "the key's TTL to expire", func() bool {
		return errors.Is(c.Get(ctx, "k").Err(), redis.Nil)
	})
}
