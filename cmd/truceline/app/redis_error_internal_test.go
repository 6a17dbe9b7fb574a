package app

import (
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestAResetAfterTheTLSHandshakeIsARefusal: under TLS 1.3 a Redis that
// requires a client certificate may close the connection before the
// client reads its alert, so that the first write is reset; over TLS that
// reads as a refusal of the TLS connection, and only without TLS as a Redis
// that does not answer.
func TestAResetAfterTheTLSHandshakeIsARefusal(t *testing.T) {
	t.Parallel()
	reset := &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.ECONNRESET)}
	if msg := redisError("127.0.0.1:6380", true, reset).Error(); !strings.Contains(msg, "refused the TLS connection") ||
		!strings.Contains(msg, "--redis-tls-cert") {
		t.Errorf("a reset over TLS: %s", msg)
	}
	if msg := redisError("127.0.0.1:6379", false, reset).Error(); !strings.Contains(msg, "does not answer") {
		t.Errorf("a reset without TLS: %s", msg)
	}
}
