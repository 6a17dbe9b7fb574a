package alerting

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Errors a Store returns to make the engine read again and retry.
var (
	// ErrStale means the alert or group changed since it was read.
	ErrStale = errors.New("alerting: stale read")
	// ErrDuplicate means the report was processed already.
	ErrDuplicate = errors.New("alerting: report already processed")
)

// Store holds alert state. Commit must apply a change atomically: either the
// new alert, the zone's next sequence number, the change in the zone's
// history and (when given) the report and its processed mark are all written,
// or nothing is.
type Store interface {
	// ReportFrames returns the change frames a report produced when it was
	// processed, and whether it was processed at all.
	ReportFrames(ctx context.Context, reportID string) ([][]byte, bool, error)
	// GroupAlert returns the alert the group key is bound to, or nil.
	GroupAlert(ctx context.Context, groupKey string) (*Alert, error)
	// Alert returns an alert by id; an *Error with ENOTFOUND when absent.
	Alert(ctx context.Context, id string) (*Alert, error)
	// Commit applies c; ErrStale or ErrDuplicate when its premises no
	// longer hold.
	Commit(ctx context.Context, c Commit) (Change, error)
}

// Commit is one atomic change of alert state.
type Commit struct {
	Alert *Alert // the alert after the change; Version one past the stored one (1 when new)
	Event Event
	// Report, when set, is stored with ReceivedAt and marked processed with
	// the change's frame, so a redelivery of it changes nothing.
	Report     *Report
	ReceivedAt time.Time
	// GroupKey, when set, is bound to Alert.ID for GroupTTL, provided it
	// is still bound to PrevGroupAlert ("" for unbound).
	GroupKey       string
	PrevGroupAlert string
	GroupTTL       time.Duration
}

// Publisher sends committed changes to everyone who follows alerts. Publishing
// the same change twice must be harmless (it is deduplicated by zone and seq).
type Publisher interface {
	PublishChange(ctx context.Context, c Change) error
}

// CatalogSource gives the current configuration snapshot.
type CatalogSource interface {
	Catalog() *Catalog
}

// EngineOptions configures an Engine. Store, Publisher and Catalog are
// required; the rest have working zero values.
type EngineOptions struct {
	Store     Store
	Publisher Publisher
	Catalog   CatalogSource
	// Window is how far apart in observed time reports of one zone and
	// category may be and still share an alert. Zero means 10 minutes.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// NewID makes alert ids; nil means NewAlertID.
	NewID  func() string
	Logger *slog.Logger
}

// Engine turns reports into alert changes and applies people's actions on
// alerts. It keeps no state of its own, so any number of engines may share a
// Store.
type Engine struct {
	store     Store
	publisher Publisher
	catalog   CatalogSource
	grouping  Grouping
	now       func() time.Time
	newID     func() string
	logger    *slog.Logger
}

// DefaultWindow is the grouping window when none is configured.
const DefaultWindow = 10 * time.Minute

// maxAttempts bounds retries after concurrent writers moved an alert.
const maxAttempts = 16

