package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/truceline/truceline/alerting"
)

const (
	// MaxBody is the largest request body a Receiver accepts.
	MaxBody = 1 << 20
	// DefaultKeep is how many webhooks a Receiver keeps when told to keep
	// none or fewer.
	DefaultKeep = 100
	// minSeen is the fewest webhook ids a Receiver remembers to recognise
	// repeats, more than it keeps if keep is small.
	minSeen = 10000
	// subscriberBuffer is how many arrivals a subscriber may fall behind.
	subscriberBuffer = 64
)

// Received is one webhook a Receiver accepted.
type Received struct {
	// ID is the webhook-id header: the notification's idempotency key.
	ID string
	// At is when it arrived.
	At      time.Time
	Payload alerting.Payload
	// Path is the request's URL path.
	Path string
}

// Receiver is an http.Handler that verifies webhooks signed per Standard
// Webhooks and records them, newest first: the demo's built-in inbox and
// trucectl receive. It is safe for concurrent use.
type Receiver struct {
	secret func(r *http.Request) (string, bool)
	keep   int

	mu       sync.Mutex
	received []Received // oldest first, at most keep
	seen     map[string]struct{}
	seenFIFO []string // the ids of seen in arrival order, to forget the oldest
	dups     int
	subs     map[*subscriber]struct{}
}

type subscriber struct{ ch chan Received }

// NewReceiver returns a Receiver that checks each request's signature with
// the secret that secret returns for it (a "whsec_" secret; false answers
// 404, for a path nobody expects webhooks on) and keeps the newest keep
// webhooks (DefaultKeep if keep < 1).
func NewReceiver(secret func(r *http.Request) (string, bool), keep int) *Receiver {
	if keep < 1 {
		keep = DefaultKeep
	}
	return &Receiver{secret: secret, keep: keep, seen: map[string]struct{}{}, subs: map[*subscriber]struct{}{}}
}

// ServeHTTP accepts a webhook: 204 when recorded, 200 for a repeat of a
// webhook-id already received; otherwise 405 for a method other than POST,
// 404 when there is no secret for the request, 413 for a body over MaxBody,
// 401 for a missing or wrong signature or a timestamp off by more than the
// library's tolerance (5 minutes), 400 for a body that is not a payload.
// Errors are JSON: {"error": "..."}.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, "only POST is allowed")
		return
	}
	secret, ok := rc.secret(r)
	if !ok {
		writeError(w, http.StatusNotFound, "no webhook is expected here")
		return
	}
	// The library takes any base64 as a secret, even "": an empty key
	// that anyone can sign with. Refuse to verify with such a secret.
	if alerting.ValidWebhookSecret(secret) != nil {
		writeError(w, http.StatusInternalServerError, "the receiver's secret is not a valid whsec_ secret")
		return
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "the receiver's secret is not a valid whsec_ secret")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "reading the body failed")
		return
	}
	if err := wh.Verify(body, r.Header); err != nil {
		writeError(w, http.StatusUnauthorized, verifyProblem(err))
		return
	}
	var p alerting.Payload
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&p); err != nil {
		writeError(w, http.StatusBadRequest, "the body is not a JSON payload: "+err.Error())
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "the body holds more than one JSON value")
		return
	}
	id := r.Header.Get(standardwebhooks.HeaderWebhookID)
	if !rc.record(Received{ID: id, At: time.Now(), Payload: p, Path: r.URL.Path}) {
		w.WriteHeader(http.StatusOK) // a repeat: already received
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// verifyProblem says why the library refused a signature.
func verifyProblem(err error) string {
	switch {
	case errors.Is(err, standardwebhooks.ErrRequiredHeaders):
		return "missing webhook-id, webhook-timestamp or webhook-signature header"
	case errors.Is(err, standardwebhooks.ErrInvalidHeaders):
		return "invalid webhook-timestamp header"
	case errors.Is(err, standardwebhooks.ErrMessageTooOld), errors.Is(err, standardwebhooks.ErrMessageTooNew):
		return "webhook-timestamp is too far from the receiver's clock"
	default:
		return "no matching signature"
	}
}

func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// record keeps rec and tells the subscribers, unless its id was seen
// before, which counts a duplicate and returns false.
func (rc *Receiver) record(rec Received) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, dup := rc.seen[rec.ID]; dup {
		rc.dups++
		return false
	}
	rc.seen[rec.ID] = struct{}{}
	rc.seenFIFO = append(rc.seenFIFO, rec.ID)
	if limit := max(rc.keep, minSeen); len(rc.seenFIFO) > limit {
		// Forget the oldest ids, a batch at a time so that the
		// slice is not copied on every arrival.
		drop := len(rc.seenFIFO) - limit + limit/4
		for _, id := range rc.seenFIFO[:drop] {
			delete(rc.seen, id)
		}
		rc.seenFIFO = append([]string(nil), rc.seenFIFO[drop:]...)
	}
	rc.received = append(rc.received, rec)
	if len(rc.received) > rc.keep {
		rc.received = append(rc.received[:0:0], rc.received[len(rc.received)-rc.keep:]...)
	}
	// Never block the handler on a slow subscriber: one whose buffer is
	// full misses this arrival (Received still has it).
	for s := range rc.subs {
		select {
		case s.ch <- rec:
		default:
		}
	}
	return true
}

// Received returns the webhooks kept, newest first.
func (rc *Receiver) Received() []Received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]Received, len(rc.received))
	for i, r := range rc.received {
		out[len(out)-1-i] = r
	}
	return out
}

// Duplicates returns how many repeats of webhook ids already received
// arrived.
func (rc *Receiver) Duplicates() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.dups
}

// Subscribe returns a channel that gets each webhook recorded from now on,
// and a function that ends the subscription and closes the channel (safe
// to call more than once). The channel is buffered; a subscriber that falls
// more than its buffer behind misses arrivals rather than holding up the
// sender, so it should read promptly and use Received to catch up.
func (rc *Receiver) Subscribe() (<-chan Received, func()) {
	s := &subscriber{ch: make(chan Received, subscriberBuffer)}
	rc.mu.Lock()
	rc.subs[s] = struct{}{}
	rc.mu.Unlock()
	var once sync.Once
	return s.ch, func() {
		once.Do(func() {
			rc.mu.Lock()
			delete(rc.subs, s)
			close(s.ch) // under mu: record never sends on a closed channel
			rc.mu.Unlock()
		})
	}
}

// GenerateSecret returns a new signing secret: "whsec_" and base64 of 32
// random bytes.
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return alerting.WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}
