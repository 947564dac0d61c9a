package metrics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
	"github.com/lagscaler/lagscaler/lag"
)

// Help and type lines of the lag collector's series, in the order the text
// format sorts them.
const (
	headerOffsetLag = `
# HELP kafka_consumergroup_lag Log-end offset (high watermark) minus committed offset of the consumer group, unclamped as kafka-consumer-groups prints it, so a commit ahead of the end is negative. Absent for a partition without a commit or with unknown offsets.
# TYPE kafka_consumergroup_lag gauge
`
	headerOffsetLagSum = `
# HELP kafka_consumergroup_lag_sum Sum of kafka_consumergroup_lag over the partitions of the topic that have a commit, each negative value counted as 0. Absent when no partition has a commit or while any partition of the topic has unknown offsets.
# TYPE kafka_consumergroup_lag_sum gauge
`
	headerCommitted = `
# HELP kafka_consumergroup_current_offset Committed offset of the consumer group. Absent for a partition without a commit.
# TYPE kafka_consumergroup_current_offset gauge
`
	headerLogEnd = `
# HELP kafka_topic_partition_current_offset Log-end offset (high watermark) of the partition.
# TYPE kafka_topic_partition_current_offset gauge
`
	headerLogStart = `
# HELP kafka_topic_partition_oldest_offset Log-start offset of the partition.
# TYPE kafka_topic_partition_oldest_offset gauge
`
	headerEffectiveLag = `
# HELP lagscaler_consumergroup_effective_lag Records the consumer group still has to read on the partition, counted with offsetResetPolicy latest and without scaleToZeroOnInvalidOffset; a ScaledObject's own count is lagscaler_scaledobject_metric_value.
# TYPE lagscaler_consumergroup_effective_lag gauge
`
	headerEffectiveLagSum = `
# HELP lagscaler_consumergroup_effective_lag_sum Sum of lagscaler_consumergroup_effective_lag over the partitions of the topic. Absent while any partition of the topic has unknown offsets.
# TYPE lagscaler_consumergroup_effective_lag_sum gauge
`
	headerAnomalies = `
# HELP lagscaler_consumergroup_anomaly_partitions Partitions of the topic whose commit is missing or outside the log, or whose offsets are unknown, by anomaly. Every anomaly is exported, with 0 where no partition shows it.
# TYPE lagscaler_consumergroup_anomaly_partitions gauge
`
	headerSnapshotAge = `
# HELP lagscaler_snapshot_age_seconds Seconds since the commits of the newest successful lag snapshot of the consumer group were read.
# TYPE lagscaler_snapshot_age_seconds gauge
`
	headerSnapshotError = `
# HELP lagscaler_snapshot_error 1 when the newest lag read of the consumer group failed, 0 when it succeeded.
# TYPE lagscaler_snapshot_error gauge
`
)

var lagMetricNames = []string{
	"kafka_consumergroup_lag",
	"kafka_consumergroup_lag_sum",
	"kafka_consumergroup_current_offset",
	"kafka_topic_partition_current_offset",
	"kafka_topic_partition_oldest_offset",
	"lagscaler_consumergroup_effective_lag",
	"lagscaler_consumergroup_effective_lag_sum",
	"lagscaler_consumergroup_anomaly_partitions",
	"lagscaler_snapshot_age_seconds",
	"lagscaler_snapshot_error",
}

// deleteRecords moves the log-start offset of one partition of topic to at.
func deleteRecords(t *testing.T, b *kafkatest.Cluster, topic string, partition int32, at int64) {
	t.Helper()
	os := make(kadm.Offsets)
	os.Add(kadm.Offset{Topic: topic, Partition: partition, At: at, LeaderEpoch: -1})
	resps, err := b.Admin.DeleteRecords(context.Background(), os)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("DeleteRecords(%s[%d] to %d): %v", topic, partition, at, err)
	}
}

// startCache runs a lag.Cache over client as cluster "main" until the test
// ends. Refreshes happen only when a new query is first requested.
func startCache(t *testing.T, client *kgo.Client) *lag.Cache {
	t.Helper()
	cache := lag.NewCache([]*lag.Reader{lag.NewReader("main", client)}, lag.CacheOptions{RefreshInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cache.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return cache
}

func load(t *testing.T, cache *lag.Cache, q lag.Query) *lag.Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snap, err := cache.Get(ctx, q)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", q.Cluster, q.Group, err)
	}
	return snap
}

