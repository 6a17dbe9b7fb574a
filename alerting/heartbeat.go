package alerting

import (
	"context"
	"slices"
	"time"
)

// Beater is who published a heartbeat over NATS: a user of the embedded
// server, who may report in Zones, or an anonymous publisher (User ""),
// who may report in every zone, as anyone who reaches such a server may,
// and is none of a monitor's named accounts.
type Beater struct {
	User  string
	Zones []string
}

// principal is the sender as a reporter, for MayBeat.
func (s Beater) principal() *Principal {
	if s.User == "" {
		return &Principal{Role: RoleReporter, Zones: []string{"*"}, Via: "nats"}
	}
	return &Principal{User: s.User, Name: s.User, Role: RoleReporter, Zones: s.Zones, Via: "nats"}
}

// HeartbeatFrom records a heartbeat of monitor id's source that s
// published over NATS at now. As over HTTP, s must be allowed to report in
// every zone of the monitor and, when the monitor names accounts, be one of
// them; otherwise the heartbeat is refused (ENOTFOUND for a monitor it
// cannot know of, EFORBIDDEN for one it may not keep alive).
func (w *SourceWatch) HeartbeatFrom(ctx context.Context, s Beater, id string, now time.Time) error {
	p := s.principal()
	m, ok := w.Catalog.Catalog().Monitor(id)
	if !ok || !slices.ContainsFunc(m.Zones, p.Submits) {
		// A monitor of none of its zones is, to it, none at all.
		return Errorf(ENOTFOUND, "no monitor %q", id)
	}
	if !m.MayBeat(p) {
		if s.User == "" {
			return Errorf(EFORBIDDEN, "monitor %s is kept alive only by its accounts; an anonymous publisher is none of them", id)
		}
		return Errorf(EFORBIDDEN, "%s may not send the heartbeats of monitor %s", s.User, id)
	}
	return w.Sources.Heard(ctx, id, now)
}
