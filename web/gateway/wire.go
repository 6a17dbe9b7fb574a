// What the gateway does beneath gorilla/websocket, on the connection
// itself: the handshake's buffers, lazy write deadlines, and an idle
// connection's reader on a small stack (frames written whole are
// client.writeText).

package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// readBufferSize is a connection's read buffer. A client sends short
// commands (longer ones are read in parts); gorilla/websocket reads through
// the hijacked reader the gateway gives it only when that holds more than
// 256 bytes.
const readBufferSize = 320

// upgrade answers the handshake and returns the connection with the buffer
// it reads through, which the gateway holds so that it can tell when the
// client has sent nothing more, and the network connection under it.
func (g *Gateway) upgrade(w http.ResponseWriter, r *http.Request) (*websocket.Conn, *bufio.Reader, *lazyDeadline, error) {
	h := &hijacker{ResponseWriter: w, slack: g.opts.WriteTimeout / 2}
	conn, err := g.upgrader.Upgrade(h, r, nil)
	return conn, h.br, h.wire, err
}

// hijacker hands the upgrader a read buffer of readBufferSize instead of
// the HTTP server's (4 KiB), and keeps it; and the connection with lazy
// write deadlines.
type hijacker struct {
	http.ResponseWriter
	slack time.Duration // of the write deadline, see lazyDeadline
	br    *bufio.Reader
	wire  *lazyDeadline
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return conn, brw, err // the upgrader refuses a client that spoke first
	}
	h.br = bufio.NewReaderSize(conn, readBufferSize)
	h.wire = &lazyDeadline{Conn: conn, slack: h.slack}
	return h.wire, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// lazyDeadline passes a write deadline on to the connection only when it
// is earlier than the one set, or later by more than slack. gorilla/websocket
// sets the deadline before every frame it writes, and setting one costs the
// runtime's timer work: with a change sent to thousands of clients at once,
// a sixth of the gateway's CPU. A write so gets at least WriteTimeout minus
// slack.
type lazyDeadline struct {
	net.Conn
	slack time.Duration
	mu    sync.Mutex // the client's writer and gorilla/websocket's control frames
	set   time.Time  // the write deadline the connection has
}

func (c *lazyDeadline) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.IsZero() || c.set.IsZero() || t.Before(c.set) || t.Sub(c.set) > c.slack {
		c.set = t
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

func (c *lazyDeadline) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set = t
	return c.Conn.SetDeadline(t)
}

// SyscallConn is the connection's, for readable.
func (c *lazyDeadline) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// reader reads one client's messages. An idle connection keeps one
// goroutine, waiting in readable on the 2 KiB stack a goroutine starts
// with. A message is read and handled on that goroutine, whose stack grows
// to what gorilla/websocket, the JSON decoder and the store need; the next
// wait then starts on a new goroutine, so that the grown stack is freed
// rather than kept for as long as the connection stays idle (the stack is
// the largest part of an idle connection's memory).
type reader struct {
	g   *Gateway
	c   *client
	br  *bufio.Reader   // what gorilla/websocket reads through
	raw syscall.RawConn // nil when the connection offers none: reads then wait in gorilla
}

// startReader starts reading c's messages. The client's ping and close
// frames are answered by its writer, not by gorilla/websocket on the
// reader's goroutine, so that no answer lands inside a frame writeNow wrote
// in part.
func (g *Gateway) startReader(c *client, br *bufio.Reader) {
	r := &reader{g: g, c: c, br: br, raw: c.raw}
	c.conn.SetReadLimit(maxMessageBytes)
	r.extend()
	c.conn.SetPongHandler(func(string) error { r.extend(); return nil })
	c.conn.SetPingHandler(c.pongSoon)
	c.conn.SetCloseHandler(func(code int, _ string) error {
		c.close(code, "") // the reader then fails and leaves
		return nil
	})
	go r.next()
}

// extend moves the read deadline: a client that neither answers the pings
// nor sends anything for two ping intervals is gone.
func (r *reader) extend() {
	_ = r.c.conn.SetReadDeadline(time.Now().Add(2 * r.g.opts.PingInterval))
}

// next waits for the client's next message, reads it and handles it, then
// starts the next wait on a new goroutine; it ends the connection when
// reading fails.
func (r *reader) next() {
	for r.raw != nil && r.br.Buffered() == 0 {
		readable(r.raw)
		if !r.skipPong() {
			break
		}
	}
	_, data, err := r.c.conn.ReadMessage()
	if err != nil {
		r.leave()
		return
	}
	r.extend()
	r.g.handle(r.c, data)
	go r.next()
}

// skipPong consumes the pong frame the buffer holds whole, if the next
// frame is one, as gorilla/websocket would (a pong only moves the read
// deadline), but on the waiting goroutine's small stack: after every ping
// an idle connection receives a pong, which gorilla/websocket would read
// and then wait for the next data frame inside its own, deeper, calls.
// Anything else is left to gorilla/websocket.
func (r *reader) skipPong() bool {
	// A client's pong: FIN and opcode 0xA, then the mask bit, a length of
	// at most 125 bytes, the 4-byte mask and the payload.
	head, err := r.br.Peek(2)
	if err != nil || head[0] != 0x80|websocket.PongMessage || head[1]&0x80 == 0 || head[1]&0x7f > 125 {
		return false
	}
	n := 2 + 4 + int(head[1]&0x7f)
	if _, err := r.br.Peek(n); err != nil {
		return false
	}
	_, _ = r.br.Discard(n)
	r.extend()
	return r.br.Buffered() == 0
}

// leave ends the client's subscriptions and closes its connection.
func (r *reader) leave() {
	g, c := r.g, r.c
	defer g.wg.Done()
	for _, zone := range c.subscribed.close() {
		g.unsubscribe(c, zone)
	}
	c.close(websocket.CloseNormalClosure, "")
	<-c.done // the writer sent the close frame, or the connection failed
	g.mu.Lock()
	delete(g.clients, c)
	g.mu.Unlock()
	g.metrics.clients.Dec()
}

// readable returns when the connection has bytes to read, has ended or
// failed, or its read deadline has passed: ReadMessage then says which. It
// peeks at the socket rather than trusting the poller alone, since the
// last read may have left bytes in the kernel's buffer.
func readable(raw syscall.RawConn) {
	var b [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}
