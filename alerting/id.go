package alerting

import "github.com/google/uuid"

// NewAlertID returns a fresh alert id ("al-" and a UUIDv7, so ids sort by
// creation time).
func NewAlertID() string { return "al-" + uuid.Must(uuid.NewV7()).String() }

// NewReportID returns a fresh id for a report that arrived without one.
func NewReportID() string { return "r-" + uuid.Must(uuid.NewV7()).String() }
