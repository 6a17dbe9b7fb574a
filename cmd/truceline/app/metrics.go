package app

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/truceline/truceline/alerting"
)

// deliveryMetrics counts notification attempts by method kind and outcome,
// and times the senders.
type deliveryMetrics struct {
	attempts *prometheus.HistogramVec
}

func newDeliveryMetrics(reg prometheus.Registerer) *deliveryMetrics {
	m := &deliveryMetrics{attempts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "truceline_notification_attempt_seconds",
		Help:    "Notification delivery attempts by method kind and outcome (sent, failed, gave_up), timed from send to answer.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	}, []string{"kind", "outcome"})}
	reg.MustRegister(m.attempts)
	return m
}

func (m *deliveryMetrics) observe(n alerting.Notification, took time.Duration) {
	m.attempts.WithLabelValues(string(n.Kind), n.State).Observe(took.Seconds())
}
