package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Destinations says which addresses webhooks may be sent to. It is
// checked against the address actually dialled, after DNS, so a host name
// cannot lead past it (nor a name that resolves differently later).
//
// Public addresses are allowed and private or local ones (loopback, RFC
// 1918, unique local, link-local, carrier-grade NAT, unspecified,
// multicast) denied, except that an address in Allow is always allowed and
// one in Deny (and not in Allow) always denied.
type Destinations struct {
	Allow []netip.Prefix
	Deny  []netip.Prefix
}

// ErrDestinationDenied is a webhook whose destination address the
// Destinations do not allow.
var ErrDestinationDenied = errors.New("the destination's address is not allowed for webhooks")

// cgnat is the shared address space of RFC 6598.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Permits reports whether a webhook may be sent to ip.
func (d *Destinations) Permits(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range d.Allow {
		if p.Contains(ip) {
			return true
		}
	}
	for _, p := range d.Deny {
		if p.Contains(ip) {
			return false
		}
	}
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || cgnat.Contains(ip))
}

// control refuses to connect to an address the Destinations do not permit
// (net.Dialer.Control).
func (d *Destinations) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrDestinationDenied, address)
	}
	if !d.Permits(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrDestinationDenied, ap.Addr())
	}
	return nil
}

// connError is a request that got no answer: Error names the destination
// and a short reason only, since it is shown to everyone who sees the
// alert; Unwrap keeps the cause for errors.Is and errors.As.
type connError struct {
	dest, reason string
	err          error
}

func (e *connError) Error() string { return e.dest + ": " + e.reason }
func (e *connError) Unwrap() error { return e.err }

// reason names, in a few words, why a request got no answer.
func reason(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	switch {
	case errors.Is(err, ErrDestinationDenied):
		return "the destination's address is not allowed for webhooks (webhook_allow_networks)"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &dnsErr):
		return "the host name did not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &certErr), errors.As(err, &recordErr):
		return "TLS failed"
	}
	return "the connection failed"
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
