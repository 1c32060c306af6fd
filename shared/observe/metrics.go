package observe

import (
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the message-handling metrics of a component. The bus's
// consumer runner updates them; a nil *Metrics records nothing.
type Metrics struct {
	handled     *prometheus.CounterVec
	failed      *prometheus.CounterVec
	redelivered *prometheus.CounterVec
	duration    *prometheus.HistogramVec
}

// Metric label names.
const (
	LabelSubject  = "subject"
	LabelConsumer = "consumer"
)

// NewMetrics creates the metrics and registers them on reg. Registering
// twice on one registry (several consumers of one process each asking)
// returns metrics that share the already registered collectors.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	labels := []string{LabelSubject, LabelConsumer}
	m := &Metrics{
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diffgate_messages_handled_total",
			Help: "Messages given to a handler, whatever the outcome.",
		}, labels),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diffgate_messages_failed_total",
			Help: "Handler runs that returned an error (transient or poison); a requested retry is not a failure.",
		}, labels),
		redelivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "diffgate_messages_redelivered_total",
			Help: "Messages received for the second time or later.",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "diffgate_handler_duration_seconds",
			Help:    "How long handlers ran.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, labels),
	}
	m.handled = register(reg, m.handled)
	m.failed = register(reg, m.failed)
	m.redelivered = register(reg, m.redelivered)
	m.duration = register(reg, m.duration)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		// Any other registration error is a programming error (a metric
		// name clash), found by the first test that builds the component.
		panic(err)
	}
	return c
}

// Outcome is what became of one handler run, for Metrics.Observe.
type Outcome int

const (
	OutcomeOK     Outcome = iota // acknowledged
	OutcomeRetry                 // asked to be redelivered later; not a failure
	OutcomeFailed                // transient error or poison
)

// Observe records one handler run.
func (m *Metrics) Observe(subject, consumer string, numDelivered uint64, took time.Duration, outcome Outcome) {
	if m == nil {
		return
	}
	s := MetricSubject(subject)
	m.handled.WithLabelValues(s, consumer).Inc()
	m.duration.WithLabelValues(s, consumer).Observe(took.Seconds())
	// Every series exists from the first message on, at 0 if need be, so
	// that rate() and alerts see them.
	redelivered, failed := m.redelivered.WithLabelValues(s, consumer), m.failed.WithLabelValues(s, consumer)
	if numDelivered > 1 {
		redelivered.Inc()
	}
	if outcome == OutcomeFailed {
		failed.Inc()
	}
}

// MetricSubject keeps the first three tokens of a subject, so that
// subjects ending in a provider or a data source name
// (diffgate.diff.task.<source>) do not multiply the time series.
func MetricSubject(subject string) string {
	n := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == '.' {
			n++
			if n == 3 {
				return subject[:i]
			}
		}
	}
	return strings.Clone(subject)
}
