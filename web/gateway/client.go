package gateway

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// Close codes the gateway sends besides the standard ones; documented in
// docs/WEBSOCKET.md.
const (
	CloseSlowClient  = 4001 // the client did not keep up; reconnect and resume
	CloseCredentials = 4401 // the client's credentials no longer hold (revoked, expired, user disabled or deleted, new password); sign in again
)

// client is one WebSocket connection. A frame for a client with nothing
// waiting is written at once, without blocking, by the goroutine that sends
// it (see writeNow): one change goes to thousands of clients from the zone's
// fan-out loop without waking a goroutine for each. What the socket does not
// take at once is queued by reference (the same bytes go to every
// subscriber) and written by a writer goroutine that runs only while there is
// something to write, so an idle connection costs its reader goroutine and
// little else. A slow client never holds up anyone else: when its queue
// passes the byte limit it is disconnected instead.
type client struct {
	conn *websocket.Conn
	// wire is the connection under conn, which frames are written to
	// directly (see writeText); nil when gorilla/websocket writes them
	// (with compression).
	wire *lazyDeadline
	// raw is the socket under the connection, for writeNow and the
	// reader's wait; nil when the connection offers none.
	raw syscall.RawConn
	g   *Gateway
	// viewer says again, at each ping and Recheck, whether the client may
	// stay and which zones it may follow (see Viewer).
	viewer     Viewer
	subscribed zoneSet

	mu       sync.Mutex
	sees     func(zone string) bool // which zones the client may follow
	queue    [][]byte
	queued   int
	rest     []byte // the tail of a frame writeNow wrote in part, which goes first
	pong     []byte // a pong is due, with this payload (non-nil, maybe empty)
	ping     bool   // a ping is due
	writing  bool   // the writer goroutine runs
	closing  bool
	closeMsg []byte // close frame to send, once closing
	finished bool   // the connection is closed

	done chan struct{} // closed when the connection is closed
}

func newClient(g *Gateway, conn *websocket.Conn) *client {
	return &client{conn: conn, g: g, done: make(chan struct{})}
}

// may reports whether the client may follow zone.
func (c *client) may(zone string) bool {
	c.mu.Lock()
	sees := c.sees
	c.mu.Unlock()
	return sees(zone)
}

// enqueue adds a frame; it never blocks. It returns false when the client is
// closing or has just been cut off for being slow.
func (c *client) enqueue(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	// A frame larger than the limit (a big snapshot) still goes out when
	// nothing waits before it: the limit is on falling behind, not on size.
	if c.queued > 0 && c.queued+len(frame) > c.g.opts.MaxQueueBytes {
		c.closing = true
		c.closeMsg = websocket.FormatCloseMessage(CloseSlowClient, "slow client: send queue full; reconnect and resume")
		c.g.metrics.droppedFrames.Add(float64(len(c.queue) + 1)) // the queue and this frame
		c.queue, c.queued = nil, 0
		c.g.metrics.slowDisconnects.Inc()
		c.wakeLocked()
		return false
	}
	if c.queued == 0 && !c.writing && c.rest == nil && c.writeNow(frame) {
		return true
	}
	c.queue = append(c.queue, frame)
	c.queued += len(frame)
	c.wakeLocked()
	return true
}

// writeNow writes frame to a client whose writer is not running, as far as
// the socket's buffer takes it without waiting, and hands what is left to
// the writer. It returns false when it wrote nothing: the frame then goes
// through the writer, which waits for the socket and finds its faults
// (a socket whose buffer is full, whose write deadline has passed, or
// that failed). The caller holds c.mu.
//
// Every other write to the connection goes through the writer, which
// writes rest first, so a frame written in part is never interleaved with
// another: the reader's pongs and close frames too (see startReader). The
// one exception is gorilla/websocket's close frame after a client's
// protocol error, for a connection that is over.
func (c *client) writeNow(frame []byte) bool {
	if c.wire == nil || c.raw == nil || c.closing || c.finished {
		return false
	}
	var head [10]byte
	h := textHeader(head[:0], len(frame))
	n := 0
	err := c.raw.Write(func(fd uintptr) bool {
		n, _ = unix.Writev(int(fd), [][]byte{h, frame})
		return true // never wait: that is the writer's work
	})
	if err != nil || n <= 0 {
		return false
	}
	switch {
	case n == len(h)+len(frame):
		c.g.metrics.framesSent.Inc()
		return true
	case n < len(h):
		c.rest = append(h[n:len(h):len(h)], frame...)
	default:
		c.rest = frame[n-len(h):]
	}
	c.wakeLocked()
	return true
}

