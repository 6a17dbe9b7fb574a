package alerting

import (
	"fmt"
	"strings"
	"time"
)

// Delivery is a notification waiting in the delivery queue: the queue holds
// only what it needs to find the notification again.
type Delivery struct {
	Key   string `json:"key"`
	Alert string `json:"alert"`
	Zone  string `json:"zone"`
	// Urgent deliveries (extreme severity) have their own lane, which
	// throttling never delays.
	Urgent bool `json:"urgent,omitempty"`
}

// Settle says what becomes of a claimed delivery when its outcome commits
// with its alert: retried at RetryAt, or (nil) taken off the queue.
type Settle struct {
	Delivery Delivery
	RetryAt  *time.Time
}

// Outbox returns the deliveries next's notifications need that prev's did
// not: the pending notifications a change created. prev is nil for a new
// alert.
func Outbox(prev, next *Alert) []Delivery {
	known := 0
	if prev != nil {
		known = len(prev.Notifications)
	}
	var out []Delivery
	// Notifications are only ever appended, so the new ones follow the
	// old.
	for _, n := range next.Notifications[min(known, len(next.Notifications)):] {
		if n.State == NotificationPending {
			out = append(out, Delivery{Key: n.Key, Alert: next.ID, Zone: next.Zone, Urgent: n.Urgent})
		}
	}
	return out
}

// Notification returns the alert's notification with key, or nil.
func (a *Alert) Notification(key string) *Notification {
	for i := range a.Notifications {
		if a.Notifications[i].Key == key {
			return &a.Notifications[i]
		}
	}
	return nil
}

// Attempt is the outcome of one try to deliver a notification.
type Attempt struct {
	Key string
	// State is sent, failed (RetryAt says when it is tried again),
	// gave_up or cancelled.
	State   string
	Err     error
	RetryAt *time.Time
	// Counted is false for outcomes that tried nothing (cancelled, or
	// given up before sending because the contact is gone).
	Counted bool
}

// RecordAttempt writes an attempt's outcome on the alert's notification and
// timeline, on a copy; ok is false when the notification is unknown or its
// delivery is over already, so there is nothing to record.
func (a *Alert) RecordAttempt(at Attempt, now time.Time) (_ *Alert, ok bool) {
	if n := a.Notification(at.Key); n == nil || n.Final() {
		return a, false
	}
	b := a.clone()
	n := b.Notification(at.Key)
	n.State, n.NextAttempt, n.Error = at.State, at.RetryAt, ""
	if at.Counted {
		n.Attempts++
	}
	if at.Err != nil {
		n.Error = at.Err.Error()
	}
	if at.State == NotificationSent {
		n.SentAt = &now
	}
	b.touch(now, Entry{By: "delivery", Action: EventUpdated, Note: n.describe()})
	return b, true
}

// describe says what became of a notification, for the timeline.
func (n *Notification) describe() string {
	s := fmt.Sprintf("%s to %s/%s: %s", n.Kind, n.Contact, n.Method, strings.ReplaceAll(n.State, "_", " "))
	if n.Fallback {
		s += " (fallback: nobody on call in " + n.Target + ")"
	}
	if n.Attempts > 0 {
		s += fmt.Sprintf(", attempt %d", n.Attempts)
	}
	if n.Error != "" {
		s += ": " + n.Error
	}
	if n.NextAttempt != nil {
		s += "; next attempt " + n.NextAttempt.UTC().Format("15:04:05") + " UTC"
	}
	return s
}
