// Package broker is truceline's NATS side: the JetStream streams that hold
// reports (VIOLATIONS), alert changes (ALERTS) and rejected input (REJECTED),
// the durable consumer the engine reads reports from, the publishers for
// reports and changes, per-zone subscriptions for the WebSocket gateway, and
// the embedded NATS server of the zero-configuration mode.
//
// Subjects and streams are documented in docs/NATS.md.
package broker
