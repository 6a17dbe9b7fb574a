package gateway

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Close codes the gateway sends besides the standard ones; documented in
// docs/WEBSOCKET.md.
const (
	CloseSlowClient = 4001 // the client did not keep up; reconnect and resume
)

// client is one WebSocket connection. Frames are queued by reference (the
// same bytes go to every subscriber) and written by the client's own writer
// goroutine, so a slow client never holds up anyone else: when its queue
// passes the byte limit it is disconnected instead.
type client struct {
	conn *websocket.Conn
	g    *Gateway

	mu       sync.Mutex
	queue    [][]byte
	queued   int
	closing  bool
	closeMsg []byte // close frame to send, once closing

	wake chan struct{} // capacity 1: "the queue or closing changed"
	done chan struct{} // closed when the writer has finished
}

func newClient(g *Gateway, conn *websocket.Conn) *client {
	return &client{conn: conn, g: g, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// enqueue adds a frame; it never blocks. It returns false when the client is
// closing or has just been cut off for being slow.
func (c *client) enqueue(frame []byte) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	// A frame larger than the limit (a big snapshot) still goes out when
	// nothing waits before it: the limit is on falling behind, not on size.
	if c.queued > 0 && c.queued+len(frame) > c.g.opts.MaxQueueBytes {
		c.closing = true
		c.closeMsg = websocket.FormatCloseMessage(CloseSlowClient, "slow client: send queue full; reconnect and resume")
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		c.g.metrics.slowDisconnects.Inc()
		c.signal()
		return false
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.mu.Unlock()
	c.signal()
	return true
}

// close asks the writer to send a close frame and end the connection.
func (c *client) close(code int, reason string) {
	c.mu.Lock()
	if !c.closing {
		c.closing = true
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		c.queue, c.queued = nil, 0
	}
	c.mu.Unlock()
	c.signal()
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop is the only goroutine that writes to the connection.
func (c *client) writeLoop() {
	defer close(c.done)
	defer c.conn.Close()
	ping := time.NewTicker(c.g.opts.PingInterval)
	defer ping.Stop()
	for {
		select {
		case <-c.wake:
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.g.opts.WriteTimeout)); err != nil {
				return
			}
			continue
		}
		c.mu.Lock()
		batch, closing, closeMsg := c.queue, c.closing, c.closeMsg
		c.queue, c.queued = nil, 0
		c.mu.Unlock()
		for _, frame := range batch {
			_ = c.conn.SetWriteDeadline(time.Now().Add(c.g.opts.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				return
			}
			c.g.metrics.framesSent.Inc()
		}
		if closing {
			_ = c.conn.WriteControl(websocket.CloseMessage, closeMsg, time.Now().Add(time.Second))
			return
		}
	}
}
