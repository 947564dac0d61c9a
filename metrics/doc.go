// Package metrics exports lagscaler's state to Prometheus. Nothing here uses
// the default registry. Every constructor takes the prometheus.Registerer to
// register with, and [NewRegistry] returns a registry with the Go runtime,
// process and build information collectors already registered.
//
//   - [LagCollector] serves the cached lag snapshots of a [lag.Cache] on each
//     scrape, as kafka_exporter-compatible series (kafka_consumergroup_lag,
//     kafka_consumergroup_lag_sum, kafka_consumergroup_current_offset,
//     kafka_topic_partition_current_offset,
//     kafka_topic_partition_oldest_offset) plus lagscaler's own
//     (lagscaler_consumergroup_effective_lag and _sum,
//     lagscaler_consumergroup_anomaly_partitions,
//     lagscaler_snapshot_age_seconds, lagscaler_snapshot_error). Every series
//     carries a cluster label that kafka_exporter lacks.
//   - [KafkaMetrics] times the Kafka requests of each franz-go client through
//     [KafkaHooks] and counts lag refreshes through the cache's OnRefresh.
//   - [GRPCMetrics] provides server interceptors that count and time RPCs.
//   - [ScaledObjectMetrics] is a scaler.Observer that exports the newest
//     result of each ScaledObject and removes the series of objects that
//     KEDA no longer queries.
//
// Failure model: Prometheus' Collect has no context and no error return, so
// nothing here does I/O during a scrape. A Kafka failure shows as
// lagscaler_snapshot_error = 1 and a growing lagscaler_snapshot_age_seconds.
// Lag series whose value is unknown are left out rather than exported as 0
// or -1.
package metrics
