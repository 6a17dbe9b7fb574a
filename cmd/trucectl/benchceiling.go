package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

const (
	redisCeilingWorkers = 32      // concurrent round trips, as the engine's workers
	redisCeilingValue   = 3 << 10 // bytes HSET per round trip, about a stored report and its change
	ceilingTimeout      = 2 * time.Minute
)

// measureCeilings measures, on truceline's own NATS and Redis, what they do
// without truceline: a failed ceiling is reported, and the bench goes on.
func (b *benchRun) measureCeilings(ctx context.Context, rdb *redisProbe) *ceilings {
	cfg := b.cfg
	// A message as large as the bench's largest report.
	payload := appendReport(nil, reportID(cfg.run, cfg.total-1), longest(cfg.zones), benchCategories[0], reporterName(cfg.reporters-1), time.Now())
	c := &ceilings{JetStream: &ceiling{Ops: cfg.ceilingCount, MessageBytes: len(payload), Concurrency: 1}}
	c.JetStream.done(jetStreamCeiling(ctx, cfg.natsURL, cfg.run, cfg.ceilingCount, payload))
	if rdb == nil {
		return c
	}
	c.RedisEval = &ceiling{Ops: cfg.ceilingCount, MessageBytes: redisCeilingValue, Concurrency: redisCeilingWorkers}
	c.RedisEval.done(rdb.evalCeiling(ctx, cfg.run, cfg.ceilingCount))
	c.RedisPing = &ceiling{Ops: cfg.ceilingCount, Concurrency: redisCeilingWorkers}
	c.RedisPing.done(rdb.pingCeiling(ctx, cfg.ceilingCount))
	return c
}

func (c *ceiling) done(elapsed time.Duration, err error) {
	if err != nil {
		c.Error = err.Error()
		return
	}
	c.Elapsed = elapsed
	c.PerSecond = float64(c.Ops) / elapsed.Seconds()
}

func longest(ss []string) string {
	var l string
	for _, s := range ss {
		if len(s) > len(l) {
			l = s
		}
	}
	return l
}

// jetStreamCeiling publishes n messages asynchronously into a temporary
// file-storage stream (set up as VIOLATIONS is, deduplicating on
// Nats-Msg-Id) while a pull consumer on another connection takes and
// acknowledges them: the time from the first publish to the last
// acknowledgement. The stream is deleted afterwards, whatever happens.
func jetStreamCeiling(ctx context.Context, natsURL, run string, n int, payload []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, ceilingTimeout, errors.New("the JetStream ceiling took too long"))
	defer cancel()
	pub, err := nats.Connect(natsURL, nats.Name("trucectl-bench-ceiling-publisher"))
	if err != nil {
		return 0, fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
	}
	defer pub.Close()
	sub, err := nats.Connect(natsURL, nats.Name("trucectl-bench-ceiling-consumer"))
	if err != nil {
		return 0, fmt.Errorf("connect to NATS at %s: %w", natsURL, err)
	}
	defer sub.Close()

	failed, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	pjs, err := jetstream.New(pub, jetstream.WithPublishAsyncMaxPending(natsMaxPending), jetstream.WithPublishAsyncTimeout(30*time.Second),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) { fail(fmt.Errorf("publish: %w", err)) }))
	if err != nil {
		return 0, fmt.Errorf("JetStream: %w", err)
	}
	sjs, err := jetstream.New(sub)
	if err != nil {
		return 0, fmt.Errorf("JetStream: %w", err)
	}
	stream, subject := "BENCH_CEILING_"+run, "bench.ceiling."+run
	if _, err := pjs.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Description: "trucectl bench ceiling; deleted after the run",
		Subjects: []string{subject + ".>"}, Storage: jetstream.FileStorage, Duplicates: 10 * time.Minute}); err != nil {
		return 0, fmt.Errorf("create stream %s: %w", stream, err)
	}
	defer deleteStream(ctx, pjs, stream)
	cons, err := sjs.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 1024})
	if err != nil {
		return 0, fmt.Errorf("create a consumer of %s: %w", stream, err)
	}

	type result struct {
		last time.Time
		err  error
	}
	consumed := make(chan result, 1)
	start := time.Now()
	go func() {
		last, err := consumeAll(failed, cons, n)
		consumed <- result{last, err}
	}()
	for i := range n {
		if err := publishCeiling(failed, pjs, subject+".m", payload, run+"-"+strconv.Itoa(i)); err != nil {
			fail(err)
			break
		}
	}
	r := <-consumed
	if r.err != nil {
		return 0, r.err
	}
	return r.last.Sub(start), nil
}

