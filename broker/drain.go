package broker

import (
	"context"
	"sync"
)

// drain counts the messages a subscriber has taken and not finished, so
// that its Shutdown can stop taking more and wait for those: begin before
// each, done after; stop ends the taking.
type drain struct {
	mu      sync.Mutex // guards stopped against pending.Add
	stopped bool
	pending sync.WaitGroup
}

// begin reports whether a message may be taken (the subscriber is not
// stopping); if so, done must follow.
func (d *drain) begin() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return false
	}
	d.pending.Add(1)
	return true
}

func (d *drain) done() { d.pending.Done() }

// stop takes no more messages and waits for those taken, or for ctx.
func (d *drain) stop(ctx context.Context) error {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	finished := make(chan struct{})
	go func() { d.pending.Wait(); close(finished) }()
	select {
	case <-finished:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
