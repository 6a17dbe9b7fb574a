package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// benchResult is every figure of a run; --json prints it as is. Durations
// are nanoseconds (…_ns), rates per second as floats.
type benchResult struct {
	GeneratedAt  time.Time                 `json:"generated_at"`
	Run          string                    `json:"run"`
	Machine      machineInfo               `json:"machine"`
	Load         benchLoad                 `json:"load"`
	Reports      reportCounts              `json:"reports"`
	Latency      latencySummary            `json:"latency"`
	LatencyByVia map[string]latencySummary `json:"latency_by_via,omitempty"`
	Throughput   throughput                `json:"throughput"`
	WebSocket    wsCounts                  `json:"websocket"`
	Server       serverUsage               `json:"server"`
	Redis        *redisUsage               `json:"redis,omitempty"`
	Ceilings     *ceilings                 `json:"ceilings,omitempty"`
	// Ratios of truceline's throughput to the ceilings, e.g.
	// delivered_per_jetstream: delivered/s ÷ raw JetStream msgs/s.
	Ratios map[string]float64 `json:"ratios,omitempty"`
	Notes  []string           `json:"notes"`
}

type machineInfo struct {
	NumCPU          int    `json:"num_cpu"`
	GOOS            string `json:"goos"`
	GOARCH          string `json:"goarch"`
	CPUModel        string `json:"cpu_model,omitempty"`
	GoVersion       string `json:"go_version"`
	ServerGoVersion string `json:"server_go_version,omitempty"` // from the server's go_info metric
}

type benchLoad struct {
	Via           string        `json:"via"`
	Reporters     int           `json:"reporters"`
	NATSReporters int           `json:"nats_reporters"`
	HTTPReporters int           `json:"http_reporters"`
	TargetRate    float64       `json:"target_rate"` // reports/s; 0: as fast as possible
	Planned       int           `json:"planned"`     // reports to send at most
	Duration      time.Duration `json:"duration_ns"` // 0: no time limit
	Grace         time.Duration `json:"grace_ns"`
	Zones         []string      `json:"zones"`
	Clients       int           `json:"clients"`
}

type reportCounts struct {
	Published            int                   `json:"published"`
	Accepted             int                   `json:"accepted"`
	Rejected             int                   `json:"rejected"`
	RejectedByReason     map[string]int        `json:"rejected_by_reason"`
	Unanswered           int                   `json:"unanswered"` // neither accepted nor rejected (interrupted)
	Duplicates           int                   `json:"duplicates"` // accepted, but the server had the id already
	Delivered            int                   `json:"delivered"`  // accepted and seen by a WebSocket client
	StoredNoAlert        int                   `json:"stored_no_alert"`
	Lost                 int                   `json:"lost"`
	LostIDs              []string              `json:"lost_ids,omitempty"` // the first few
	Unchecked            int                   `json:"unchecked"`          // not seen, and the server could not say whether stored
	RejectedButDelivered int                   `json:"rejected_but_delivered"`
	ByVia                map[string]*viaCounts `json:"by_via"`
}

type viaCounts struct {
	Published int `json:"published"`
	Accepted  int `json:"accepted"`
	Rejected  int `json:"rejected"`
	Delivered int `json:"delivered"`
}

