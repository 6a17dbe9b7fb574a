// Package demo is what truceline serve --demo adds to the server: a feed of
// simulated EXERCISE reports over the demo zones (configs/demo), the
// heartbeats of the demo's monitored sources, one of which falls silent now
// and then, and the inbox that receives the demo contacts' webhooks.
package demo
