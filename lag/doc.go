// Package lag computes consumer-group lag on Kafka with franz-go.
//
// A [Reader] reads one cluster. Its Read takes many [Query] values and
// serves them all with one batched round of requests: committed offsets
// first, then topic metadata, log-start offsets and end offsets. It returns a
// [Snapshot] per query, made of [Partition] rows with the committed,
// log-start and log-end offsets, the offset lag as kafka-consumer-groups
// prints it, and an [Anomaly] where the commit is missing or outside the log.
//
// [EffectiveLag] turns a row into the number of records the group still has
// to read under a reset [Policy]; scalers sum it. A [Cache] shares snapshots
// between callers, refreshes them in the background and expires them when
// they are no longer requested.
//
// Failure model: an error that prevents reading a whole query (Kafka
// unreachable, a timeout) is an [*UnavailableError]. An error on some
// partitions only is data: the row carries Err and Anomaly Unknown, and
// EffectiveLag returns an error for it. Nothing in this package turns a
// failure into a lag of zero.
package lag
