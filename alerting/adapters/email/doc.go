// Package email delivers notifications by SMTP.
//
// A Sender builds one message per notification with go-mail: a plain-text
// body and an HTML alternative, a Message-ID derived from the
// notification's idempotency key (so that receivers can drop duplicates),
// and the headers X-Truceline-Key and X-Truceline-Alert. It connects to one
// relay, configured by Config, with STARTTLS (the default, and required),
// implicit TLS or, for a local relay only, no TLS, and authenticates with
// SMTP AUTH when a username is set.
//
// An SMTP reply 5xx (a refused mailbox, failed authentication) is a
// permanent failure, marked by alerting.Permanent; a 4xx reply, a refused
// connection, a timeout or a TLS failure is transient.
package email
