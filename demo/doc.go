// Package demo runs lagscaler against an in-process Kafka to show
// autoscaling without a cluster. It backs the lagscaler demo command.
//
// [Run] starts a kfake broker on 127.0.0.1 with one topic and a producer
// whose rate rises to a peak and falls back ([Profile]). A simulated Flink
// job in reactive mode ([Job]) reads the topic and commits offsets only when
// a checkpoint completes, as Flink's KafkaSource does. Run serves
// lagscaler's real scaler (a lag.Cache and a scaler.Server) over gRPC on
// 127.0.0.1. It plays KEDA and the HorizontalPodAutoscaler against that
// server over a gRPC connection. Every poll calls GetMetricSpec, GetMetrics
// and IsActive and sets the TaskManager count with scaler.HPAReplicas.
//
// Failure model: a failed start (Kafka, the listener) is returned by Run. A
// failed poll keeps the TaskManager count, as KEDA does, and shows in the
// table. A failed commit is logged, and the next checkpoint commits newer
// offsets.
package demo
