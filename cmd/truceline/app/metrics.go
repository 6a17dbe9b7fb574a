package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
	"github.com/truceline/truceline/alerting/adapters/redisstore"
	"github.com/truceline/truceline/web"
)

// deliveryMetrics counts notification attempts by method kind and outcome,
// times the senders, and measures how late notifications go out.
type deliveryMetrics struct {
	attempts *prometheus.HistogramVec
	delay    *prometheus.HistogramVec
}

func newDeliveryMetrics(reg prometheus.Registerer) *deliveryMetrics {
	m := &deliveryMetrics{
		attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "truceline_notification_attempt_duration_seconds",
			Help:    "Notification delivery attempts by method kind and outcome (sent, failed, gave_up), timed from send to answer.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"kind", "outcome"}),
		delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "truceline_notification_delay_seconds",
			Help:    "Time from an escalation step firing to its notification's successful send, by method kind; retries, throttling and open breakers included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kind"}),
	}
	reg.MustRegister(m.attempts, m.delay)
	return m
}

// observe hears one delivery attempt; n carries the attempt's outcome as its
// State.
func (m *deliveryMetrics) observe(n alerting.Notification, took time.Duration) {
	m.attempts.WithLabelValues(string(n.Kind), n.State).Observe(took.Seconds())
	if n.State == alerting.NotificationSent && !n.At.IsZero() {
		m.delay.WithLabelValues(string(n.Kind)).Observe(max(time.Since(n.At), 0).Seconds())
	}
}

// How often the collectors below read shared state at most, and how long a
// read may take. A scrape within stateEvery of the last read gets the same
// values; a read that fails or times out leaves its metrics out of the
// scrape (truceline_dependency_up says why).
const (
	stateEvery   = 5 * time.Second
	stateTimeout = 2 * time.Second
	checkTimeout = time.Second
)

// stateMetrics are the collectors that read state shared by every replica
// when /metrics is scraped: alerts by state and severity, queued
// deliveries, and whether each dependency that /readyz checks answers.
// Every replica reports the same values: aggregate them with max, not sum.
func (a *App) stateMetrics(ready []web.Check) []prometheus.Collector {
	zones := func() []string {
		var ids []string
		for _, z := range a.catalog.Catalog().Zones() {
			ids = append(ids, z.ID)
		}
		return ids
	}
	return []prometheus.Collector{
		newAlertsCollector(a.Store, zones, a.logger),
		newQueueCollector(a.Store, a.logger),
		newDependencyCollector(ready),
		newSourcesCollector(&alerting.SourceWatch{Sources: a.Store, Groups: a.Store, Catalog: a.catalog}, a.logger),
	}
}

// newSourcesCollector reports truceline_sources{state}: the monitored
// sources by state (docs/MONITORS.md), every state, 0 when none is in it.
func newSourcesCollector(w *alerting.SourceWatch, logger *slog.Logger) prometheus.Collector {
	desc := prometheus.NewDesc("truceline_sources",
		"Monitored sources by state (heard, waiting, late, silent, paused); read from Redis at most every 5 s.",
		[]string{"state"}, nil)
	return &cached{descs: []*prometheus.Desc{desc}, what: "the monitored sources", logger: logger, read: func(ctx context.Context) ([]prometheus.Metric, error) {
		statuses, err := w.Statuses(ctx, func(string) bool { return true }, time.Now())
		if err != nil {
			return nil, err
		}
		counts := map[string]int{}
		for _, s := range statuses {
			counts[s.State]++
		}
		out := make([]prometheus.Metric, 0, len(alerting.SourceStates))
		for _, state := range alerting.SourceStates {
			out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[state]), state))
		}
		return out, nil
	}}
}

// cached is a collector whose metrics are read on scrape, at most every
// stateEvery and within stateTimeout; concurrent scrapes share one read.
type cached struct {
	descs  []*prometheus.Desc
	read   func(ctx context.Context) ([]prometheus.Metric, error)
	what   string
	logger *slog.Logger

	mu      sync.Mutex
	at      time.Time
	metrics []prometheus.Metric
}

func (c *cached) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *cached) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) >= stateEvery {
		ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
		ms, err := c.read(ctx)
		cancel()
		c.at, c.metrics = time.Now(), ms
		if err != nil {
			c.metrics = nil
			c.logger.Debug("metrics: cannot read "+c.what, "err", err)
		}
	}
	for _, m := range c.metrics {
		ch <- m
	}
}

// snapshotter reads a zone's active alerts; redisstore.Store is one.
type snapshotter interface {
	Snapshot(ctx context.Context, zone string) (int64, []*alerting.Alert, error)
}

// alertStates are the states truceline_alerts counts: the active ones.
// Resolved alerts are history, counted by truceline_alert_changes_total.
var alertStates = []alerting.State{alerting.StateOpen, alerting.StateAcknowledged}

var severities = []alerting.Severity{alerting.SeverityMinor, alerting.SeverityModerate, alerting.SeveritySevere, alerting.SeverityExtreme}

