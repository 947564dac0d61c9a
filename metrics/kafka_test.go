package metrics

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
	"github.com/lagscaler/lagscaler/lag"
)

func newKafkaMetrics(t *testing.T) (*KafkaMetrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := NewKafkaMetrics(reg)
	if err != nil {
		t.Fatalf("NewKafkaMetrics: %v", err)
	}
	return m, reg
}

func TestKafkaHooksRecordRequests(t *testing.T) {
	m, reg := newKafkaMetrics(t)
	mainHooks, backupHooks := m.Hooks("main"), m.Hooks("backup")
	var meta kgo.BrokerMetadata
	listOffsets := (&kmsg.ListOffsetsRequest{}).Key()
	offsetFetch := (&kmsg.OffsetFetchRequest{}).Key()

	mainHooks.OnBrokerE2E(meta, listOffsets, kgo.BrokerE2E{
		WriteWait: time.Second, TimeToWrite: time.Millisecond, ReadWait: 2 * time.Millisecond, TimeToRead: time.Millisecond,
	})
	mainHooks.OnBrokerE2E(meta, listOffsets, kgo.BrokerE2E{TimeToWrite: time.Millisecond, ReadErr: io.EOF})
	mainHooks.OnBrokerE2E(meta, offsetFetch, kgo.BrokerE2E{TimeToWrite: time.Millisecond, WriteErr: kgo.ErrClientClosed})
	mainHooks.OnBrokerE2E(meta, offsetFetch, kgo.BrokerE2E{WriteErr: context.Canceled})
	backupHooks.OnBrokerConnect(meta, 3*time.Second, nil, errors.New("dial tcp 127.0.0.1:9: connect: connection refused"))

	// The queueing time (WriteWait) is not part of a request's duration, and
	// neither a closed client nor a cancelled request counts as an error.
	want := `
# HELP lagscaler_kafka_request_duration_seconds Time from writing a Kafka request to reading its response, failed requests included. request is the Kafka API name, or Connect for dialling and initialising a broker connection.
# TYPE lagscaler_kafka_request_duration_seconds histogram
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.001"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.0025"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.005"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.01"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.025"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.05"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.1"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.25"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="0.5"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="1"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="2.5"} 0
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="5"} 1
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="10"} 1
lagscaler_kafka_request_duration_seconds_bucket{cluster="backup",request="Connect",le="+Inf"} 1
lagscaler_kafka_request_duration_seconds_sum{cluster="backup",request="Connect"} 3
lagscaler_kafka_request_duration_seconds_count{cluster="backup",request="Connect"} 1
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.001"} 1
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.0025"} 1
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.005"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.01"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.025"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.05"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.1"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.25"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="0.5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="1"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="2.5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="10"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="ListOffsets",le="+Inf"} 2
lagscaler_kafka_request_duration_seconds_sum{cluster="main",request="ListOffsets"} 0.005
lagscaler_kafka_request_duration_seconds_count{cluster="main",request="ListOffsets"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.001"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.0025"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.005"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.01"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.025"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.05"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.1"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.25"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="0.5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="1"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="2.5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="5"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="10"} 2
lagscaler_kafka_request_duration_seconds_bucket{cluster="main",request="OffsetFetch",le="+Inf"} 2
lagscaler_kafka_request_duration_seconds_sum{cluster="main",request="OffsetFetch"} 0.001
lagscaler_kafka_request_duration_seconds_count{cluster="main",request="OffsetFetch"} 2
# HELP lagscaler_kafka_request_errors_total Kafka requests that failed to be written or read, and broker connections that failed, except requests the caller cancelled or that ended because the client was closed. Error codes inside a response are not counted.
# TYPE lagscaler_kafka_request_errors_total counter
lagscaler_kafka_request_errors_total{cluster="backup",request="Connect"} 1
lagscaler_kafka_request_errors_total{cluster="main",request="ListOffsets"} 1
lagscaler_kafka_request_errors_total{cluster="main",request="OffsetFetch"} 0
`
	names := []string{"lagscaler_kafka_request_duration_seconds", "lagscaler_kafka_request_errors_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestKafkaHooksOnClient(t *testing.T) {
	m, reg := newKafkaMetrics(t)
	b := kafkatest.New(t)
	b.CreateTopic(t, "orders", []int{1})
	b.Commit(t, "flink", "orders", []int64{1})

	// Every request type the lag reader sends to the broker shows up with
	// the name Kafka gives it.
	cache := startCache(t, b.NewClient(t, kgo.WithHooks(m.Hooks("main"))))
	load(t, cache, lag.Query{Cluster: "main", Group: "flink"})
	for _, request := range []string{"Connect", "Metadata", "OffsetFetch", "ListOffsets"} {
		got := histogramCount(t, reg, "lagscaler_kafka_request_duration_seconds", "main", request)
		if got == 0 {
			t.Errorf("lagscaler_kafka_request_duration_seconds_count{cluster=%q,request=%q} = 0, want > 0", "main", request)
		}
	}
}

// histogramCount returns the sample count of the histogram series of name
// with the given cluster and request labels, or 0 when there is none.
func histogramCount(t *testing.T, g prometheus.Gatherer, name, cluster, request string) uint64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["cluster"] == cluster && labels["request"] == request {
				return metric.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestKafkaMetricsObserveRefresh(t *testing.T) {
	m, reg := newKafkaMetrics(t)
	m.ObserveRefresh("main", 3, 20*time.Millisecond, nil)
	m.ObserveRefresh("main", 3, 40*time.Millisecond, nil)
	m.ObserveRefresh("backup", 1, 10*time.Second, &lag.UnavailableError{Cluster: "backup", Err: context.DeadlineExceeded})

	want := `
# HELP lagscaler_lag_refreshes_total Background refreshes of a cluster's cached lag snapshots, by result (success or error).
# TYPE lagscaler_lag_refreshes_total counter
lagscaler_lag_refreshes_total{cluster="backup",result="error"} 1
lagscaler_lag_refreshes_total{cluster="backup",result="success"} 0
lagscaler_lag_refreshes_total{cluster="main",result="error"} 0
lagscaler_lag_refreshes_total{cluster="main",result="success"} 2
# HELP lagscaler_lag_refresh_duration_seconds Time one background refresh of a cluster's cached lag snapshots took.
# TYPE lagscaler_lag_refresh_duration_seconds histogram
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.001"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.0025"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.005"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.01"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.025"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.05"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.1"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.25"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="0.5"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="1"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="2.5"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="5"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="10"} 1
lagscaler_lag_refresh_duration_seconds_bucket{cluster="backup",le="+Inf"} 1
lagscaler_lag_refresh_duration_seconds_sum{cluster="backup"} 10
lagscaler_lag_refresh_duration_seconds_count{cluster="backup"} 1
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.001"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.0025"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.005"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.01"} 0
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.025"} 1
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.05"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.1"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.25"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="0.5"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="1"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="2.5"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="5"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="10"} 2
lagscaler_lag_refresh_duration_seconds_bucket{cluster="main",le="+Inf"} 2
lagscaler_lag_refresh_duration_seconds_sum{cluster="main"} 0.06
lagscaler_lag_refresh_duration_seconds_count{cluster="main"} 2
`
	names := []string{"lagscaler_lag_refreshes_total", "lagscaler_lag_refresh_duration_seconds"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestKafkaMetricsLint(t *testing.T) {
	m, reg := newKafkaMetrics(t)
	m.Hooks("main").OnBrokerE2E(kgo.BrokerMetadata{}, 0, kgo.BrokerE2E{ReadErr: io.EOF})
	m.ObserveRefresh("main", 1, time.Second, nil)

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("GatherAndLint problems = %v, want none", problems)
	}
}

func TestNewKafkaMetricsTwice(t *testing.T) {
	_, reg := newKafkaMetrics(t)
	if _, err := NewKafkaMetrics(reg); err == nil {
		t.Error("second NewKafkaMetrics on the same registry succeeded, want an error")
	}
}