func publishCeiling(ctx context.Context, js jetstream.JetStream, subject string, payload []byte, id string) error {
	for {
		_, err := js.PublishAsync(subject, payload, jetstream.WithMsgID(id))
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			if err != nil {
				return fmt.Errorf("publish: %w", err)
			}
			return nil
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
}

// consumeAll takes and acknowledges n messages, the last one waiting for
// the server's confirmation, and returns when that came.
func consumeAll(ctx context.Context, cons jetstream.Consumer, n int) (time.Time, error) {
	iter, err := cons.Messages(jetstream.PullMaxMessages(256))
	if err != nil {
		return time.Time{}, fmt.Errorf("consume: %w", err)
	}
	defer iter.Stop()
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	for got := range n {
		msg, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return time.Time{}, fmt.Errorf("consume message %d of %d: %w", got+1, n, err)
		}
		if got < n-1 {
			err = msg.Ack()
		} else {
			err = msg.DoubleAck(ctx)
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("acknowledge: %w", err)
		}
	}
	return time.Now(), nil
}

// deleteStream removes the ceiling's stream, even after ctx has ended.
func deleteStream(ctx context.Context, js jetstream.JetStream, stream string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = js.DeleteStream(ctx, stream)
}

// ceilingScript stands for truceline's commit scripts: one EVALSHA that
// writes a hash of about a report's size.
var ceilingScript = redis.NewScript(`redis.call('HSET', KEYS[1], 'report', ARGV[1], 'n', ARGV[2]) return 1`)

// evalCeiling runs n EVALSHA round trips from redisCeilingWorkers clients,
// each writing a key of its own under bench:ceiling:<run>:, deleted after.
func (p *redisProbe) evalCeiling(ctx context.Context, run string, n int) (time.Duration, error) {
	prefix := "bench:ceiling:" + run + ":"
	defer p.deleteKeys(ctx, prefix, n)
	if err := ceilingScript.Load(ctx, p.rdb).Err(); err != nil {
		return 0, fmt.Errorf("redis SCRIPT LOAD: %w", err)
	}
	value := bytes.Repeat([]byte("x"), redisCeilingValue)
	sha := ceilingScript.Hash()
	return roundTrips(ctx, n, redisCeilingWorkers, func(ctx context.Context, i int) error {
		if err := p.rdb.EvalSha(ctx, sha, []string{prefix + strconv.Itoa(i)}, value, i).Err(); err != nil {
			return fmt.Errorf("redis EVALSHA: %w", err)
		}
		return nil
	})
}

// pingCeiling runs n PING round trips from redisCeilingWorkers clients.
func (p *redisProbe) pingCeiling(ctx context.Context, n int) (time.Duration, error) {
	return roundTrips(ctx, n, redisCeilingWorkers, func(ctx context.Context, _ int) error {
		if err := p.rdb.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("redis PING: %w", err)
		}
		return nil
	})
}

// deleteKeys removes the ceiling's keys, even after ctx has ended.
func (p *redisProbe) deleteKeys(ctx context.Context, prefix string, n int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	const batch = 1000
	keys := make([]string, 0, batch)
	for i := range n {
		keys = append(keys, prefix+strconv.Itoa(i))
		if len(keys) == batch || i == n-1 {
			if p.rdb.Del(ctx, keys...).Err() != nil {
				return
			}
			keys = keys[:0]
		}
	}
}

// roundTrips runs op for 0…n-1 from workers goroutines and times it all;
// it stops at the first error.
func roundTrips(ctx context.Context, n, workers int, op func(context.Context, int) error) (time.Duration, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range min(workers, n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n && ctx.Err() == nil; i = int(next.Add(1) - 1) {
				if err := op(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return 0, context.Cause(ctx)
	}
	return elapsed, nil
}
