// Package scaler is lagscaler's KEDA external scaler: it parses trigger
// metadata, turns a consumer group's lag into a metric value and an activity
// decision, and serves both over KEDA's ExternalScaler gRPC service.
//
// The main types:
//   - Trigger, returned by ParseMetadata, is one ScaledObject trigger. Its
//     keys are those of KEDA's kafka trigger plus cluster,
//     taskSlotsPerTaskManager, isolationLevel and persistentLagSeconds.
//   - Decision, returned by Decide, is the metric value, the replica cap,
//     the activity and every step that led to them, for `lagscaler explain`.
//   - Server implements the ExternalScaler service over a LagSource, such as
//     the lag engine's cache.
//
// # Failure model
//
// An error is safer than a wrong number. KEDA v2.21.0 does not scale a
// workload to zero while its scaler returns errors, and it switches to
// fallback replicas after repeated errors, while a number that is too low
// scales the workload in. So
// Decide returns an error, and never a partial sum, when a requested topic
// is missing, when the group has nothing to measure or when any selected
// partition's offsets are unknown. ErrorStatus is the one mapping from these
// errors to gRPC codes: InvalidArgument for metadata, Unavailable when Kafka
// could not be read, NotFound for a missing group or topic, DeadlineExceeded
// and Canceled for contexts, Internal otherwise.
//
// ParseMetadata rejects unknown keys, Kafka credentials (lagscaler keeps them
// in its own configuration and never connects to hosts named in metadata)
// and contradicting settings, and reports all problems at once: the first 10
// in full and the number of others.
//
// No error message grows with the request, because KEDA sends the requests
// of all ScaledObjects of a scaler address over one gRPC connection, which a
// huge status message breaks. Messages repeat at most 100 bytes of a key or
// value and list at most 10 partitions or topics. ErrorStatus cuts any
// message to 4096 bytes.
//
// # Differences from KEDA's kafka trigger
//
//   - A partition whose commit is ahead of the log end counts 0, never a
//     negative number that lowers the total.
//   - The replica cap compares exactly: with 5 partitions, lagThreshold 5 and
//     lag 29 the value is 25 (5 replicas), not 29 (6 replicas).
//   - A partition whose lag is only transaction markers counts 0, in the
//     value and for activity, so markers neither scale out nor keep a
//     workload awake.
//   - excludePersistentLag drops a partition's lag once its commit has not
//     moved for persistentLagSeconds (default 300), not after one unchanged
//     poll, because Flink commits only when a checkpoint completes. As in
//     KEDA's kafka trigger, it lowers only the value: activity counts the
//     excluded lag, because a workload scaled to zero commits nothing and
//     would otherwise never wake.
//   - With taskSlotsPerTaskManager, the cap and even distribution count
//     TaskManagers of that many slots instead of single consumers.
//   - partitionLimitation without exactly one topic is rejected instead of
//     ignored.
//   - With ensureEvenDistributionOfPartitions and no lag the value is 0,
//     where KEDA's kafka trigger sends one lagThreshold.
//
// # Streams
//
// StreamIsActive and StreamMetricSpec stay open until the client leaves or
// Server.Shutdown is called. Call Shutdown before grpc.Server.GracefulStop,
// which otherwise waits for open streams forever.
package scaler
