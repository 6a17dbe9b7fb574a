package gateway

import (
	"context"
	"encoding/json"
	"time"
)

// Status is what the server says of its own health in each heartbeat, so
// that a board shows trouble the server knows of, not only silence.
type Status struct {
	// Problems name each dependency that fails its check ("redis: …").
	Problems []string `json:"problems,omitempty"`
	// Healing are the zones being restored from the streams; each client
	// is told only of zones it may follow.
	Healing []string `json:"healing,omitempty"`
	// Backlog is how many stored reports the engine has not processed,
	// and OldestSeconds how long the oldest of them has waited.
	Backlog       int64   `json:"backlog"`
	OldestSeconds float64 `json:"oldest_unprocessed_s,omitempty"`
}

// heartbeat is the frame of that name (docs/WEBSOCKET.md).
type heartbeat struct {
	Type    string           `json:"type"`
	At      time.Time        `json:"at"`
	EveryMS int64            `json:"every_ms"`
	Seqs    map[string]int64 `json:"seqs"`
	Status  *Status          `json:"status,omitempty"`
}

// heartbeatAll sends every client its heartbeat: the time, its position in
// each zone it follows (every frame up to it was queued before this one),
// and the server's status, asked once for all.
func (g *Gateway) heartbeatAll() {
	status := g.lastStatus.Load()
	now := time.Now().UTC()
	for _, c := range g.connected() {
		g.heartbeat(c, now, status)
	}
}

// statusLoop asks Status once per heartbeat interval, apart from the
// heartbeats: a dependency that is slow to answer (the very trouble to
// report) must never hold them up, or boards would think the server dead.
func (g *Gateway) statusLoop() {
	ask := func() {
		ctx, cancel := context.WithTimeout(context.Background(), max(g.opts.HeartbeatInterval, 2*time.Second))
		s := g.opts.Status(ctx)
		cancel()
		g.lastStatus.Store(&s)
	}
	ask() // known from the start, not only after the first interval
	g.every(g.opts.HeartbeatInterval, ask)
}

// heartbeat queues one client's heartbeat; status may be nil (unknown).
func (g *Gateway) heartbeat(c *client, now time.Time, status *Status) {
	hb := heartbeat{Type: "heartbeat", At: now, EveryMS: g.opts.HeartbeatInterval.Milliseconds(), Seqs: g.positions(c)}
	if status != nil {
		s := *status
		s.Healing = nil
		for _, z := range status.Healing {
			if c.may(z) {
				s.Healing = append(s.Healing, z)
			}
		}
		hb.Status = &s
	}
	if data, err := json.Marshal(hb); err == nil {
		c.enqueue(data)
	}
}

// positions are the client's positions in the zones it follows. Each is
// read under the zone's lock, which orders it after every frame of the
// zone queued to the client. A zone whose lock is held (its feed reading
// Redis, which may hang while Redis is away) is left out rather than
// waited for: a late heartbeat would make the board think the server dead.
func (g *Gateway) positions(c *client) map[string]int64 {
	zones := c.subscribed.all()
	seqs := make(map[string]int64, len(zones))
	for _, z := range zones {
		g.mu.Lock()
		f := g.feeds[z]
		g.mu.Unlock()
		if f == nil {
			continue
		}
		if !f.mu.TryLock() {
			continue
		}
		if seq, ok := f.subs[c]; ok {
			seqs[z] = seq
		}
		f.mu.Unlock()
	}
	return seqs
}
