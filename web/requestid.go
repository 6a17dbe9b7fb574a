package web

import (
	"context"
	"crypto/rand"
	"net/http"
)

// RequestIDHeader carries a request's id: the caller may send one, and every
// answer has one.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an id taken from a caller.
const maxRequestIDLen = 64

type requestIDKey struct{}

// RequestID is the id of the request whose context ctx is, "" outside a
// request.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestIDs gives every request an id before next sees it (see
// identify), so that requests outside the API's routes (/metrics, /ws, the
// board) have one too.
func WithRequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, identify(w, r))
	})
}

// identify gives the request an id, unless it has one already: the caller's
// X-Request-Id when it is a short safe token (at most 64 letters, digits,
// '.', '_' or '-'), otherwise a new random one. The id goes into the
// answer's X-Request-Id and the request's context, for its log lines.
func identify(w http.ResponseWriter, r *http.Request) *http.Request {
	if RequestID(r.Context()) != "" {
		return r
	}
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		id = rand.Text()
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// validRequestID says whether a caller's id may be used as it is: it goes
// into logs and headers, so it must not carry spaces, quotes, control
// characters or anything long.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
