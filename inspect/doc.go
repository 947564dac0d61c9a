// Package inspect turns lag snapshots into reports for people and scripts,
// and serves them over gRPC from a running scaler.
//
// A [Report] is the document that `lagscaler lag --output json` prints: a
// schema version and one [GroupReport] per consumer group, each with
// [PartitionReport] rows and [TopicReport] sums. [NewGroupReport] builds a
// GroupReport from a [lag.Snapshot] under a reset policy, and
// [GroupReport.Snapshot] rebuilds a snapshot from one, so that a saved JSON
// document can be explained offline.
//
// [Server] implements the lagscaler.inspect.v1.Inspect service over the
// scaler's [lag.Cache], so that an operator can read the lag the scaler
// scales on without Kafka credentials of their own. It rejects a requested
// topic that [lag.CheckTopicName] finds illegal, before any Kafka request.
//
// Failure model: a partition whose offsets are unknown keeps its error in the
// report and has no effective lag. Every effective lag sum that would include
// it is unset rather than too low. The server maps errors to gRPC status
// codes with the scaler's mapping: Kafka unreachable or a stale snapshot is
// Unavailable, a group without commits and without named topics is NotFound.
package inspect
