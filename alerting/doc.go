// Package alerting is truceline's domain: violation reports and their
// validation, zones and parties, alerts and the rules that move them through
// their states, and the engine that turns reports into alert changes.
//
// It depends on the standard library, a UUID generator and expr-lang (rule
// conditions) only. Technologies (NATS, Redis, HTTP,
// WebSocket) live in adapter packages around it and meet here through small
// interfaces declared by the code that uses them.
package alerting
