// Package redisstore keeps truceline's state in Redis: the configuration
// catalog (zones, parties), alerts, the per-zone change sequence and history
// that WebSocket clients resume from, and the processed-report marks that make
// report handling idempotent. It also runs an embedded Redis for the
// zero-configuration mode.
//
// The keyspace is documented in docs/REDIS.md. Every alert change goes through
// one Lua script, so the new alert, its sequence number, its history entry and
// the report's processed mark are written together or not at all.
package redisstore
