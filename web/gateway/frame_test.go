package gateway

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestTextHeaderFramesWhatGorillaReads: frames of every length encoding
// that textHeader writes are read back whole by gorilla/websocket's client.
func TestTextHeaderFramesWhatGorillaReads(t *testing.T) {
	t.Parallel()
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 200_000}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		accept := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			base64.StdEncoding.EncodeToString(accept[:]) + "\r\n\r\n")
		for _, n := range sizes {
			brw.Write(textHeader(nil, n))
			brw.Write(payload(n))
		}
		if err := brw.Flush(); err != nil {
			t.Error(err)
		}
		// Wait for the client to close.
		_, _ = brw.ReadByte()
	}))
	defer srv.Close()
	conn, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadLimit(1 << 20)
	for _, n := range sizes {
		kind, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("frame of %d bytes: %v", n, err)
		}
		if kind != websocket.TextMessage || !bytes.Equal(data, payload(n)) {
			t.Fatalf("frame of %d bytes: read a message of type %d and %d bytes", n, kind, len(data))
		}
	}
}

// payload is n bytes of text that differ along the way.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
