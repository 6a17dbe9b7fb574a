// Package cap speaks OASIS CAP 1.2 (the Common Alerting Protocol), the alert
// format partners' systems understand: it renders an alert's history as CAP
// messages (Messages, Latest), lists a zone's messages as an Atom feed (Feed)
// and reads a CAP message as a violation report (Decode).
//
// An alert implies one message per timeline entry that partners care about:
// Alert for its opening, Update for later changes, Ack for an
// acknowledgement and Cancel when the alert is found false (verification
// disputed or not_applicable). docs/CAP.md has every mapping.
package cap
