package alerting_test

import (
	"context"

	"github.com/truceline/truceline/alerting"
)

// nopStore and nopPublisher stand in where a test exercises only Admit,
// which never touches them; behaviour with a store is tested in redisstore
// against a real Redis.
type nopStore struct{}

func (nopStore) ReportChanges(context.Context, string) ([]alerting.Change, bool, error) {
	return nil, false, nil
}
func (nopStore) GroupAlert(context.Context, string) (*alerting.Alert, error)       { return nil, nil }
func (nopStore) Alert(context.Context, string) (*alerting.Alert, error)            { return nil, nil }
func (nopStore) Pending(context.Context, string) ([]alerting.PendingReport, error) { return nil, nil }
func (nopStore) Report(context.Context, string) (*alerting.StoredReport, error)    { return nil, nil }
func (nopStore) AlertHolds(context.Context, string, string) (bool, error)          { return false, nil }
func (nopStore) Commit(context.Context, alerting.Commit) ([]alerting.Change, error) {
	return nil, nil
}
func (nopStore) CommitAll(context.Context, []alerting.Commit) ([][]alerting.Change, error) {
	return nil, nil
}

type nopPublisher struct{}

func (nopPublisher) PublishChange(context.Context, alerting.Change) error { return nil }

type staticCatalog struct{ c *alerting.Catalog }

func (s staticCatalog) Catalog() *alerting.Catalog { return s.c }
