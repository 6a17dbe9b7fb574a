package main

import (
	"bytes"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/truceline/truceline/alerting"
)

// via is how a reporter sends.
type via uint8

const (
	viaNATS via = iota
	viaHTTP
)

func (v via) String() string {
	if v == viaHTTP {
		return "http"
	}
	return "nats"
}

// reporterVias is each reporter's way of sending: --via mixed gives
// even-numbered reporters NATS and odd-numbered ones HTTP.
func reporterVias(mode string, reporters int) []via {
	vias := make([]via, reporters)
	for r := range vias {
		if mode == "http" || (mode == "mixed" && r%2 == 1) {
			vias[r] = viaHTTP
		}
	}
	return vias
}

// reportID names report i of a run. Ids carry their index, so a frame's
// ids lead back to the report without a map.
func reportID(run string, i int) string { return reportIDPrefix(run) + strconv.Itoa(i) }

func reportIDPrefix(run string) string { return "bench-" + run + "-" }

// What is known of one report.
const (
	flagAccepted  uint32 = 1 << iota // HTTP 202 or a PubAck
	flagRejected                     // anything else
	flagSeen                         // its id reached a WebSocket client
	flagTimed                        // a frame with its report_id was timed
	flagDuplicate                    // accepted, but the server already had it
)

type reportState struct {
	sentAt atomic.Int64 // on the tracker's clock; 0 until sent
	flags  atomic.Uint32
}

// set adds flag f and says whether it was new.
func (s *reportState) set(f uint32) bool {
	for {
		old := s.flags.Load()
		if old&f != 0 {
			return false
		}
		if s.flags.CompareAndSwap(old, old|f) {
			return true
		}
	}
}

// Latencies are recorded in microseconds, from 1 µs to 60 s, to three
// significant digits.
const (
	latencyMin = 1
	latencyMax = 60_000_000
)

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(latencyMin, latencyMax, 3)
}

// tracker follows every report of a run from its sending to its frames.
// Senders and WebSocket clients update it concurrently.
type tracker struct {
	start   time.Time // the clock: times are nanoseconds since start
	prefix  []byte    // of the run's report ids
	reports []reportState
	vias    []via // per reporter: report i is reporter i%len(vias)'s

	firstSend, lastAccept, lastSeen atomic.Int64
	seen                            atomic.Int64 // reports whose id reached a client

	mu         sync.Mutex     // guards what follows
	keys       map[int]string // the id the server keeps report i under, when it said
	latency    *hdrhistogram.Histogram
	latencyVia [2]*hdrhistogram.Histogram
	reasons    map[string]int
}

func newTracker(run string, total int, vias []via) *tracker {
	return &tracker{
		start: time.Now(), prefix: []byte(reportIDPrefix(run)),
		reports: make([]reportState, total), vias: vias,
		latency:    newLatencyHistogram(),
		latencyVia: [2]*hdrhistogram.Histogram{newLatencyHistogram(), newLatencyHistogram()},
		reasons:    map[string]int{},
		keys:       map[int]string{},
	}
}

func (t *tracker) now() int64 { return int64(time.Since(t.start)) }

func (t *tracker) viaOf(i int) via { return t.vias[i%len(t.vias)] }

// sent records the moment report i is handed to its sender.
func (t *tracker) sent(i int) { t.sentAt(i, time.Now()) }

// sentAt records report i as sent at at. At a fixed rate that is the time
// the schedule gave it, not the moment it went out: a reporter held up by
// a slow server sends late, and the wait belongs in the latency (no
// coordinated omission).
func (t *tracker) sentAt(i int, at time.Time) {
	ns := int64(at.Sub(t.start))
	t.reports[i].sentAt.Store(ns)
	storeMin(&t.firstSend, ns)
}

func (t *tracker) accepted(i int, duplicate bool) {
	t.reports[i].set(flagAccepted)
	if duplicate {
		t.reports[i].set(flagDuplicate)
	}
	storeMax(&t.lastAccept, t.now())
}