func TestLagCollectorKafka(t *testing.T) {
	b := kafkatest.New(t)
	b.CreateTopic(t, "orders", []int{10, 20, 5, 8})
	b.CreateTopic(t, "payments", []int{3, 3})
	deleteRecords(t, b, "orders", 3, 3)
	// flink: partition 0 behind, 1 without a commit, 2 ahead of the end, 3
	// behind with records deleted before its commit.
	b.Commit(t, "flink", "orders", []int64{4, -1, 8, 5})
	// audit has per-partition series turned off.
	b.Commit(t, "audit", "orders", []int64{10, 20, 5, 8})
	b.Commit(t, "audit", "payments", []int64{1, 3})

	cache := startCache(t, b.Client)
	flink := load(t, cache, lag.Query{Cluster: "main", Group: "flink", Topics: []string{"orders"}})
	audit := load(t, cache, lag.Query{Cluster: "main", Group: "audit"})

	c := newLagCollector(cache, LagOptions{PerPartition: func(cluster, group string) bool { return group != "audit" }})
	now := flink.TakenAt.Add(5 * time.Second)
	c.now = func() time.Time { return now }

	want := headerOffsetLag + `
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="0",topic="orders"} 6
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="2",topic="orders"} -3
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="3",topic="orders"} 3
` + headerOffsetLagSum + `
kafka_consumergroup_lag_sum{cluster="main",consumergroup="audit",topic="orders"} 0
kafka_consumergroup_lag_sum{cluster="main",consumergroup="audit",topic="payments"} 2
kafka_consumergroup_lag_sum{cluster="main",consumergroup="flink",topic="orders"} 9
` + headerCommitted + `
kafka_consumergroup_current_offset{cluster="main",consumergroup="flink",partition="0",topic="orders"} 4
kafka_consumergroup_current_offset{cluster="main",consumergroup="flink",partition="2",topic="orders"} 8
kafka_consumergroup_current_offset{cluster="main",consumergroup="flink",partition="3",topic="orders"} 5
` + headerLogEnd + `
kafka_topic_partition_current_offset{cluster="main",partition="0",topic="orders"} 10
kafka_topic_partition_current_offset{cluster="main",partition="1",topic="orders"} 20
kafka_topic_partition_current_offset{cluster="main",partition="2",topic="orders"} 5
kafka_topic_partition_current_offset{cluster="main",partition="3",topic="orders"} 8
` + headerLogStart + `
kafka_topic_partition_oldest_offset{cluster="main",partition="0",topic="orders"} 0
kafka_topic_partition_oldest_offset{cluster="main",partition="1",topic="orders"} 0
kafka_topic_partition_oldest_offset{cluster="main",partition="2",topic="orders"} 0
kafka_topic_partition_oldest_offset{cluster="main",partition="3",topic="orders"} 3
` + headerEffectiveLag + `
lagscaler_consumergroup_effective_lag{cluster="main",consumergroup="flink",partition="0",topic="orders"} 6
lagscaler_consumergroup_effective_lag{cluster="main",consumergroup="flink",partition="1",topic="orders"} 1
lagscaler_consumergroup_effective_lag{cluster="main",consumergroup="flink",partition="2",topic="orders"} 0
lagscaler_consumergroup_effective_lag{cluster="main",consumergroup="flink",partition="3",topic="orders"} 3
` + headerEffectiveLagSum + `
lagscaler_consumergroup_effective_lag_sum{cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_effective_lag_sum{cluster="main",consumergroup="audit",topic="payments"} 2
lagscaler_consumergroup_effective_lag_sum{cluster="main",consumergroup="flink",topic="orders"} 10
` + headerAnomalies + `
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_ahead_of_end",cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_below_log_start",cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="control_records_only",cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="no_commit",cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="unknown",cluster="main",consumergroup="audit",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_ahead_of_end",cluster="main",consumergroup="audit",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_below_log_start",cluster="main",consumergroup="audit",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="control_records_only",cluster="main",consumergroup="audit",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="no_commit",cluster="main",consumergroup="audit",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="unknown",cluster="main",consumergroup="audit",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_ahead_of_end",cluster="main",consumergroup="flink",topic="orders"} 1
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_below_log_start",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="control_records_only",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="no_commit",cluster="main",consumergroup="flink",topic="orders"} 1
lagscaler_consumergroup_anomaly_partitions{anomaly="unknown",cluster="main",consumergroup="flink",topic="orders"} 0
` + headerSnapshotAge + `
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="audit"} ` + seconds(now.Sub(audit.TakenAt)) + `
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="flink"} 5
` + headerSnapshotError + `
lagscaler_snapshot_error{cluster="main",consumergroup="audit"} 0
lagscaler_snapshot_error{cluster="main",consumergroup="flink"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), lagMetricNames...); err != nil {
		t.Error(err)
	}
}

// seconds formats d as the text exposition format prints a float.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
}

// entries is an EntrySource over fixed entries.
type entries []lag.Entry

func (e entries) Entries() []lag.Entry { return e }

// row returns a partition whose offsets are known, classified as the lag
// reader classifies it. A committed offset of -1 means no commit.
func row(topic string, partition int32, committed, logStart, logEnd int64) lag.Partition {
	p := lag.Partition{
		Topic: topic, Partition: partition,
		Committed: committed, LogStart: logStart, LogEnd: logEnd, StableEnd: logEnd,
	}
	switch {
	case committed < 0:
		p.Anomaly = lag.NoCommit
		return p
	case committed > logEnd:
		p.Anomaly = lag.CommitAheadOfEnd
	case committed < logStart:
		p.Anomaly = lag.CommitBelowLogStart
	}
	p.OffsetLag, p.HasOffsetLag = logEnd-committed, true
	return p
}

// unknownRow returns a partition whose offsets could not be read.
func unknownRow(topic string, partition int32, committed int64) lag.Partition {
	return lag.Partition{
		Topic: topic, Partition: partition,
		Committed: committed, LogStart: -1, LogEnd: -1, StableEnd: -1,
		Anomaly: lag.Unknown, Err: errors.New("NOT_LEADER_OR_FOLLOWER"),
	}
}

func snapshotEntry(cluster, group string, topics []string, takenAt time.Time, rows ...lag.Partition) lag.Entry {
	q := lag.Query{Cluster: cluster, Group: group, Topics: topics}
	return lag.Entry{Query: q, Snapshot: &lag.Snapshot{Query: q, TakenAt: takenAt, Partitions: rows}}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLagCollectorNewestSnapshotWins(t *testing.T) {
	src := entries{
		// Two queries of flink cover orders; the second is newer.
		snapshotEntry("main", "flink", []string{"orders"}, t0,
			row("orders", 0, 5, 0, 10)),
		snapshotEntry("main", "flink", nil, t0.Add(time.Second),
			row("orders", 0, 7, 0, 12),
			row("payments", 0, 1, 0, 2)),
		// etl reads orders last, so the log offsets of orders come from it.
		snapshotEntry("main", "etl", nil, t0.Add(2*time.Second),
			row("orders", 0, 13, 2, 13)),
		// The same topic name on another cluster is another topic.
		snapshotEntry("backup", "etl", nil, t0,
			row("orders", 0, 1, 0, 4)),
	}
	c := newLagCollector(src, LagOptions{})
	c.now = func() time.Time { return t0.Add(10 * time.Second) }

	want := headerOffsetLag + `
kafka_consumergroup_lag{cluster="backup",consumergroup="etl",partition="0",topic="orders"} 3
kafka_consumergroup_lag{cluster="main",consumergroup="etl",partition="0",topic="orders"} 0
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="0",topic="orders"} 5
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="0",topic="payments"} 1
` + headerLogEnd + `
kafka_topic_partition_current_offset{cluster="backup",partition="0",topic="orders"} 4
kafka_topic_partition_current_offset{cluster="main",partition="0",topic="orders"} 13
kafka_topic_partition_current_offset{cluster="main",partition="0",topic="payments"} 2
` + headerLogStart + `
kafka_topic_partition_oldest_offset{cluster="backup",partition="0",topic="orders"} 0
kafka_topic_partition_oldest_offset{cluster="main",partition="0",topic="orders"} 2
kafka_topic_partition_oldest_offset{cluster="main",partition="0",topic="payments"} 0
` + headerSnapshotAge + `
lagscaler_snapshot_age_seconds{cluster="backup",consumergroup="etl"} 10
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="etl"} 8
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="flink"} 9
`
	names := []string{
		"kafka_consumergroup_lag",
		"kafka_topic_partition_current_offset",
		"kafka_topic_partition_oldest_offset",
		"lagscaler_snapshot_age_seconds",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestLagCollectorUnknownOffsets(t *testing.T) {
	src := entries{
		snapshotEntry("main", "flink", nil, t0,
			row("orders", 0, 5, 0, 10),
			unknownRow("orders", 1, 3),
			// A topic whose metadata failed is one row with partition -1.
			unknownRow("payments", -1, -1)),
	}
	c := newLagCollector(src, LagOptions{})
	c.now = func() time.Time { return t0 }

	// The sums are left out, the committed offset of the unknown partition
	// is still exported, and the anomaly counts name both unknown rows.
	want := headerOffsetLag + `
