package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// StateBucket is the JetStream key-value bucket that records what people
// configure (the configuration, users, API tokens) and the secrets replicas
// share, so that a Redis that lost them gets them back: the record of
// everything but alerts and reports, which ALERTS and VIOLATIONS hold.
const StateBucket = "truceline-state"

// stateBucket returns the bucket, creating it when it is missing.
func (b *Broker) stateBucket(ctx context.Context) (jetstream.KeyValue, error) {
	return b.bucket(ctx, &b.state, StateBucket, "truceline's configuration, users, API tokens and shared secrets, as last recorded",
		StateMaxMB<<20)
}

// bucket returns the key-value bucket *kv holds, creating or updating it
// the first time (one revision per key, file storage, b's replicas).
func (b *Broker) bucket(ctx context.Context, kv *jetstream.KeyValue, name, description string, maxBytes int64) (jetstream.KeyValue, error) {
	b.stateMu.Lock()
	defer b.stateMu.Unlock()
	if *kv != nil {
		return *kv, nil
	}
	made, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: name, Description: description,
		History: 1, Storage: jetstream.FileStorage, Replicas: b.replicas, MaxBytes: maxBytes})
	if err != nil {
		return nil, journalUnavailable("set up the bucket "+name, err)
	}
	*kv = made
	return made, nil
}

// RecordState stores value under key (config, user.<name>, token.<id>,
// secret.<name>, ...).
func (b *Broker) RecordState(ctx context.Context, key string, value []byte) error {
	kv, err := b.stateBucket(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, value); err != nil {
		return recordUnavailable(key, err)
	}
	return nil
}

// CreateState stores value under key unless the key holds a value already,
// and returns the value the key holds.
func (b *Broker) CreateState(ctx context.Context, key string, value []byte) ([]byte, error) {
	kv, err := b.stateBucket(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := kv.Create(ctx, key, value); err == nil {
		return value, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, recordUnavailable(key, err)
	}
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, recordUnavailable(key, err)
	}
	return e.Value(), nil
}

// ForgetState deletes key.
func (b *Broker) ForgetState(ctx context.Context, key string) error {
	kv, err := b.stateBucket(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return recordUnavailable(key, err)
	}
	return nil
}

// States returns every key under prefix ("" for all) with its value.
func (b *Broker) States(ctx context.Context, prefix string) (map[string][]byte, error) {
	kv, err := b.stateBucket(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, journalUnavailable("list "+StateBucket, err)
	}
	out := map[string][]byte{}
	for key := range keys.Keys() {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, journalUnavailable("read "+StateBucket+" "+key, err)
		}
		out[key] = e.Value()
	}
	return out, nil
}

// recordUnavailable is a change made but not recorded: it is unavailable
// (503), and the caller says so.
func recordUnavailable(key string, err error) error {
	return &alerting.Error{Code: alerting.EUNAVAILABLE,
		Message: "the change could not be recorded in the streams (NATS JetStream); make it again",
		Cause:   fmt.Errorf("record %s in %s: %w", key, StateBucket, err)}
}
