package deploy

import (
	"slices"
	"strings"
)

// MetricType is the Prometheus type of a metric family.
type MetricType string

// The metric types that lagscaler exports.
const (
	Gauge     MetricType = "gauge"
	Counter   MetricType = "counter"
	Histogram MetricType = "histogram"
)

// MetricFamily is one metric family that `lagscaler serve` exports on
// /metrics.
type MetricFamily struct {
	Name   string
	Type   MetricType
	Labels []string
}

// Catalog lists every metric family of `lagscaler serve`, with its type and
// its label names, as the metrics package declares them. The kafka_* families
// keep the names and labels of kafka_exporter, so existing dashboards and
// alerts keep working, and add a cluster label.
var Catalog = []MetricFamily{
	{"kafka_consumergroup_lag", Gauge, []string{"cluster", "consumergroup", "topic", "partition"}},
	{"kafka_consumergroup_lag_sum", Gauge, []string{"cluster", "consumergroup", "topic"}},
	{"kafka_consumergroup_current_offset", Gauge, []string{"cluster", "consumergroup", "topic", "partition"}},
	{"kafka_topic_partition_current_offset", Gauge, []string{"cluster", "topic", "partition"}},
	{"kafka_topic_partition_oldest_offset", Gauge, []string{"cluster", "topic", "partition"}},
	{"lagscaler_consumergroup_effective_lag", Gauge, []string{"cluster", "consumergroup", "topic", "partition"}},
	{"lagscaler_consumergroup_effective_lag_sum", Gauge, []string{"cluster", "consumergroup", "topic"}},
	{"lagscaler_consumergroup_anomaly_partitions", Gauge, []string{"cluster", "consumergroup", "topic", "anomaly"}},
	{"lagscaler_snapshot_age_seconds", Gauge, []string{"cluster", "consumergroup"}},
	{"lagscaler_snapshot_error", Gauge, []string{"cluster", "consumergroup"}},
	{"lagscaler_kafka_request_duration_seconds", Histogram, []string{"cluster", "request"}},
	{"lagscaler_kafka_request_errors_total", Counter, []string{"cluster", "request"}},
	{"lagscaler_lag_refreshes_total", Counter, []string{"cluster", "result"}},
	{"lagscaler_lag_refresh_duration_seconds", Histogram, []string{"cluster"}},
	{"lagscaler_grpc_requests_total", Counter, []string{"method", "code"}},
	{"lagscaler_grpc_request_duration_seconds", Histogram, []string{"method"}},
	{"lagscaler_scaledobject_metric_value", Gauge, []string{"namespace", "scaledobject", "metric"}},
	{"lagscaler_scaledobject_active", Gauge, []string{"namespace", "scaledobject"}},
	{"lagscaler_scaledobject_replica_cap", Gauge, []string{"namespace", "scaledobject"}},
	{"lagscaler_scaledobject_desired_replicas", Gauge, []string{"namespace", "scaledobject"}},
	{"lagscaler_build_info", Gauge, []string{"version", "commit", "goversion"}},
}

// TargetLabels are the labels that Prometheus adds to every series scraped
// through a ServiceMonitor. The ServiceMonitor sets honorLabels, so a
// series' own `namespace` label wins over the target's.
var TargetLabels = []string{"job", "instance", "namespace", "pod", "service", "endpoint", "container"}

// Series is the metric family and label names behind a series name in a
// query.
type Series struct {
	// Family is the metric family. For `up`, which Prometheus itself
	// records per target, Family.Name is "up".
	Family MetricFamily
	// Labels are every label the series can carry: the family's, le for a
	// histogram bucket, and TargetLabels.
	Labels []string
	// Monotonic is true for a counter and for a histogram's _bucket, _count
	// and _sum series, which rate and increase accept.
	Monotonic bool
}

// LookupSeries resolves a series name used in a query: a family name, a
// histogram's _bucket, _count or _sum series, or Prometheus's `up`.
func LookupSeries(name string) (Series, bool) {
	if name == "up" {
		return Series{Family: MetricFamily{Name: "up", Type: Gauge}, Labels: TargetLabels}, true
	}
	for _, f := range Catalog {
		if f.Name == name {
			return Series{Family: f, Labels: withTargetLabels(f.Labels), Monotonic: f.Type == Counter}, true
		}
		if f.Type != Histogram {
			continue
		}
		suffix, ok := strings.CutPrefix(name, f.Name)
		switch {
		case !ok:
		case suffix == "_bucket":
			return Series{Family: f, Labels: withTargetLabels(append(slices.Clone(f.Labels), "le")), Monotonic: true}, true
		case suffix == "_count" || suffix == "_sum":
			return Series{Family: f, Labels: withTargetLabels(f.Labels), Monotonic: true}, true
		}
	}
	return Series{}, false
}

func withTargetLabels(labels []string) []string {
	all := append(slices.Clone(labels), TargetLabels...)
	slices.Sort(all)
	return slices.Compact(all)
}
