package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// wsClients are the bench's WebSocket clients, each following every zone
// of the bench with follow (which resumes after a disconnect).
type wsClients struct {
	n, zones                           int
	frames, snapshots, resumed, errors atomic.Int64
	reconnects                         *lineCounter
	ready                              chan struct{} // one per client subscribed to every zone
	stopOnce                           sync.Once
	cancel                             context.CancelFunc
	wg                                 sync.WaitGroup
}

func startWSClients(ctx context.Context, cfg benchConfig, tr *tracker, errw io.Writer) *wsClients {
	ctx, cancel := context.WithCancel(ctx)
	c := &wsClients{n: cfg.clients, zones: len(cfg.zones), reconnects: &lineCounter{w: errw},
		ready: make(chan struct{}, cfg.clients), cancel: cancel}
	for range cfg.clients {
		c.wg.Go(func() {
			_ = follow(ctx, cfg.server, cfg.token, cfg.zones, c.reconnects, c.handler(tr, errw))
		})
	}
	return c
}

// handler reads one client's frames. It runs on that client's goroutine
// only, and decodes no more of a frame than parseFrame does.
func (c *wsClients) handler(tr *tracker, errw io.Writer) func([]byte, wsFrame) error {
	subscribed := 0
	return func(data []byte, f wsFrame) error {
		now := tr.now()
		c.frames.Add(1)
		switch string(f.Type) {
		case "alert":
			tr.observe(&f, now)
		case "snapshot":
			c.snapshots.Add(1)
			c.answered(&subscribed)
		case "resumed":
			c.resumed.Add(1)
			c.answered(&subscribed)
		case "error":
			c.errors.Add(1)
			fmt.Fprintf(errw, "trucectl: bench: the server sent %s\n", data)
		}
		return nil
	}
}

// answered counts a zone's answer to a client's subscription: when every
// zone of its first connection has answered, the client is ready.
func (c *wsClients) answered(subscribed *int) {
	if *subscribed++; *subscribed == c.zones {
		c.ready <- struct{}{}
	}
}

// waitSubscribed waits until every client has the answer to its subscription
// for every zone.
func (c *wsClients) waitSubscribed(ctx context.Context, timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for got := 0; got < c.n; got++ {
		select {
		case <-c.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return fmt.Errorf("only %d of %d WebSocket clients subscribed to all %d zones within %s", got, c.n, c.zones, timeout)
		}
	}
	return nil
}

// stop closes the connections and waits for the clients to end.
func (c *wsClients) stop() {
	c.stopOnce.Do(func() {
		c.cancel()
		c.wg.Wait()
	})
}

func (c *wsClients) counts() wsCounts {
	return wsCounts{Clients: c.n, Frames: c.frames.Load(), Snapshots: c.snapshots.Load(), Resumed: c.resumed.Load(),
		ErrorFrames: c.errors.Load(), Reconnects: c.reconnects.lines()}
}

// lineCounter passes writes on to w and counts the lines: follow writes
// one per lost connection.
type lineCounter struct {
	mu sync.Mutex
	w  io.Writer
	n  int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			l.n++
		}
	}
	return l.w.Write(p)
}

func (l *lineCounter) lines() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}