// NewEngine returns an engine; it fails when a required option is missing.
func NewEngine(o EngineOptions) (*Engine, error) {
	if o.Store == nil || o.Publisher == nil || o.Catalog == nil {
		return nil, errors.New("alerting: engine needs a Store, a Publisher and a Catalog")
	}
	if o.Window < 0 {
		return nil, fmt.Errorf("alerting: negative grouping window %s", o.Window)
	}
	e := &Engine{store: o.Store, publisher: o.Publisher, catalog: o.Catalog,
		grouping: Grouping{Rule: DefaultRule, Window: o.Window}, now: o.Now, newID: o.NewID, logger: o.Logger}
	if e.grouping.Window == 0 {
		e.grouping.Window = DefaultWindow
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.newID == nil {
		e.newID = NewAlertID
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	e.logger = e.logger.With("component", "engine")
	return e, nil
}

// Admit decodes and validates a report as it arrived. subjectZone and
// subjectCategory, when not empty, are what the NATS subject said, and the
// body must agree with them. A report without an id gets id.
func (e *Engine) Admit(data []byte, subjectZone, subjectCategory, id string) (Report, error) {
	r, err := DecodeReport(data)
	p := problems(ErrorFields(err))
	if err != nil && (ErrorCode(err) != EINVALID || (len(p) == 1 && p[0].Field == "(body)")) {
		return r, err // not a JSON object at all: nothing more to judge
	}
	// Judge what did decode too, so the sender learns every problem at
	// once; a field that failed to decode is not also called missing.
	bad := make(map[string]bool, len(p))
	for _, fp := range p {
		bad[fp.Field] = true
	}
	for _, fp := range ErrorFields(r.Validate(e.catalog.Catalog(), e.now())) {
		if !bad[strings.SplitN(fp.Field, ".", 2)[0]] {
			p = append(p, fp)
		}
	}
	if subjectZone != "" && r.Zone != subjectZone {
		p.add("zone", "is %q but the subject names zone %q", r.Zone, subjectZone)
	}
	if subjectCategory != "" && string(r.Category) != subjectCategory {
		p.add("category", "is %q but the subject names category %q", r.Category, subjectCategory)
	}
	if err := p.err("report"); err != nil {
		return r, err
	}
	if r.ID == "" {
		r.ID = id
	}
	return r, nil
}

// HandleReport folds an admitted report into its alert and publishes the
// change. Handling the same report again publishes the change it made the
// first time and changes nothing, so redelivery is safe. It returns only
// after the change is committed and published.
func (e *Engine) HandleReport(ctx context.Context, r *Report, receivedAt time.Time) error {
	zone, ok := e.catalog.Catalog().Zone(r.Zone)
	if !ok {
		return Errorf(EINVALID, "unknown zone %q", r.Zone)
	}
	key := e.grouping.Key(r)
	for range maxAttempts {
		frames, seen, err := e.store.ReportFrames(ctx, r.ID)
		if err != nil {
			return fmt.Errorf("handle report %s: %w", r.ID, err)
		}
		if seen {
			return e.republish(ctx, frames)
		}
		current, err := e.store.GroupAlert(ctx, key)
		if err != nil {
			return fmt.Errorf("handle report %s: %w", r.ID, err)
		}
		now := e.now()
		c := Commit{Report: r, ReceivedAt: receivedAt, GroupKey: key, GroupTTL: e.grouping.Window + 24*time.Hour}
		switch {
		case current != nil && e.grouping.Admits(current, r):
			c.Alert, c.Event = current.AddReport(r, now)
			c.PrevGroupAlert = current.ID
		default:
			c.Alert, c.Event = OpenAlert(e.newID(), zone.Name, e.grouping, r, now), EventOpened
			if current != nil {
				c.PrevGroupAlert = current.ID
			}
		}
		change, err := e.store.Commit(ctx, c)
		switch {
		case errors.Is(err, ErrStale), errors.Is(err, ErrDuplicate):
			continue
		case err != nil:
			return fmt.Errorf("handle report %s: %w", r.ID, err)
		}
		return e.publish(ctx, change)
	}
	return fmt.Errorf("handle report %s: gave up after %d concurrent changes", r.ID, maxAttempts)
}

// Acknowledge records actor's acknowledgement of an alert.
func (e *Engine) Acknowledge(ctx context.Context, id string, actor Actor, note string) (*Alert, error) {
	return e.act(ctx, id, EventAcknowledged, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Acknowledge(actor, note, now)
	})
}

// Resolve closes an alert.
func (e *Engine) Resolve(ctx context.Context, id string, actor Actor, note string) (*Alert, error) {
	return e.act(ctx, id, EventResolved, func(a *Alert, now time.Time) (*Alert, error) {
		return a.Resolve(actor, note, now)
	})
}

// act applies a person's action to an alert with optimistic concurrency.
func (e *Engine) act(ctx context.Context, id string, event Event, apply func(*Alert, time.Time) (*Alert, error)) (*Alert, error) {
	for range maxAttempts {
		a, err := e.store.Alert(ctx, id)
		if err != nil {
			return nil, err
		}
		next, err := apply(a, e.now())
		if err != nil {
			return nil, err
		}
		change, err := e.store.Commit(ctx, Commit{Alert: next, Event: event})
		switch {
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return nil, fmt.Errorf("%s alert %s: %w", event, id, err)
		}
		if err := e.publish(ctx, change); err != nil {
			// The change is committed and in the zone's history, where
			// gateways find it when they notice the gap; say so, but the
			// action itself succeeded.
			e.logger.Warn("change committed but not published", "alert", id, "seq", change.Seq, "err", err)
		}
		return next, nil
	}
	return nil, Errorf(ECONFLICT, "alert %s is changing too fast; try again", id)
}

func (e *Engine) publish(ctx context.Context, c Change) error {
	if err := e.publisher.PublishChange(ctx, c); err != nil {
		return fmt.Errorf("publish %s/%d: %w", c.Zone, c.Seq, err)
	}
	return nil
}

// republish sends again the changes a report made when first processed: the
// first attempt may have committed and then died before publishing.
func (e *Engine) republish(ctx context.Context, frames [][]byte) error {
	for _, f := range frames {
		c, err := DecodeChange(f)
		if err != nil {
			return fmt.Errorf("republish: %w", err)
		}
		if err := e.publish(ctx, c); err != nil {
			return err
		}
	}
	return nil
}