// keyed records the id the server answered for report i.
func (t *tracker) keyed(i int, key string) {
	t.mu.Lock()
	t.keys[i] = key
	t.mu.Unlock()
}

// key is the id the server keeps report i (of zone) under: what it
// answered over HTTP, and over NATS the id as an anonymous NATS
// publisher's (the bench connects without credentials).
func (t *tracker) key(i int, zone string) string {
	t.mu.Lock()
	key, ok := t.keys[i]
	t.mu.Unlock()
	if ok {
		return key
	}
	return alerting.ReportKey(alerting.Submitter{Via: alerting.ViaNATS}, zone, string(t.prefix)+strconv.Itoa(i))
}

// rejected records report i as refused, for reason (an HTTP status such as
// "429", or "nats: …").
func (t *tracker) rejected(i int, reason string) {
	t.reports[i].set(flagRejected)
	t.mu.Lock()
	t.reasons[reason]++
	t.mu.Unlock()
}

// observe takes an alert frame that arrived at now: its report_id is
// delivered and timed (by the first client only), and so is every id of
// the alert's report_ids (a threshold rule opens its alert on a later
// report, listing the earlier ones), untimed.
func (t *tracker) observe(f *wsFrame, now int64) {
	if i, ok := t.index(f.ReportID); ok {
		if t.reports[i].set(flagTimed) {
			t.record(i, now-t.reports[i].sentAt.Load())
		}
		t.deliver(i, now)
	}
	if f.Alert != nil {
		eachReportID(f.Alert, func(id []byte) {
			if i, ok := t.index(id); ok {
				t.deliver(i, now)
			}
		})
	}
}

func (t *tracker) deliver(i int, now int64) {
	if t.reports[i].set(flagSeen) {
		t.seen.Add(1)
		storeMax(&t.lastSeen, now)
	}
}

func (t *tracker) record(i int, latency int64) {
	us := min(max(latency/int64(time.Microsecond), latencyMin), latencyMax)
	t.mu.Lock()
	defer t.mu.Unlock()
	_ = t.latency.RecordValue(us) // within range: cannot fail
	_ = t.latencyVia[t.viaOf(i)].RecordValue(us)
}

// index is the report a report id names, if it is one of this run's
// that was sent. truceline keeps a report under the id it was sent with
// and a tag of its sender (<id>~<tag>).
func (t *tracker) index(id []byte) (int, bool) {
	if k := bytes.IndexByte(id, '~'); k >= 0 {
		id = id[:k]
	}
	rest, ok := bytes.CutPrefix(id, t.prefix)
	if !ok || len(rest) == 0 || len(rest) > 18 {
		return 0, false
	}
	i := 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			return 0, false
		}
		i = i*10 + int(c-'0')
	}
	if i >= len(t.reports) || t.reports[i].sentAt.Load() == 0 {
		return 0, false
	}
	return i, true
}

// pendingCount is how many accepted reports no client has seen yet.
func (t *tracker) pendingCount() int {
	n := 0
	for i := range t.reports {
		if f := t.reports[i].flags.Load(); f&flagAccepted != 0 && f&flagSeen == 0 {
			n++
		}
	}
	return n
}

// pending lists the accepted reports no client has seen yet.
func (t *tracker) pending() []int {
	var out []int
	for i := range t.reports {
		if f := t.reports[i].flags.Load(); f&flagAccepted != 0 && f&flagSeen == 0 {
			out = append(out, i)
		}
	}
	return out
}

// rejectReasons is a copy of the rejections by reason.
func (t *tracker) rejectReasons() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.reasons)
}

func storeMax(a *atomic.Int64, v int64) {
	for old := a.Load(); v > old && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for old := a.Load(); (old == 0 || v < old) && !a.CompareAndSwap(old, v); old = a.Load() {
	}
}
