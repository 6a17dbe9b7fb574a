package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/truceline/truceline/alerting"
)

// zoneFeed fans one zone's changes out to the local clients subscribed to it.
// Its lock orders everything for the zone: live frames, gap fills and new
// subscriptions, so each client sees the zone's changes once and in order.
type zoneFeed struct {
	zone string
	g    *Gateway

	mu          sync.Mutex
	last        int64             // the highest sequence delivered
	subs        map[*client]int64 // each client's own position in the zone
	to          []*client         // deliver's list, kept for the next frame
	unsubscribe func()
	stopped     bool
}

// historyTimeout bounds each Redis read the gateway makes.
const historyTimeout = 5 * time.Second

// feed returns the zone's feed, starting one (and its NATS subscription)
// when no local client follows the zone yet.
func (g *Gateway) feed(zone string) (*zoneFeed, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if f, ok := g.feeds[zone]; ok {
		return f, nil
	}
	f := &zoneFeed{zone: zone, g: g, subs: make(map[*client]int64)}
	// Hold the feed while it starts: frames that arrive meanwhile wait
	// here, and those at or before the sequence read next are dropped,
	// since subscribers start from a snapshot or resume point past them.
	f.mu.Lock()
	defer f.mu.Unlock()
	unsubscribe, err := g.opts.Feed.SubscribeChanges(zone, f.receive)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	last, err := g.opts.History.Seq(ctx, zone)
	if err != nil {
		unsubscribe()
		return nil, err
	}
	f.last, f.unsubscribe = last, unsubscribe
	g.feeds[zone] = f
	return f, nil
}

// subscribe adds a client to a zone, first sending it either the changes it
// missed since resume (preceded by a "resumed" frame) or a snapshot.
func (g *Gateway) subscribe(c *client, zone string, resume *int64) error {
	for {
		f, err := g.feed(zone)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if f.stopped { // the last subscriber left between feed() and here
			f.mu.Unlock()
			continue
		}
		err = f.start(c, resume)
		f.mu.Unlock()
		if err != nil {
			g.unsubscribe(c, zone) // stop the feed if this client started it
		}
		return err
	}
}

// start sends a new subscriber its starting point. The caller holds f.mu.
func (f *zoneFeed) start(c *client, resume *int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	reason := ""
	if resume != nil {
		frames, seq, ok, err := f.g.opts.History.ChangesSince(ctx, f.zone, *resume)
		if err != nil {
			return err
		}
		if ok {
			c.enqueue(resumedFrame(f.zone, *resume, seq))
			for _, frame := range frames {
				c.enqueue(frame)
			}
			f.subs[c] = seq
			f.g.metrics.snapshots.WithLabelValues("resumed").Inc()
			return nil
		}
		reason = "resume_unavailable"
	}
	seq, alerts, err := f.g.opts.History.Snapshot(ctx, f.zone)
	if err != nil {
		return err
	}
	c.enqueue(snapshotFrame(f.zone, seq, alerts, reason))
	f.subs[c] = seq
	if reason != "" {
		f.g.metrics.snapshots.WithLabelValues("resume_failed").Inc()
	} else {
		f.g.metrics.snapshots.WithLabelValues("snapshot").Inc()
	}
	return nil
}

// unsubscribe removes a client; the last one out stops the feed.
func (g *Gateway) unsubscribe(c *client, zone string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.feeds[zone]
	if !ok {
		return
	}
	f.mu.Lock()
	delete(f.subs, c)
	empty := len(f.subs) == 0
	f.mu.Unlock()
	if empty {
		f.stop()
		delete(g.feeds, zone)
	}
}

func (f *zoneFeed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.stopped {
		f.stopped = true
		f.unsubscribe()
	}
}

// receive takes a frame from NATS.
func (f *zoneFeed) receive(frame []byte) {
	seq := alerting.FrameSeq(frame)
	if seq <= 0 {
		f.g.logger.Warn("dropping a malformed change frame", "zone", f.zone)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.stopped || seq <= f.last:
		// Already delivered (a republication, or filled from history).
	case seq == f.last+1:
		f.deliver(frame, seq)
	default:
		f.catchUp()
	}
}

