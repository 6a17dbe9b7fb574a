package alertingtest

import (
	"net"
	"sync"
	"testing"
)

// Freezer forwards TCP connections to a backend until frozen; then it
// stops passing bytes either way, and takes new connections without
// answering them, as a server stopped with SIGSTOP would. Thawed, it goes
// on.
type Freezer struct {
	l       net.Listener
	backend string
	mu      sync.Mutex
	frozen  bool
	thawed  *sync.Cond
}

// NewFreezer listens on a free loopback port and forwards to backend.
func NewFreezer(t testing.TB, backend string) *Freezer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Freezer{l: l, backend: backend}
	f.thawed = sync.NewCond(&f.mu)
	t.Cleanup(func() { _ = l.Close(); f.Thaw() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *Freezer) wait() {
	f.mu.Lock()
	for f.frozen {
		f.thawed.Wait()
	}
	f.mu.Unlock()
}

func (f *Freezer) serve(c net.Conn) {
	f.wait()
	up, err := net.Dial("tcp", f.backend)
	if err != nil {
		_ = c.Close()
		return
	}
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			f.wait() // frozen: hold what was read, as the stopped process would
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
}

// Freeze stops passing bytes.
func (f *Freezer) Freeze() { f.mu.Lock(); f.frozen = true; f.mu.Unlock() }

// Thaw passes bytes again.
func (f *Freezer) Thaw() {
	f.mu.Lock()
	f.frozen = false
	f.mu.Unlock()
	f.thawed.Broadcast()
}

// Addr is where clients connect.
func (f *Freezer) Addr() string { return f.l.Addr().String() }
