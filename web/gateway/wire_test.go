package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
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
