package gateway

import (
	"bytes"
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/alertingtest"
)

// quiet is a Feed and History with nothing in them.
type quiet struct{}

func (quiet) SubscribeChanges(string, func([]byte)) (func(), error) { return func() {}, nil }
func (quiet) Seq(context.Context, string) (int64, error)            { return 0, nil }
func (quiet) Snapshot(context.Context, string) (int64, []*alerting.Alert, error) {
	return 0, nil, nil
}
func (quiet) ChangesSince(context.Context, string, int64) ([][]byte, int64, bool, error) {
	return nil, 0, true, nil
}

type zones struct{}

func (zones) Catalog() *alerting.Catalog { return alerting.MustCatalog(1, alerting.Config{}) }

// SmallSendBuffers gives the server's sockets a small send buffer, so that a
// client that stops reading backs up into the gateway after a few frames
// rather than megabytes. (Exported for the package's external tests.)
type SmallSendBuffers struct{ net.Listener }

func (l SmallSendBuffers) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(4096)
	}
	return conn, err
}

// TestAFrameWrittenInPartIsFinishedFirst: a frame the socket takes only in
// part when it is sent (see writeNow) is finished by the client's writer
// before anything else goes out: the frames after it, and the pong to a
// ping the client sends meanwhile.
func TestAFrameWrittenInPartIsFinishedFirst(t *testing.T) {
	t.Parallel()
	g, err := New(Options{Feed: quiet{}, History: quiet{}, Zones: zones{}, PingInterval: time.Hour, HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(g)
	srv.Listener = SmallSendBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
		srv.Close()
	})
	d := websocket.Dialer{Subprotocols: []string{Subprotocol}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	// The first heartbeat: the connection is set up.
	if _, data, err := conn.ReadMessage(); err != nil || !bytes.HasPrefix(data, []byte(`{"type":"heartbeat"`)) {
		t.Fatalf("want a heartbeat first, got %.40q, %v", data, err)
	}
	var c *client
	alertingtest.Eventually(t, 10*time.Second, "the connection's writer to be idle", func() bool {
		g.mu.Lock()
		for c = range g.clients {
		}
		g.mu.Unlock()
		if c == nil {
			return false
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing
	})

	// The client reads nothing yet: a frame larger than the sockets'
	// buffers goes out in part (as enqueue would send it).
	big := payload(1 << 20)
	c.mu.Lock()
	wrote, partly := c.writeNow(big), c.rest != nil
	c.mu.Unlock()
	if !wrote || !partly {
		t.Fatalf("the big frame was not written in part (written: %v)", wrote)
	}
	after := []byte(`{"type":"after"}`)
	c.enqueue(after)
	if err := conn.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}

	conn.SetReadLimit(8 << 20)
	pong := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pong <- data; return nil })
	var got [][]byte
	for len(got) < 2 {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(got), err)
		}
		got = append(got, data)
	}
	if !bytes.Equal(got[0], big) || !bytes.Equal(got[1], after) {
		t.Fatalf("want the big frame whole, then the next; got %d bytes, then %.40q", len(got[0]), got[1])
	}
	// The pong comes with the next read: wait for it there.
	go func() { _, _, _ = conn.ReadMessage() }()
	select {
	case data := <-pong:
		if data != "ping" {
			t.Fatalf("pong %q", data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pong")
	}
}

// TestFanOutReachesEveryClientOnceInOrder: however the clients are shared
// among goroutines, each gets each frame once, in the order sent.
func TestFanOutReachesEveryClientOnceInOrder(t *testing.T) {
	t.Parallel()
	g := &Gateway{opts: Options{MaxQueueBytes: 1 << 20}, metrics: newMetrics(nil)}
	frames := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	for _, n := range []int{0, 1, fanOutShare - 1, 2 * fanOutShare, 5*fanOutShare + 7} {
		for procs := 1; procs <= 4; procs++ {
			to := make([]*client, n)
			for i := range to {
				// Finished: frames stay in the queue, for the test to read.
				to[i] = &client{g: g, finished: true, done: make(chan struct{})}
			}
			for _, frame := range frames {
				fanOut(to, frame, procs)
			}
			for i, c := range to {
				if len(c.queue) != len(frames) || string(c.queue[0]) != "one" || string(c.queue[1]) != "two" || string(c.queue[2]) != "three" {
					t.Fatalf("%d clients on %d processors: client %d got %q", n, procs, i, c.queue)
				}
			}
		}
	}
}