kafka_consumergroup_lag{cluster="main",consumergroup="flink",partition="0",topic="orders"} 5
` + headerCommitted + `
kafka_consumergroup_current_offset{cluster="main",consumergroup="flink",partition="0",topic="orders"} 5
kafka_consumergroup_current_offset{cluster="main",consumergroup="flink",partition="1",topic="orders"} 3
` + headerEffectiveLag + `
lagscaler_consumergroup_effective_lag{cluster="main",consumergroup="flink",partition="0",topic="orders"} 5
` + headerAnomalies + `
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_ahead_of_end",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_below_log_start",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="control_records_only",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="no_commit",cluster="main",consumergroup="flink",topic="orders"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="unknown",cluster="main",consumergroup="flink",topic="orders"} 1
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_ahead_of_end",cluster="main",consumergroup="flink",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="commit_below_log_start",cluster="main",consumergroup="flink",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="control_records_only",cluster="main",consumergroup="flink",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="no_commit",cluster="main",consumergroup="flink",topic="payments"} 0
lagscaler_consumergroup_anomaly_partitions{anomaly="unknown",cluster="main",consumergroup="flink",topic="payments"} 1
`
	names := []string{
		"kafka_consumergroup_lag",
		"kafka_consumergroup_lag_sum",
		"kafka_consumergroup_current_offset",
		"lagscaler_consumergroup_effective_lag",
		"lagscaler_consumergroup_effective_lag_sum",
		"lagscaler_consumergroup_anomaly_partitions",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestLagCollectorFailedReads(t *testing.T) {
	unavailable := &lag.UnavailableError{Cluster: "main", Group: "flink", Err: errors.New("dial tcp: connection refused")}
	stale := snapshotEntry("main", "flink", nil, t0.Add(-time.Minute), row("orders", 0, 5, 0, 10))
	stale.Err = unavailable
	src := entries{
		stale,
		// Fresh, but an older snapshot of the same group failed since.
		snapshotEntry("main", "flink", []string{"payments"}, t0.Add(-time.Second), row("payments", 0, 1, 0, 2)),
		// Never read successfully.
		{Query: lag.Query{Cluster: "main", Group: "new"}, Err: lag.ErrGroupNotFound},
	}
	c := newLagCollector(src, LagOptions{MaxAge: 30 * time.Second})
	c.now = func() time.Time { return t0 }

	// The snapshot older than MaxAge exports no lag. The group's age is that
	// of its newest snapshot.
	want := headerOffsetLagSum + `
