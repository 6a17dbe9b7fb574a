// Package webhook delivers notifications as signed HTTP POSTs (Standard
// Webhooks) and receives them, for the demo and for testing a receiver.
//
// A Sender POSTs a message's Payload as JSON with the headers webhook-id
// (the message's idempotency key), webhook-timestamp and webhook-signature,
// signed with the method's "whsec_" secret by the Standard Webhooks
// reference library. A Receiver is the other end: an http.Handler that
// verifies, deduplicates and records what arrives.
package webhook
