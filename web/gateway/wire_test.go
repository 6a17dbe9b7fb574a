package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting/alertingtest"
	"github.com/truceline/truceline/web/gateway"
)

// heldConn is a client's connection whose writes can be held back and then
// sent in one write, so that the gateway finds several frames in one read.
type heldConn struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	held    bytes.Buffer
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.holding {
		return c.held.Write(p)
	}
	return c.Conn.Write(p)
}

func (c *heldConn) hold() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = true
}

func (c *heldConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.holding = false
	_, err := c.Conn.Write(c.held.Bytes())
	c.held.Reset()
	return err
}

// TestPingsKeepClientsThatAnswerAndEndThoseThatDoNot: a client that answers
// the gateway's pings stays connected for as long as it likes, and its
// pongs do not disturb the messages around them; one that does not answer
// is disconnected after two ping intervals.
func TestPingsKeepClientsThatAnswerAndEndThoseThatDoNot(t *testing.T) {
	t.Parallel()
	// Long enough that a busy machine's pause does not look like silence.
	const interval = 2 * time.Second
	f := setup(t, gateway.Options{PingInterval: interval})
	var held *heldConn
	answers := f.dial(t, &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		held = &heldConn{Conn: conn}
		return held, err
	}})
	pings := make(chan struct{}, 100)
	answers.conn.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return answers.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
	})
	answers.read()
	silent := f.dial(t, nil) // reads nothing, so answers no ping

	// Three pings answered: longer than a client that does not answer may
	// stay.
	for i := range 3 {
		select {
		case <-pings:
		case err := <-answers.closed:
			t.Fatalf("the client that answers pings was disconnected after %d of them: %v", i, err)
		case <-time.After(30 * interval):
			t.Fatalf("ping %d did not come within %s", i+1, 30*interval)
		}
	}
	// A pong and a message that reach the gateway in one read: the pong
	// is skipped and the message understood.
	held.hold()
	if err := answers.conn.WriteControl(websocket.PongMessage, []byte("unasked"), time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	answers.subscribe(t, "aleppo")
	if err := held.release(); err != nil {
		t.Fatal(err)
	}
	if fr := answers.next(t); fr.Type != "snapshot" || fr.Zone != "aleppo" {
		t.Fatalf("after a pong and a subscribe in one write, want aleppo's snapshot, got %+v", fr)
	}
	f.report(t, f.engine, "aleppo")
	if fr := answers.next(t); fr.Type != "alert" || fr.Seq != 1 {
		t.Fatalf("want the change after the snapshot, got %+v", fr)
	}

	// The silent client was disconnected: reading what the gateway sent
	// it ends in the connection's end, not in a wait.
	_ = silent.conn.SetReadDeadline(time.Now().Add(30 * interval))
	for {
		_, _, err := silent.conn.ReadMessage()
		if err == nil {
			continue // heartbeats sent before the gateway gave up on it
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			t.Fatalf("the client that answers no ping is still connected after %d pings: %v", 3, err)
		}
		break
	}
}

// TestABlockedWriteEndsTheConnection: a client that stops reading, with
// its socket's buffers full, is disconnected once a write has been blocked
// for the write timeout, whatever its queue holds. The deadline the gateway
// sets before each frame reaches the socket only now and then (see
// lazyDeadline); every blocked write still has one.
func TestABlockedWriteEndsTheConnection(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f := setup(t, gateway.Options{WriteTimeout: time.Second, MaxQueueBytes: 1 << 30, PingInterval: time.Hour, Registerer: reg})
	stalled := f.dial(t, &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(4096)
		}
		return conn, err
	}})
	stalled.subscribe(t, "aleppo")
	clients := func() float64 { return gaugeValue(t, reg, "truceline_ws_clients") }
	alertingtest.Eventually(t, 10*time.Second, "the client to be counted", func() bool { return clients() == 1 })
	// Changes until the socket's buffers are full and a write blocks (the
	// client reads nothing), and then until the write timeout cuts it off.
	alertingtest.Eventually(t, 20*time.Second, "the stalled client to be disconnected", func() bool {
		if clients() == 0 {
			return true
		}
		f.report(t, f.engine, "aleppo")
		return false
	})
}

// gaugeValue is the value of the gauge name in reg.
func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// tricklingConn reads at most a few bytes at a time, so that the gateway's
// socket drains slowly and frames wait for the client's writer.
type tricklingConn struct{ net.Conn }

func (c tricklingConn) Read(p []byte) (int, error) {
	return c.Conn.Read(p[:min(len(p), 97)])
}

// TestASlowReaderThatPingsGetsEveryFrameWholeAndInOrder: a client that reads
// slowly, so that its frames go out now from the fan-out and now from its
// writer, and pings all the time, gets every frame whole and in order, and
// its pings answered.
func TestASlowReaderThatPingsGetsEveryFrameWholeAndInOrder(t *testing.T) {
	t.Parallel()
	f := setup(t, gateway.Options{CheckInterval: time.Hour, PingInterval: time.Hour})
	slow := f.dial(t, &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetReadBuffer(4096)
		}
		return tricklingConn{conn}, err
	}, ReadBufferSize: 128})
	var pong atomic.Value // the latest pong's payload
	slow.conn.SetPongHandler(func(data string) error { pong.Store(data); return nil })
	slow.subscribe(t, "aleppo")
	frames := make(chan frame, 1000)
	failed := make(chan error, 1)
	go func() {
		defer close(frames)
		for {
			_, data, err := slow.conn.ReadMessage()
			if err != nil {
				failed <- err
				return
			}
			var fr frame
			if err := json.Unmarshal(data, &fr); err != nil {
				failed <- fmt.Errorf("a frame that is not JSON (%w): %.80q", err, data)
				return
			}
			if fr.Type != "heartbeat" {
				frames <- fr
			}
		}
	}()
	if fr := <-frames; fr.Type != "snapshot" {
		t.Fatalf("want the snapshot first, got %+v", fr)
	}
	const changes, pings = 150, 300
	pinged := make(chan error, 1)
	go func() {
		for i := range pings {
			if err := slow.conn.WriteControl(websocket.PingMessage, fmt.Appendf(nil, "ping %d", i), time.Now().Add(10*time.Second)); err != nil {
				pinged <- err
				return
			}
		}
		pinged <- nil
	}()
	for range changes {
		f.report(t, f.engine, "aleppo")
	}
	for want := int64(1); want <= changes; want++ {
		select {
		case fr, ok := <-frames:
			if !ok {
				t.Fatalf("after %d changes: %v", want-1, <-failed)
			}
			if fr.Type != "alert" || fr.Seq != want {
				t.Fatalf("want change %d, got %+v", want, fr)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("change %d did not come within 30s", want)
		}
	}
	if err := <-pinged; err != nil {
		t.Fatal(err)
	}
	// Pings the gateway had not yet answered may share one pong (RFC 6455,
	// section 5.5.3): the last ping gets its own.
	last := fmt.Sprintf("ping %d", pings-1)
	alertingtest.Eventually(t, 10*time.Second, "the pong to the last ping", func() bool {
		return pong.Load() == last
	})
	select {
	case err := <-failed:
		t.Fatal(err)
	default:
	}
}