kafka_consumergroup_lag_sum{cluster="main",consumergroup="flink",topic="payments"} 1
` + headerSnapshotAge + `
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="flink"} 1
` + headerSnapshotError + `
lagscaler_snapshot_error{cluster="main",consumergroup="flink"} 1
lagscaler_snapshot_error{cluster="main",consumergroup="new"} 1
`
	names := []string{"kafka_consumergroup_lag_sum", "lagscaler_snapshot_age_seconds", "lagscaler_snapshot_error"}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
}

func TestLagCollectorPerPartitionOff(t *testing.T) {
	src := entries{
		snapshotEntry("main", "flink", nil, t0, row("orders", 0, 5, 0, 10), row("orders", 1, -1, 0, 3)),
	}
	c := newLagCollector(src, LagOptions{PerPartition: func(string, string) bool { return false }})
	c.now = func() time.Time { return t0 }

	for _, name := range []string{
		"kafka_consumergroup_lag",
		"kafka_consumergroup_current_offset",
		"kafka_topic_partition_current_offset",
		"kafka_topic_partition_oldest_offset",
		"lagscaler_consumergroup_effective_lag",
	} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("CollectAndCount(%s) = %d, want 0", name, n)
		}
	}
	for name, want := range map[string]int{
		"kafka_consumergroup_lag_sum":                1,
		"lagscaler_consumergroup_effective_lag_sum":  1,
		"lagscaler_consumergroup_anomaly_partitions": len(lag.Anomalies()),
		"lagscaler_snapshot_age_seconds":             1,
		"lagscaler_snapshot_error":                   1,
	} {
		if n := testutil.CollectAndCount(c, name); n != want {
			t.Errorf("CollectAndCount(%s) = %d, want %d", name, n, want)
		}
	}
}

func TestLagCollectorLint(t *testing.T) {
	src := entries{
		snapshotEntry("main", "flink", nil, t0, row("orders", 0, 5, 0, 10), row("orders", 1, -1, 0, 3)),
		{Query: lag.Query{Cluster: "main", Group: "new"}, Err: lag.ErrGroupNotFound},
	}
	c := newLagCollector(src, LagOptions{})
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	// kafka_exporter chose these names, and alerts already use them, so the
	// rule that reserves "_sum" for histograms and summaries is accepted for
	// them.
	reserved := `non-histogram and non-summary metrics should not have "_sum" suffix`
	want := []promlint.Problem{
		{Metric: "kafka_consumergroup_lag_sum", Text: reserved},
		{Metric: "lagscaler_consumergroup_effective_lag_sum", Text: reserved},
	}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("CollectAndLint problems (-want +got):\n%s", diff)
	}
}

func TestNewLagCollectorRegisters(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewLagCollector(reg, entries{}, LagOptions{}); err != nil {
		t.Fatalf("NewLagCollector: %v", err)
	}
	if _, err := NewLagCollector(reg, entries{}, LagOptions{}); err == nil {
		t.Error("second NewLagCollector on the same registry succeeded, want an error")
	}
}
