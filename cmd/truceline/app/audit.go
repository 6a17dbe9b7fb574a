package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/broker"
)

// The audit log is kept in Redis, chained, and each entry is recorded in the
// stream AUDIT too: a Redis that went back in time, or whose list was cut,
// gets the entries back from there (syncAudit), and the chain has a copy
// Redis's writers cannot change.

// RecordAudit appends a change to the audit log and records it in the
// stream. A failure is logged, not returned: the change itself happened,
// and the log says the audit missed it.
func (a *App) RecordAudit(ctx context.Context, e alerting.AuditEntry) {
	entry, err := a.Store.AppendAudit(ctx, e)
	if err != nil {
		a.logger.Error("audit entry not recorded", "action", e.Action, "object", e.Object, "actor", e.Actor, "err", err)
		return
	}
	if err := a.shipAudit(ctx, entry); err != nil {
		a.logger.Error("audit entry not recorded in the stream "+broker.StreamAudit+" yet; it will be", "seq", entry.Seq, "err", err)
	}
}

// auditOverdue records that a request for information went overdue: the
// escalator calls it once per request, from the replica whose commit made
// it overdue.
func (a *App) auditOverdue(al *alerting.Alert, r alerting.InfoRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.RecordAudit(ctx, alerting.AuditEntry{At: time.Now().UTC(), Actor: "engine", Action: "alert.info_request.overdue",
		Object: "alert " + al.ID, Zone: al.Zone, Detail: fmt.Sprintf("%s to %s, deadline %s", r.ID, r.Party, r.Deadline.UTC().Format(time.RFC3339))})
}

// shipAudit records e in AUDIT, first recording from Redis the entries
// before it that AUDIT lacks.
func (a *App) shipAudit(ctx context.Context, e alerting.AuditEntry) error {
	for range 3 {
		err := a.Broker.RecordAudit(ctx, e)
		var behind *broker.ErrAuditBehind
		if !errors.As(err, &behind) {
			return err
		}
		if err := a.shipAuditFrom(ctx, behind.Last, e.Seq-1); err != nil {
			return err
		}
	}
	return fmt.Errorf("audit entry %d: other appenders keep moving the stream", e.Seq)
}

// shipAuditFrom records in AUDIT the entries of Redis's log after seq
// after, up to seq upTo.
func (a *App) shipAuditFrom(ctx context.Context, after, upTo int64) error {
	for after < upTo {
		entries, err := a.Store.AuditEntries(ctx, after, 1000)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return nil
		}
		for _, e := range entries {
			if e.Seq > upTo {
				return nil
			}
			if err := a.Broker.RecordAudit(ctx, e); err != nil {
				return err
			}
			after = e.Seq
		}
	}
	return nil
}

// syncAudit brings Redis's audit log and the stream in step: entries Redis
// lacks (lost in a rollback, or cut from the list) come back from the
// stream, and entries the stream lacks (recorded while NATS was away, or
// from before the stream) are recorded there.
func (a *App) syncAudit(ctx context.Context) error {
	last, lastHash, err := a.Broker.AuditLast(ctx)
	if err != nil {
		return err
	}
	n, err := a.Store.AuditLength(ctx)
	if err != nil {
		return err
	}
	head, headHash, err := a.Store.AuditHead(ctx)
	if err != nil {
		return err
	}
	if head == last && headHash != lastHash && a.auditForked.Swap(head) != head {
		// A chain rewritten in Redis and its head set to match verifies on
		// its own; the stream still holds the entries as recorded.
		a.logger.Error("the audit log in Redis does not match the stream "+broker.StreamAudit+" at its head: it was rewritten in Redis; "+
			"the stream holds the entries as recorded", "seq", head)
	}
	if n < last {
		var missing []alerting.AuditEntry
		if err := a.Broker.AuditEntries(ctx, n, func(e alerting.AuditEntry) error {
			missing = append(missing, e)
			return nil
		}); err != nil {
			return err
		}
		restored, err := a.Store.RestoreAudit(ctx, missing)
		if err != nil {
			return err
		}
		if restored > 0 {
			a.logger.Warn("the audit log in Redis lacked entries the stream "+broker.StreamAudit+" holds: restored them",
				"from", n+1, "to", last, "restored", restored)
		}
		return nil
	}
	if head > last {
		return a.shipAuditFrom(ctx, last, head)
	}
	return nil
}

// observeDelivery counts each delivery attempt and records it in the audit
// log.
func (a *App) observeDelivery(m *deliveryMetrics) func(alerting.Notification, *alerting.Alert, time.Duration) {
	return func(n alerting.Notification, al *alerting.Alert, took time.Duration) {
		m.observe(n, took)
		detail := fmt.Sprintf("%s to %s/%s, attempt %d", n.Kind, n.Contact, n.Method, n.Attempts)
		if n.Error != "" {
			detail += ": " + n.Error
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.RecordAudit(ctx, alerting.AuditEntry{At: time.Now().UTC(), Actor: "delivery", Action: "delivery." + n.State,
			Object: "alert " + al.ID, Zone: al.Zone, Detail: detail})
	}
}