// newAlertsCollector reports truceline_alerts{state,severity}: the active
// alerts of every configured zone. Each read runs the store's snapshot
// script once per zone, which reads every active alert of the zone (the
// same read a WebSocket subscription makes), so its cost grows with the
// number of active alerts, not with history; a zone no longer configured is
// not counted. Every state and severity is reported, at 0 when there is
// none, so that dashboards show zeros rather than gaps.
func newAlertsCollector(s snapshotter, zones func() []string, logger *slog.Logger) prometheus.Collector {
	desc := prometheus.NewDesc("truceline_alerts",
		"Active alerts by state (open, acknowledged) and severity, over every configured zone; read from Redis at most every 5 s.",
		[]string{"state", "severity"}, nil)
	return &cached{descs: []*prometheus.Desc{desc}, what: "alerts", logger: logger, read: func(ctx context.Context) ([]prometheus.Metric, error) {
		type key struct {
			state    alerting.State
			severity alerting.Severity
		}
		counts := map[key]int{}
		for _, zone := range zones() {
			_, alerts, err := s.Snapshot(ctx, zone)
			if err != nil {
				return nil, err
			}
			for _, al := range alerts {
				sev := al.Severity
				if !sev.Valid() {
					sev = "unknown"
				}
				counts[key{al.State, sev}]++
			}
		}
		var out []prometheus.Metric
		for _, st := range alertStates {
			for _, sev := range severities {
				out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(counts[key{st, sev}]), string(st), string(sev)))
			}
			if n := counts[key{st, "unknown"}]; n > 0 {
				out = append(out, prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(n), string(st), "unknown"))
			}
		}
		return out, nil
	}}
}

// queueCounter counts the deliveries waiting per lane; redisstore.Store is
// one.
type queueCounter interface {
	QueuedDeliveries(ctx context.Context) (normal, urgent int64, err error)
}

// newQueueCollector reports truceline_notification_queued_deliveries{lane}:
// two ZCARDs in one round trip per read.
func newQueueCollector(q queueCounter, logger *slog.Logger) prometheus.Collector {
	desc := prometheus.NewDesc("truceline_notification_queued_deliveries",
		"Notifications waiting in the delivery queue, due or not, by lane (normal, urgent); read from Redis at most every 5 s.",
		[]string{"lane"}, nil)
	return &cached{descs: []*prometheus.Desc{desc}, what: "the delivery queue", logger: logger, read: func(ctx context.Context) ([]prometheus.Metric, error) {
		normal, urgent, err := q.QueuedDeliveries(ctx)
		if err != nil {
			return nil, err
		}
		return []prometheus.Metric{
			prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(normal), "normal"),
			prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(urgent), "urgent"),
		}, nil
	}}
}

// newDependencyCollector reports truceline_dependency_up{dependency}: 1
// when the readiness check of that name (the same as /readyz runs) passes
// within a second, else 0. The checks run in parallel.
func newDependencyCollector(checks []web.Check) prometheus.Collector {
	desc := prometheus.NewDesc("truceline_dependency_up",
		"Whether a dependency answers its /readyz check (nats, redis) within 1 s: 1 or 0; checked at most every 5 s.",
		[]string{"dependency"}, nil)
	return &cached{descs: []*prometheus.Desc{desc}, what: "dependencies", logger: slog.New(slog.DiscardHandler), read: func(ctx context.Context) ([]prometheus.Metric, error) {
		out := make([]prometheus.Metric, len(checks))
		var wg sync.WaitGroup
		for i, c := range checks {
			wg.Go(func() {
				cctx, cancel := context.WithTimeout(ctx, checkTimeout)
				defer cancel()
				up := 1.0
				if c.Check(cctx) != nil {
					up = 0
				}
				out[i] = prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, up, c.Name)
			})
		}
		wg.Wait()
		return out, nil
	}}
}

// healMetrics count what the healer restored, and show the zones it is
// restoring.
type healMetrics struct {
	heals   prometheus.Counter
	changes prometheus.Counter
	reports prometheus.Counter
}

func newHealMetrics(reg prometheus.Registerer, s *redisstore.Store) *healMetrics {
	m := &healMetrics{
		heals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_zone_heals_total",
			Help: "Zones healed from the streams after Redis came back behind them.",
		}),
		changes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_healed_changes_total",
			Help: "Alert changes redone from ALERTS into Redis by healing.",
		}),
		reports: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "truceline_reports_recovered_total",
			Help: "Reports processed again from VIOLATIONS by healing, because Redis had lost them.",
		}),
	}
	reg.MustRegister(m.heals, m.changes, m.reports, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "truceline_zones_healing",
		Help: "Zones being restored from the streams now; their boards and writes wait until it is done.",
	}, func() float64 { return float64(len(s.Healing())) }))
	return m
}

func (m *healMetrics) healed(_ string, changes int, _ time.Duration) {
	m.heals.Inc()
	m.changes.Add(float64(changes))
}

func (m *healMetrics) recovered(reports int) { m.reports.Add(float64(reports)) }
