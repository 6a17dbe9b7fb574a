package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/truceline/truceline/alerting"
)

// StreamAudit holds the audit log's entries, each at the stream sequence
// equal to its seq, so that a Redis that lost entries, or whose list was
// cut, gets them back, and the chain can be checked against a copy Redis's
// writers cannot change.
const StreamAudit = "AUDIT"

// auditStream is the stream's configuration.
func (b *Broker) auditStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamAudit,
		Description: "truceline's audit log, entry seq = stream sequence",
		Subjects:    []string{b.prefix + "audit"},
		Storage:     jetstream.FileStorage,
		Replicas:    b.replicas,
		MaxBytes:    b.auditMaxBytes,
	}
}

// ErrAuditBehind is RecordAudit's answer when AUDIT lacks entries before the
// one given: the caller records those first.
type ErrAuditBehind struct{ Last int64 }

func (e *ErrAuditBehind) Error() string {
	return fmt.Sprintf("the stream %s ends at entry %d", StreamAudit, e.Last)
}

// RecordAudit stores an entry in AUDIT, right after the entry before it:
// an entry stored already is left as it is, and when AUDIT lacks entries
// before it the answer is an *ErrAuditBehind.
func (b *Broker) RecordAudit(ctx context.Context, e alerting.AuditEntry) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry %d: %w", e.Seq, err)
	}
	_, err = b.js.Publish(ctx, b.prefix+"audit", data, jetstream.WithExpectLastSequence(uint64(e.Seq-1)),
		jetstream.WithMsgID("audit-"+strconv.FormatInt(e.Seq, 10)))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
		last, _, lerr := b.AuditLast(ctx)
		if lerr != nil {
			return lerr
		}
		if last >= e.Seq {
			return nil // recorded already
		}
		return &ErrAuditBehind{Last: last}
	}
	if err != nil {
		return recordUnavailable("audit entry "+strconv.FormatInt(e.Seq, 10), err)
	}
	return nil
}

// AuditLast returns the seq and hash of the last entry in AUDIT (0 and ""
// when it has none).
func (b *Broker) AuditLast(ctx context.Context) (int64, string, error) {
	s, err := b.js.Stream(ctx, StreamAudit)
	if err != nil {
		return 0, "", journalUnavailable("read "+StreamAudit, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, b.prefix+"audit")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", journalUnavailable("read "+StreamAudit, err)
	}
	var e alerting.AuditEntry
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return 0, "", fmt.Errorf("the last entry of %s: %w", StreamAudit, err)
	}
	return e.Seq, e.Hash, nil
}

// AuditEntries calls fn with every entry AUDIT holds after seq after,
// oldest first.
func (b *Broker) AuditEntries(ctx context.Context, after int64, fn func(alerting.AuditEntry) error) error {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: uint64(after + 1)}
	return b.readAll(ctx, StreamAudit, cfg, func(m jetstream.Msg) error {
		var e alerting.AuditEntry
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return fmt.Errorf("an entry of %s: %w", StreamAudit, err)
		}
		return fn(e)
	})
}