type latencySummary struct {
	Count int64         `json:"count"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
	Mean  time.Duration `json:"mean_ns"`
}

type throughput struct {
	SendPhase          time.Duration `json:"send_phase_ns"` // first publish to last acceptance
	AcceptedPerSecond  float64       `json:"accepted_per_second"`
	DeliveryPhase      time.Duration `json:"delivery_phase_ns"` // first publish to last delivery
	DeliveredPerSecond float64       `json:"delivered_per_second"`
}

type wsCounts struct {
	Clients     int   `json:"clients"`
	Frames      int64 `json:"frames"`
	Snapshots   int64 `json:"snapshots"`
	Resumed     int64 `json:"resumed"`
	ErrorFrames int64 `json:"error_frames"`
	Reconnects  int64 `json:"reconnects"`
}

type serverUsage struct {
	Wall          time.Duration `json:"wall_ns"` // between the first and the last sample
	CPUSeconds    float64       `json:"cpu_seconds"`
	CoresBusy     float64       `json:"cpu_cores_busy"`
	CPUPerReport  float64       `json:"cpu_us_per_report"`
	StartRSS      int64         `json:"start_rss_bytes"`
	MaxRSS        int64         `json:"max_rss_bytes"`
	EndRSS        int64         `json:"end_rss_bytes"`
	EndHeapInuse  int64         `json:"end_heap_inuse_bytes"`
	EndGoroutines int           `json:"end_goroutines"`
	Error         string        `json:"error,omitempty"`
}

type redisUsage struct {
	CPUSeconds       float64 `json:"cpu_seconds"`
	CPUPerReport     float64 `json:"cpu_us_per_report"`
	UsedMemoryBefore int64   `json:"used_memory_before_bytes"`
	UsedMemoryAfter  int64   `json:"used_memory_after_bytes"`
	Error            string  `json:"error,omitempty"`
}

type ceilings struct {
	JetStream *ceiling `json:"jetstream,omitempty"`
	RedisEval *ceiling `json:"redis_evalsha,omitempty"`
	RedisPing *ceiling `json:"redis_ping,omitempty"`
}

type ceiling struct {
	Ops          int           `json:"ops"`
	MessageBytes int           `json:"message_bytes,omitempty"`
	Concurrency  int           `json:"concurrency"`
	Elapsed      time.Duration `json:"elapsed_ns"`
	PerSecond    float64       `json:"per_second"`
	Error        string        `json:"error,omitempty"`
}

func newBenchResult(cfg benchConfig) *benchResult {
	r := &benchResult{GeneratedAt: time.Now().UTC(), Run: cfg.run, Machine: machine(), Load: benchLoad{
		Via: cfg.via, Reporters: cfg.reporters, TargetRate: cfg.rate, Planned: cfg.total, Duration: cfg.sendFor,
		Grace: cfg.grace, Zones: cfg.zones, Clients: cfg.clients,
	}}
	for _, v := range reporterVias(cfg.via, cfg.reporters) {
		if v == viaHTTP {
			r.Load.HTTPReporters++
		} else {
			r.Load.NATSReporters++
		}
	}
	return r
}

// fill takes the figures of the load from the tracker, and the check of
// the reports no client saw.
func (r *benchResult) fill(tr *tracker, check storedCheck) {
	r.countReports(tr, check)
	r.summarizeLatency(tr)
	r.measureThroughput(tr)
}

func (r *benchResult) countReports(tr *tracker, check storedCheck) {
	rc := &r.Reports
	rc.RejectedByReason = tr.rejectReasons()
	rc.ByVia = map[string]*viaCounts{}
	for i := range tr.reports {
		st := &tr.reports[i]
		if st.sentAt.Load() == 0 {
			continue
		}
		f, via := st.flags.Load(), tr.viaOf(i).String()
		if rc.ByVia[via] == nil {
			rc.ByVia[via] = &viaCounts{}
		}
		v := rc.ByVia[via]
		rc.Published++
		v.Published++
		switch {
		case f&flagAccepted != 0:
			rc.Accepted++
			v.Accepted++
			if f&flagSeen != 0 {
				rc.Delivered++
				v.Delivered++
			}
			if f&flagDuplicate != 0 {
				rc.Duplicates++
			}
		case f&flagRejected != 0:
			rc.Rejected++
			v.Rejected++
			if f&flagSeen != 0 {
				rc.RejectedButDelivered++
			}
		default:
			rc.Unanswered++
		}
	}
	rc.StoredNoAlert, rc.Lost, rc.Unchecked = len(check.stored), len(check.lost), len(check.unchecked)
	for _, i := range check.lost[:min(len(check.lost), 20)] {
		rc.LostIDs = append(rc.LostIDs, reportID(r.Run, i))
	}
}

func (r *benchResult) summarizeLatency(tr *tracker) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	r.Latency = summarize(tr.latency)
	if r.Load.Via == "mixed" {
		r.LatencyByVia = map[string]latencySummary{}
		for _, v := range []via{viaNATS, viaHTTP} {
			r.LatencyByVia[v.String()] = summarize(tr.latencyVia[v])
		}
	}
}

// measureThroughput: accepted/s from the first publish to the last
// acceptance, delivered/s from the first publish to the last delivery.
func (r *benchResult) measureThroughput(tr *tracker) {
	first := tr.firstSend.Load()
	if last := tr.lastAccept.Load(); last > first {
		r.Throughput.SendPhase = time.Duration(last - first)
		r.Throughput.AcceptedPerSecond = float64(r.Reports.Accepted) / r.Throughput.SendPhase.Seconds()
	}
	if last := tr.lastSeen.Load(); last > first {
		r.Throughput.DeliveryPhase = time.Duration(last - first)
		r.Throughput.DeliveredPerSecond = float64(r.Reports.Delivered) / r.Throughput.DeliveryPhase.Seconds()
	}
}

func summarize(h *hdrhistogram.Histogram) latencySummary {
	if h.TotalCount() == 0 {
		return latencySummary{}
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	return latencySummary{Count: h.TotalCount(), Min: us(h.Min()), P50: us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)),
		P99: us(h.ValueAtQuantile(99)), P999: us(h.ValueAtQuantile(99.9)), Max: us(h.Max()),
		Mean: time.Duration(h.Mean() * float64(time.Microsecond))}
}

// finish works out the ratios to the ceilings and the notes.
func (r *benchResult) finish() {
	if c := r.Ceilings; c != nil {
		r.Ratios = map[string]float64{}
		ratio := func(name string, v float64, c *ceiling) {
			if c != nil && c.PerSecond > 0 {
				r.Ratios[name] = v / c.PerSecond
			}
		}
		ratio("accepted_per_jetstream", r.Throughput.AcceptedPerSecond, c.JetStream)
		ratio("delivered_per_jetstream", r.Throughput.DeliveredPerSecond, c.JetStream)
		ratio("delivered_per_redis_evalsha", r.Throughput.DeliveredPerSecond, c.RedisEval)
		ratio("delivered_per_redis_ping", r.Throughput.DeliveredPerSecond, c.RedisPing)
	}
	if r.Load.TargetRate > 0 {
		r.Notes = append(r.Notes, "Latency runs from each report's time on the --rate schedule, so a reporter held up by a slow server counts the wait (no coordinated omission).")
	}
	r.Notes = append(r.Notes,
		"NATS is embedded in the truceline process by default (serve without --nats-url): its CPU and memory are then inside the server's figures.",
		fmt.Sprintf("The load generator shares the machine (%d CPUs) with the server unless run elsewhere: its own CPU use competes with the server's.", r.Machine.NumCPU))
	if r.Redis == nil {
		r.Notes = append(r.Notes, "Redis runs as a process of its own, outside the server's figures; give --redis to measure it.")
	} else {
		r.Notes = append(r.Notes, "Redis runs as a process of its own: its CPU is not in the server's figures.")
	}
	if r.Server.Error == "" {
		r.Notes = append(r.Notes, "The server's /metrics was read once a second during the load; each read costs the server a little (a Redis script per zone for truceline_alerts).")
	}
	if r.Load.TargetRate > 0 {
		r.Notes = append(r.Notes, "At a fixed --rate the throughputs follow the offered load: the ratios to the ceilings show headroom, not capacity (--rate 0 measures capacity).")
	}
	if r.Ceilings != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("Ceilings: raw JetStream is one async publisher and one pull consumer with explicit acks on a file-storage stream, no work per message; Redis is %d concurrent clients.", redisCeilingWorkers))
	}
	if r.Reports.StoredNoAlert > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d reports were stored but reached no client: they opened or updated no alert (no rule matched, or a threshold was not reached). They are not lost.", r.Reports.StoredNoAlert))
	}
}

// verdict fails the run when an accepted report was lost, or could not be
// checked.
func (r *benchResult) verdict() error {
	switch {
	case r.Reports.Lost > 0:
		return fmt.Errorf("%d accepted reports were never stored (lost), e.g. %s", r.Reports.Lost, strings.Join(r.Reports.LostIDs, ", "))
	case r.Reports.Unchecked > 0:
		return fmt.Errorf("%d accepted reports never reached a client, and the server could not say whether it stored them", r.Reports.Unchecked)
	}
	return nil
}

// printBenchTable prints the result for people.
func printBenchTable(w io.Writer, r *benchResult) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}
	m := r.Machine
	server := ""
	if m.ServerGoVersion != "" {
		server = "; server built with " + m.ServerGoVersion
	}
	row("run", "%s at %s", r.Run, r.GeneratedAt.Format(time.RFC3339))
	row("machine", "%d CPUs %s/%s %s, %s%s", m.NumCPU, m.GOOS, m.GOARCH, cmp.Or(m.CPUModel, "(CPU model unknown)"), m.GoVersion, server)
	row("load", "%s", loadLine(r.Load))
	printReports(row, r)
	printLatency(row, "latency publish → frame", r.Latency)
	for _, v := range slices.Sorted(maps.Keys(r.LatencyByVia)) {
		printLatency(row, "  over "+strings.ToUpper(v), r.LatencyByVia[v])
	}
	t := r.Throughput
	row("throughput", "accepted %s over %s; delivered %s over %s (from the first publish)",
		perSecond(t.AcceptedPerSecond), fmtDur(t.SendPhase), perSecond(t.DeliveredPerSecond), fmtDur(t.DeliveryPhase))
	ws := r.WebSocket
	row("WebSocket", "clients: %d; %d frames, %d snapshots, %d resumed, %d reconnects, %d error frames",
		ws.Clients, ws.Frames, ws.Snapshots, ws.Resumed, ws.Reconnects, ws.ErrorFrames)
	printUsage(row, r)
	printCeilings(row, r)
	for k, n := range r.Notes {
		name := ""
		if k == 0 {
			name = "notes"
		}
		row(name, "- %s", n)
	}
	return tw.Flush()
}

func loadLine(l benchLoad) string {
	target := "as fast as possible"
	if l.TargetRate > 0 {
		target = fmt.Sprintf("%g reports/s", l.TargetRate)
	}
	if l.Duration > 0 {
		target += " for " + l.Duration.String()
	}
	return fmt.Sprintf("%s: %d NATS + %d HTTP reporters, %s (at most %d reports), %d zones, WebSocket clients: %d",
		l.Via, l.NATSReporters, l.HTTPReporters, target, l.Planned, len(l.Zones), l.Clients)
}

func printReports(row func(string, string, ...any), r *benchResult) {
	rc := r.Reports
	unanswered := ""
	if rc.Unanswered > 0 {
		unanswered = fmt.Sprintf(", %d unanswered", rc.Unanswered)
	}
	row("reports", "%d published, %d accepted, %d rejected%s", rc.Published, rc.Accepted, rc.Rejected, unanswered)
	if len(rc.RejectedByReason) > 0 {
		var parts []string
		for _, reason := range slices.Sorted(maps.Keys(rc.RejectedByReason)) {
			parts = append(parts, fmt.Sprintf("%s ×%d", reason, rc.RejectedByReason[reason]))
		}
		row("  rejected by reason", "%s", strings.Join(parts, ", "))
	}
	lost := fmt.Sprintf("%d lost", rc.Lost)
	if rc.Lost > 0 {
		lost = fmt.Sprintf("%d LOST (%s)", rc.Lost, strings.Join(rc.LostIDs, ", "))
	}
	if rc.Unchecked > 0 {
		lost += fmt.Sprintf(", %d UNCHECKED", rc.Unchecked)
	}
	row("accepted reports", "%d delivered to the WebSocket, %d stored without an alert, %s", rc.Delivered, rc.StoredNoAlert, lost)
	if len(rc.ByVia) > 1 {
		for _, v := range slices.Sorted(maps.Keys(rc.ByVia)) {
			c := rc.ByVia[v]
			row("  over "+strings.ToUpper(v), "%d published, %d accepted, %d rejected, %d delivered", c.Published, c.Accepted, c.Rejected, c.Delivered)
		}
	}
	if rc.Duplicates > 0 || rc.RejectedButDelivered > 0 {
		row("  oddities", "%d accepted as duplicates, %d rejected but delivered all the same", rc.Duplicates, rc.RejectedButDelivered)
	}
}

func printLatency(row func(string, string, ...any), name string, l latencySummary) {
	if l.Count == 0 {
		row(name, "no report was timed")
		return
	}
	row(name, "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  mean %s  (%d reports timed)",
		fmtDur(l.P50), fmtDur(l.P90), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), fmtDur(l.Mean), l.Count)
}

func printUsage(row func(string, string, ...any), r *benchResult) {
	if s := r.Server; s.Error == "" {
		row("server", "%.2f CPU s over %s: %.2f cores busy, %.0f µs CPU per accepted report; RSS %s at start, %s max, %s at end",
			s.CPUSeconds, fmtDur(s.Wall), s.CoresBusy, s.CPUPerReport, fmtBytes(s.StartRSS), fmtBytes(s.MaxRSS), fmtBytes(s.EndRSS))
	} else {
		row("server", "unavailable: %s", s.Error)
	}
	switch rd := r.Redis; {
	case rd == nil:
	case rd.Error != "":
		row("redis", "unavailable: %s", rd.Error)
	default:
		row("redis", "%.2f CPU s: %.0f µs CPU per accepted report; used memory %s → %s",
			rd.CPUSeconds, rd.CPUPerReport, fmtBytes(rd.UsedMemoryBefore), fmtBytes(rd.UsedMemoryAfter))
	}
}

func printCeilings(row func(string, string, ...any), r *benchResult) {
	c := r.Ceilings
	if c == nil {
		return
	}
	line := func(name, what string, cl *ceiling) {
		switch {
		case cl == nil:
		case cl.Error != "":
			row(name, "failed: %s", cl.Error)
		default:
			row(name, "%s in %s: %s", what, fmtDur(cl.Elapsed), perSecond(cl.PerSecond))
		}
	}
	if j := c.JetStream; j != nil {
		line("ceiling: raw JetStream", fmt.Sprintf("%d messages of %d B published and consumed", j.Ops, j.MessageBytes), j)
	}
	if e := c.RedisEval; e != nil {
		line("ceiling: Redis EVALSHA", fmt.Sprintf("%d HSETs of %s by %d clients", e.Ops, fmtBytes(int64(e.MessageBytes)), e.Concurrency), e)
	}
	if p := c.RedisPing; p != nil {
		line("ceiling: Redis PING", fmt.Sprintf("%d PINGs by %d clients", p.Ops, p.Concurrency), p)
	}
	var parts []string
	for _, k := range []struct{ key, text string }{
		{"delivered_per_jetstream", "delivered %.3g × raw JetStream"},
		{"accepted_per_jetstream", "accepted %.3g × raw JetStream"},
		{"delivered_per_redis_evalsha", "delivered %.3g × Redis EVALSHA round trips"},
		{"delivered_per_redis_ping", "delivered %.3g × Redis PINGs"},
	} {
		if v, ok := r.Ratios[k.key]; ok {
			parts = append(parts, fmt.Sprintf(k.text, v))
		}
	}
	if len(parts) > 0 {
		row("truceline ÷ ceilings", "%s", strings.Join(parts, "; "))
	}
}

// fmtDur rounds d to three significant digits.
func fmtDur(d time.Duration) string {
	r := time.Duration(1)
	for d/r >= 1000 {
		r *= 10
	}
	return d.Round(r).String()
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func perSecond(v float64) string { return fmt.Sprintf("%.0f/s", v) }