// catchUp delivers every change after f.last from the zone's history. When
// the history cannot supply them, every subscriber gets a fresh snapshot.
// The caller holds f.mu.
func (f *zoneFeed) catchUp() {
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	frames, _, ok, err := f.g.opts.History.ChangesSince(ctx, f.zone, f.last)
	if err != nil {
		// Redis is unreachable: the next frame or check retries.
		f.g.logger.Warn("cannot fill a gap from history yet", "zone", f.zone, "after", f.last, "err", err)
		return
	}
	if !ok {
		f.resnapshot(ctx)
		return
	}
	for _, frame := range frames {
		if seq := alerting.FrameSeq(frame); seq > f.last {
			f.g.metrics.gapFills.Inc()
			f.deliver(frame, seq)
		}
	}
}

// resnapshot restarts every subscriber from a snapshot: the zone's history no
// longer covers what they miss (Redis lost data, or a very long outage).
func (f *zoneFeed) resnapshot(ctx context.Context) {
	seq, alerts, err := f.g.opts.History.Snapshot(ctx, f.zone)
	if err != nil {
		f.g.logger.Warn("cannot resnapshot yet", "zone", f.zone, "err", err)
		return
	}
	f.g.logger.Warn("zone history does not cover the gap; sending snapshots", "zone", f.zone, "from", f.last, "to", seq)
	frame := snapshotFrame(f.zone, seq, alerts, "history_unavailable")
	for c := range f.subs {
		c.enqueue(frame)
		f.subs[c] = seq
	}
	f.last = seq
}

// deliver hands a frame to every subscriber not past it. The caller holds f.mu.
func (f *zoneFeed) deliver(frame []byte, seq int64) {
	to := f.to[:0]
	for c, at := range f.subs {
		if seq > at {
			to = append(to, c)
			f.subs[c] = seq
		}
	}
	f.last = seq
	fanOut(to, frame, runtime.GOMAXPROCS(0))
	clear(to)
	f.to = to
}

// fanOutShare is the fewest clients worth a goroutine of their own when a
// frame goes out: most frames go to clients with nothing waiting and are
// written from the fan-out itself (see client.writeNow), a system call each.
const fanOutShare = 256

// fanOut enqueues frame for every client in to, sharing the clients among
// up to procs goroutines when there are many, and returns when each has it
// queued or written.
func fanOut(to []*client, frame []byte, procs int) {
	workers := min(procs, len(to)/fanOutShare)
	if workers <= 1 {
		for _, c := range to {
			c.enqueue(frame)
		}
		return
	}
	var wg sync.WaitGroup
	share := (len(to) + workers - 1) / workers
	for part := range slices.Chunk(to[share:], share) {
		wg.Go(func() {
			for _, c := range part {
				c.enqueue(frame)
			}
		})
	}
	for _, c := range to[:share] {
		c.enqueue(frame)
	}
	wg.Wait()
}

// checkAll compares each followed zone's sequence with Redis, so a change
// that was committed but whose publication was lost still reaches clients.
func (g *Gateway) checkAll() {
	g.mu.Lock()
	feeds := make([]*zoneFeed, 0, len(g.feeds))
	for _, f := range g.feeds {
		feeds = append(feeds, f)
	}
	g.mu.Unlock()
	for _, f := range feeds {
		f.check()
	}
}

func (f *zoneFeed) check() {
	ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
	defer cancel()
	// Read under the lock: a sequence read before frames delivered
	// meanwhile would look like Redis going backwards.
	f.mu.Lock()
	defer f.mu.Unlock()
	seq, err := f.g.opts.History.Seq(ctx, f.zone)
	if err != nil {
		return
	}
	switch {
	case f.stopped || seq == f.last:
	case seq > f.last:
		f.catchUp()
	default: // Redis restarted without its data: start everyone afresh.
		f.resnapshot(ctx)
	}
}

func snapshotFrame(zone string, seq int64, alerts []*alerting.Alert, reason string) []byte {
	data, err := json.Marshal(struct {
		Type   string            `json:"type"`
		Zone   string            `json:"zone"`
		Seq    int64             `json:"seq"`
		Alerts []*alerting.Alert `json:"alerts"`
		Reason string            `json:"reason,omitempty"`
	}{"snapshot", zone, seq, alerts, reason})
	if err != nil {
		return errorFrame("internal", fmt.Sprintf("cannot encode snapshot of %s", zone))
	}
	return data
}

func resumedFrame(zone string, from, seq int64) []byte {
	data, _ := json.Marshal(struct {
		Type string `json:"type"`
		Zone string `json:"zone"`
		From int64  `json:"from"`
		Seq  int64  `json:"seq"`
	}{"resumed", zone, from, seq})
	return data
}
