package metrics

import (
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagscaler/lagscaler/scaler"
)

// DefaultScaledObjectExpiry is how long NewScaledObjectMetrics keeps the
// series of a ScaledObject that is no longer observed, when it is given no
// expiry.
const DefaultScaledObjectExpiry = 10 * time.Minute

// ScaledObjectMetrics exports the newest result of every ScaledObject trigger
// the scaler evaluated. It implements scaler.Observer and
// prometheus.Collector and is safe for concurrent use.
//
// KEDA never reports that a ScaledObject was deleted. The series of a
// trigger that was not observed for the expiry period are therefore removed,
// which keeps the number of series bounded.
//
// A ScaledObject with several lagscaler triggers has one metric_value series
// per trigger. Its active series is 1 when any trigger is active, and its
// desired_replicas and replica_cap series come from the trigger with the
// highest desired replicas.
type ScaledObjectMetrics struct {
	expiry time.Duration
	now    func() time.Time

	metricValue     *prometheus.Desc
	active          *prometheus.Desc
	replicaCap      *prometheus.Desc
	desiredReplicas *prometheus.Desc

	mu        sync.Mutex
	triggers  map[triggerKey]triggerResult
	lastPrune time.Time
}

type triggerKey struct{ namespace, name, metric string }

type triggerResult struct {
	value      float64
	active     bool
	replicaCap int64
	uncapped   int64
	seen       time.Time
}

var _ scaler.Observer = (*ScaledObjectMetrics)(nil)

// NewScaledObjectMetrics returns a ScaledObjectMetrics that removes the series
// of a trigger not observed for expiry, and registers it with reg. An expiry of zero or
// less selects DefaultScaledObjectExpiry. It returns an error when reg
// rejects the collector.
func NewScaledObjectMetrics(
	reg prometheus.Registerer, expiry time.Duration,
) (*ScaledObjectMetrics, error) {
	m := newScaledObjectMetrics(expiry, time.Now)
	if err := reg.Register(m); err != nil {
		return nil, fmt.Errorf("registering scaledobject metrics: %w", err)
	}
	return m, nil
}

func newScaledObjectMetrics(expiry time.Duration, now func() time.Time) *ScaledObjectMetrics {
	if expiry <= 0 {
		expiry = DefaultScaledObjectExpiry
	}
	objectLabels := []string{"namespace", "scaledobject"}
	return &ScaledObjectMetrics{
		expiry: expiry,
		now:    now,
		metricValue: prometheus.NewDesc("lagscaler_scaledobject_metric_value",
			"Metric value last sent to KEDA for the ScaledObject's trigger. "+
				"metric is the metric name without KEDA's s<index>- prefix.",
			[]string{"namespace", "scaledobject", "metric"}, nil),
		active: prometheus.NewDesc("lagscaler_scaledobject_active",
			"1 when the ScaledObject was last reported active to KEDA, 0 otherwise.",
			objectLabels, nil),
		replicaCap: prometheus.NewDesc("lagscaler_scaledobject_replica_cap",
			"Maximum replica count that the ScaledObject's metric value can request. "+
				"Absent when allowIdleConsumers lifts the cap.",
			objectLabels, nil),
		desiredReplicas: prometheus.NewDesc("lagscaler_scaledobject_desired_replicas",
			"Replica count computed from the lag, ceil(lag / lagThreshold), "+
				"before even distribution and the replica cap.",
			objectLabels, nil),
		triggers: make(map[triggerKey]triggerResult),
	}
}

// ObserveScaledObject stores r as the newest result of its trigger.
func (m *ScaledObjectMetrics) ObserveScaledObject(r scaler.ScaledObjectResult) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.triggers[triggerKey{r.Namespace, r.Name, r.MetricName}] = triggerResult{
		value:      r.Value,
		active:     r.Active,
		replicaCap: r.ReplicaCap,
		uncapped:   r.UncappedReplicas,
		seen:       now,
	}
	// Pruning here as well as in Collect bounds memory when nothing
	// scrapes. Pruning at most once per expiry period keeps the cost of
	// most calls constant.
	if now.Sub(m.lastPrune) >= m.expiry {
		m.prune(now)
	}
}

// prune removes expired triggers. m.mu must be held.
func (m *ScaledObjectMetrics) prune(now time.Time) {
	for key, t := range m.triggers {
		if now.Sub(t.seen) > m.expiry {
			delete(m.triggers, key)
		}
	}
	m.lastPrune = now
}

// Describe sends the descriptors of every series the collector exports.
func (m *ScaledObjectMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.metricValue
	ch <- m.active
	ch <- m.replicaCap
	ch <- m.desiredReplicas
}

// Collect removes expired triggers and exports the rest.
func (m *ScaledObjectMetrics) Collect(ch chan<- prometheus.Metric) {
	type objectKey struct{ namespace, name string }
	type objectState struct {
		active bool
		// top is the trigger with the highest desired replicas. Ties go to
		// the lowest metric name, so the choice does not depend on map
		// order.
		top       triggerResult
		topMetric string
	}

	// The results are copied so that the lock is not held while sending,
	// because the scaler's RPCs must not wait for a scrape.
	m.mu.Lock()
	m.prune(m.now())
	triggers := maps.Clone(m.triggers)
	m.mu.Unlock()

	objects := make(map[objectKey]*objectState)
	for key, t := range triggers {
		ch <- gauge(m.metricValue, t.value, key.namespace, key.name, key.metric)

		object := objectKey{key.namespace, key.name}
		o := objects[object]
		if o == nil {
			o = &objectState{top: t, topMetric: key.metric}
			objects[object] = o
		}
		if t.uncapped > o.top.uncapped || (t.uncapped == o.top.uncapped && key.metric < o.topMetric) {
			o.top, o.topMetric = t, key.metric
		}
		o.active = o.active || t.active
	}

	for key, o := range objects {
		ch <- gauge(m.active, boolToFloat(o.active), key.namespace, key.name)
		ch <- gauge(m.desiredReplicas, float64(o.top.uncapped), key.namespace, key.name)
		// A cap of -1 means there is none. Exporting it would make every
		// "desired >= cap" comparison true.
		if o.top.replicaCap >= 0 {
			ch <- gauge(m.replicaCap, float64(o.top.replicaCap), key.namespace, key.name)
		}
	}
}
