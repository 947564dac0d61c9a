package lag

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Isolation selects which end offset effective lag is measured against.
type Isolation int8

const (
	// ReadUncommitted measures against the high watermark, as
	// kafka-consumer-groups does.
	ReadUncommitted Isolation = 0
	// ReadCommitted measures against the last stable offset, which is what a
	// read_committed consumer (Flink's exactly-once sources) can read up to.
	ReadCommitted Isolation = 1
)

// String returns the Kafka name of the isolation level.
func (i Isolation) String() string {
	if i == ReadCommitted {
		return "read_committed"
	}
	return "read_uncommitted"
}

// ResetPolicy is the consumer's auto.offset.reset: where a consumer without a
// usable commit starts reading.
type ResetPolicy int8

const (
	// Latest starts at the log-end offset.
	Latest ResetPolicy = iota
	// Earliest starts at the log-start offset.
	Earliest
)

// String returns the policy as KEDA's offsetResetPolicy key spells it.
func (p ResetPolicy) String() string {
	if p == Earliest {
		return "earliest"
	}
	return "latest"
}

// Anomaly flags a partition whose commit does not sit inside the log.
type Anomaly uint8

const (
	// NoAnomaly means log-start ≤ committed ≤ log-end.
	NoAnomaly Anomaly = iota
	// NoCommit means the group has no committed offset for the partition.
	NoCommit
	// CommitAheadOfEnd means the committed offset is past the log-end offset,
	// for example after the topic was deleted and re-created.
	CommitAheadOfEnd
	// CommitBelowLogStart means retention deleted records the group never
	// read.
	CommitBelowLogStart
	// ControlRecordsOnly means every offset between the commit and the end is
	// a transaction marker, so a caught-up consumer still shows a lag of one
	// or more offsets.
	ControlRecordsOnly
	// Unknown means the partition's offsets could not be read.
	Unknown
)

var anomalyNames = [...]string{
	NoAnomaly:           "",
	NoCommit:            "no_commit",
	CommitAheadOfEnd:    "commit_ahead_of_end",
	CommitBelowLogStart: "commit_below_log_start",
	ControlRecordsOnly:  "control_records_only",
	Unknown:             "unknown",
}

// String returns the snake_case name used in metrics labels and JSON, or ""
// for NoAnomaly.
func (a Anomaly) String() string {
	if int(a) < len(anomalyNames) {
		return anomalyNames[a]
	}
	return fmt.Sprintf("anomaly(%d)", uint8(a))
}

// Anomalies lists every anomaly except NoAnomaly, in a stable order.
func Anomalies() []Anomaly {
	return []Anomaly{NoCommit, CommitAheadOfEnd, CommitBelowLogStart, ControlRecordsOnly, Unknown}
}

// Query names one lag snapshot: a consumer group on a cluster and the topics
// to measure.
type Query struct {
	// Cluster is the name of a configured cluster.
	Cluster string
	// Group is the consumer group ID.
	Group string
	// Topics limits the snapshot to these topics, sorted and without
	// duplicates. Empty means every topic the group has commits for.
	Topics []string
	// Isolation selects the end offset used for effective lag.
	Isolation Isolation
}

// Key returns a string that is equal for equal queries and different for
// different ones, whatever characters the names contain.
func (q Query) Key() string {
	return fmt.Sprintf("%q %q %q %s", q.Cluster, q.Group, q.Topics, q.Isolation)
}

// Normalize sorts and deduplicates Topics so that equal selections share one
// snapshot.
func (q Query) Normalize() Query {
	topics := slices.Clone(q.Topics)
	slices.Sort(topics)
	q.Topics = slices.Compact(topics)
	if len(q.Topics) == 0 {
		q.Topics = nil
	}
	return q
}

// Partition is the lag of one partition for one group.
//
// Committed is -1 when the group has no commit. LogStart and LogEnd are -1
// when unknown. When Err is non-nil the partition's lag is unknown and must
// not be counted as zero.
type Partition struct {
	Topic     string
	Partition int32

	Committed int64
	LogStart  int64
	// LogEnd is the high watermark.
	LogEnd int64
	// StableEnd is the last stable offset. It equals LogEnd unless the query
	// requests ReadCommitted and a transaction is open.
	StableEnd int64

	// OffsetLag is LogEnd − Committed, unclamped, as kafka-consumer-groups
	// prints it. It is valid only when HasOffsetLag is true; the tool prints
	// "-" otherwise.
	OffsetLag    int64
	HasOffsetLag bool

	Anomaly Anomaly
	// Err is the error that left the offsets of this partition unknown.
	Err error

	// CommitSeenAt is when this committed value was first observed by the
	// process. It stays unchanged while the commit does not move.
	CommitSeenAt time.Time
}

// Snapshot is the lag of one group over a topic selection at one time.
type Snapshot struct {
	Query Query
	// TakenAt is when the commits were read.
	TakenAt time.Time
	// State is the group state reported by the coordinator (Stable, Empty,
	// Dead, ...), or "" when it was not described.
	State string
	// Members is the number of members in the group.
	Members int
	// Partitions is sorted by topic, then partition.
	Partitions []Partition
	// MissingTopics are requested topics that do not exist in the cluster.
	MissingTopics []string
	// DeletedTopics are topics the group has commits for that no longer
	// exist. They are not part of Partitions.
	DeletedTopics []string
}

// Topics returns the distinct topics of the snapshot's partitions, sorted.
func (s *Snapshot) Topics() []string {
	var topics []string
	for _, p := range s.Partitions {
		if len(topics) == 0 || topics[len(topics)-1] != p.Topic {
			topics = append(topics, p.Topic)
		}
	}
	return topics
}

// ErrGroupNotFound is returned when a query names no topic and the group has
// no committed offsets, so there is nothing to select topics from. The group
// may still exist with members; Snapshot.State distinguishes the two where a
// caller needs to.
var ErrGroupNotFound = errors.New("no committed offsets to select topics from")

// ErrTopicNotFound is returned for a requested topic that does not exist.
var ErrTopicNotFound = errors.New("topic not found")

// ErrUnknownCluster is returned for a query naming a cluster that is not
// configured.
var ErrUnknownCluster = errors.New("not configured")

// ErrTooManyQueries is returned by Cache.Get and Cache.Pin for a new query
// when its cluster already has CacheOptions.MaxQueries queries in the cache.
var ErrTooManyQueries = errors.New("too many consumer-group queries in use")

// ErrStale is returned when the newest snapshot is older than the configured
// maximum staleness.
var ErrStale = errors.New("lag snapshot is stale")

// UnavailableError reports that Kafka could not be read for a query. It wraps
// the underlying client error.
type UnavailableError struct {
	Cluster string
	Group   string
	Err     error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("kafka cluster %q, group %q: %v", e.Cluster, e.Group, e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }
