package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// durationBuckets are the histogram buckets, in seconds, for Kafka requests,
// lag refreshes and gRPC calls. They are Prometheus' default buckets with 1 ms
// and 2.5 ms added. Fast requests, such as those to a broker in the same data
// centre, then do not all fall into the first bucket.
var durationBuckets = []float64{
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// connectRequest is the request label for dialling and initialising a broker
// connection, which has no Kafka API name.
const connectRequest = "Connect"

// KafkaMetrics contains the Kafka client and lag refresh metrics of every
// cluster. Register it once and hand each cluster's client the KafkaHooks
// from Hooks. It is safe for concurrent use.
type KafkaMetrics struct {
	requestDuration *prometheus.HistogramVec
	requestErrors   *prometheus.CounterVec
	refreshes       *prometheus.CounterVec
	refreshDuration *prometheus.HistogramVec
}

// NewKafkaMetrics creates the Kafka metrics and registers them with reg. It
// returns an error when reg rejects one of them.
func NewKafkaMetrics(reg prometheus.Registerer) (*KafkaMetrics, error) {
	m := &KafkaMetrics{
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lagscaler_kafka_request_duration_seconds",
			Help: "Time from writing a Kafka request to reading its response, failed requests included. " +
				"request is the Kafka API name, or Connect for dialling and initialising a broker connection.",
			Buckets: durationBuckets,
		}, []string{"cluster", "request"}),
		requestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lagscaler_kafka_request_errors_total",
			Help: "Kafka requests that failed to be written or read, and broker connections that failed, " +
				"except requests the caller cancelled or that ended because the client was closed. " +
				"Error codes inside a response are not counted.",
		}, []string{"cluster", "request"}),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lagscaler_lag_refreshes_total",
			Help: "Background refreshes of a cluster's cached lag snapshots, by result (success or error).",
		}, []string{"cluster", "result"}),
		refreshDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lagscaler_lag_refresh_duration_seconds",
			Help:    "Time one background refresh of a cluster's cached lag snapshots took.",
			Buckets: durationBuckets,
		}, []string{"cluster"}),
	}
	err := register(reg, m.requestDuration, m.requestErrors, m.refreshes, m.refreshDuration)
	if err != nil {
		return nil, fmt.Errorf("registering kafka metrics: %w", err)
	}
	return m, nil
}

// Hooks returns the franz-go hooks that record the requests of the client of
// cluster. Pass them with kgo.WithHooks.
func (m *KafkaMetrics) Hooks(cluster string) *KafkaHooks {
	return &KafkaHooks{
		duration: m.requestDuration.MustCurryWith(prometheus.Labels{"cluster": cluster}),
		failures: m.requestErrors.MustCurryWith(prometheus.Labels{"cluster": cluster}),
	}
}

// ObserveRefresh records one refresh of cluster. Its signature matches
// lag.CacheOptions.OnRefresh. A non-nil err counts as result "error".
func (m *KafkaMetrics) ObserveRefresh(cluster string, _ int, took time.Duration, err error) {
	// Both series are created on the first refresh so that the first error
	// already shows in rate().
	success := m.refreshes.WithLabelValues(cluster, "success")
	failure := m.refreshes.WithLabelValues(cluster, "error")
	if err != nil {
		failure.Inc()
	} else {
		success.Inc()
	}
	m.refreshDuration.WithLabelValues(cluster).Observe(took.Seconds())
}

// KafkaHooks records the requests of one cluster's franz-go client. It
// implements kgo.HookBrokerE2E and kgo.HookBrokerConnect and is safe for
// concurrent use.
type KafkaHooks struct {
	duration prometheus.ObserverVec
	failures *prometheus.CounterVec
}

var (
	_ kgo.HookBrokerE2E     = (*KafkaHooks)(nil)
	_ kgo.HookBrokerConnect = (*KafkaHooks)(nil)
)

// OnBrokerE2E records a request's time on the wire, which excludes the time it
// queued in the client, and counts it as failed when writing or reading it
// failed.
func (h *KafkaHooks) OnBrokerE2E(_ kgo.BrokerMetadata, key int16, e2e kgo.BrokerE2E) {
	h.observe(kmsg.NameForKey(key), e2e.DurationE2E(), e2e.Err())
}

// OnBrokerConnect records a connection attempt under request "Connect". A
// request that cannot get a connection is never written, so without this a
// broker that refuses connections would show no failed requests at all.
func (h *KafkaHooks) OnBrokerConnect(
	_ kgo.BrokerMetadata, took time.Duration, _ net.Conn, err error,
) {
	h.observe(connectRequest, took, err)
}

func (h *KafkaHooks) observe(request string, took time.Duration, err error) {
	h.duration.WithLabelValues(request).Observe(took.Seconds())
	// The error series is created with the first request so that the first
	// failure already shows in rate().
	failures := h.failures.WithLabelValues(request)
	if isKafkaFailure(err) {
		failures.Inc()
	}
}

// isKafkaFailure reports whether err is a failure of Kafka or the network.
// Requests that the caller cancelled, or that ended because the client was
// closed, are not.
func isKafkaFailure(err error) bool {
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed)
}