// pongSoon asks the writer to answer a client's ping.
func (c *client) pongSoon(data string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.pong = []byte(data)
		c.wakeLocked()
	}
	return nil
}

// sendPing asks the writer to ping the client.
func (c *client) sendPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.ping = true
		c.wakeLocked()
	}
}

// close asks the writer to send a close frame and end the connection.
func (c *client) close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.closing = true
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		c.queue, c.queued = nil, 0
	}
	c.wakeLocked()
}

// wakeLocked starts the writer if it is not running. The caller holds c.mu.
func (c *client) wakeLocked() {
	if !c.writing && !c.finished {
		c.writing = true
		c.g.wg.Add(1)
		go c.write()
	}
}

// write drains the queue and exits when it is empty; it is the only
// goroutine that writes to the connection.
func (c *client) write() {
	defer c.g.wg.Done()
	for {
		c.mu.Lock()
		w := batch{c.rest, c.pong, c.queue, c.ping, c.closing, c.closeMsg}
		c.rest, c.pong, c.queue, c.queued, c.ping = nil, nil, nil, 0, false
		if w.rest == nil && w.pong == nil && len(w.frames) == 0 && !w.ping && !w.closing {
			c.writing = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if !c.send(w) {
			c.finish()
			return
		}
	}
}

// batch is what the writer takes from the client at once, in the order it
// writes it.
type batch struct {
	rest     []byte
	pong     []byte
	frames   [][]byte
	ping     bool
	closing  bool
	closeMsg []byte
}

// send writes one batch; false means the connection is over.
func (c *client) send(w batch) bool {
	deadline := func() time.Time { return time.Now().Add(c.g.opts.WriteTimeout) }
	if w.rest != nil {
		if err := c.wire.SetWriteDeadline(deadline()); err != nil {
			return false
		}
		if _, err := c.wire.Conn.Write(w.rest); err != nil {
			return false
		}
		c.g.metrics.framesSent.Inc()
	}
	if w.pong != nil {
		if err := c.conn.WriteControl(websocket.PongMessage, w.pong, deadline()); err != nil {
			return false
		}
	}
	if w.ping {
		if err := c.conn.WriteControl(websocket.PingMessage, nil, deadline()); err != nil {
			return false
		}
	}
	for _, frame := range w.frames {
		if err := c.writeText(frame, deadline()); err != nil {
			return false
		}
		c.g.metrics.framesSent.Inc()
	}
	if w.closing {
		_ = c.conn.WriteControl(websocket.CloseMessage, w.closeMsg, time.Now().Add(time.Second))
		return false
	}
	return true
}

// writeText writes frame as one text message. Without compression the
// gateway frames it itself: the header and the frame's bytes, shared by
// every client, go out in one system call, where gorilla/websocket would
// first copy them into a buffer of its own, on a deeper stack than a
// writer goroutine starts with. Control frames are gorilla/websocket's;
// each write is whole, so the two never interleave.
func (c *client) writeText(frame []byte, deadline time.Time) error {
	if c.wire == nil {
		_ = c.conn.SetWriteDeadline(deadline)
		return c.conn.WriteMessage(websocket.TextMessage, frame)
	}
	var head [10]byte
	bufs := net.Buffers{textHeader(head[:0], len(frame)), frame}
	if err := c.wire.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := bufs.WriteTo(c.wire.Conn)
	return err
}

// textHeader appends the header of an unfragmented, unmasked text frame
// (RFC 6455, section 5.2) whose payload is n bytes long.
func textHeader(b []byte, n int) []byte {
	b = append(b, 0x80|websocket.TextMessage) // FIN, opcode 1
	switch {
	case n <= 125:
		return append(b, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// finish closes the connection once; the reader then fails and cleans up.
func (c *client) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing, c.closing = false, true
	if !c.finished {
		c.finished = true
		_ = c.conn.Close()
		close(c.done)
	}
}
