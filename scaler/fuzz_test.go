package scaler

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// decodeMetadata turns "key=value" lines into a metadata map.
func decodeMetadata(s string) map[string]string {
	md := map[string]string{}
	for line := range strings.SplitSeq(s, "\n") {
		key, value, _ := strings.Cut(line, "=")
		md[key] = value
	}
	return md
}

func FuzzParseMetadata(f *testing.F) {
	seeds := []string{
		"consumerGroup=g",
		"consumerGroup=orders-flink\ntopic=orders\npartitionLimitation=1,2,10-20\nlagThreshold=2.5",
		"consumerGroup=g\ncluster=backup\nbootstrapServers=backup-0:9092",
		"consumerGroup=g\ntopic=a,b\nensureEvenDistributionOfPartitions=true\ntaskSlotsPerTaskManager=4",
		"consumerGroup=g\ntopic=a\nlimitToPartitionsWithLag=true\nallowIdleConsumers=true",
		"consumerGroup=g\nexcludePersistentLag=true\npersistentLagSeconds=60\nisolationLevel=read_committed",
		"consumerGroupFromEnv=g\nlagThreshold=1e-3\nactivationLagThreshold=0x1p4",
		"consumerGroup=g\npassword=x\nsasl=plaintext\nversion=1",
		"consumerGroup=Ünïcødé Group!\ntopic=t\npartitionLimitation=0-2147483647",
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}

	f.Fuzz(func(t *testing.T, encoded string, oneCluster bool) {
		clusters := []Cluster{mainCluster, backupCluster}
		if oneCluster {
			clusters = clusters[:1]
		}
		md := decodeMetadata(encoded)
		tr, err := ParseMetadata(md, clusters...)
		if err != nil {
			metadataErrors(t, err)
			if len(err.Error()) > maxTestMessage {
				t.Fatalf("ParseMetadata error is %d bytes, want at most %d", len(err.Error()), maxTestMessage)
			}
			return
		}
		checkTrigger(t, tr, clusters)

		again, err := ParseMetadata(tr.Metadata(), clusters...)
		if err != nil {
			t.Fatalf("ParseMetadata(%v) rejected the canonical form of %+v: %v", tr.Metadata(), tr, err)
		}
		if diff := cmp.Diff(tr, again); diff != "" {
			t.Fatalf("reparsed canonical form differs (-first +second):\n%s", diff)
		}
	})
}

// checkTrigger fails t unless tr satisfies every invariant ParseMetadata
// promises.
func checkTrigger(t *testing.T, tr Trigger, clusters []Cluster) {
	t.Helper()
	if !slices.ContainsFunc(clusters, func(c Cluster) bool { return c.Name == tr.Cluster }) {
		t.Errorf("Cluster = %q, not a configured cluster", tr.Cluster)
	}
	if tr.Group == "" || strings.TrimSpace(tr.Group) != tr.Group || len(tr.Group) > MaxGroupLength {
		t.Errorf("Group = %q, want non-empty, trimmed and at most %d bytes", tr.Group, MaxGroupLength)
	}
	if !slices.IsSorted(tr.Topics) || len(slices.Compact(slices.Clone(tr.Topics))) != len(tr.Topics) {
		t.Errorf("Topics = %q, want sorted without duplicates", tr.Topics)
	}
	for _, topic := range tr.Topics {
		if problem := topicNameProblem(topic); problem != "" {
			t.Errorf("topic %q: %s", topic, problem)
		}
	}
	checkRanges(t, tr)

	if !(tr.LagThreshold >= MinLagThreshold && tr.LagThreshold <= MaxLagThreshold) {
		t.Errorf("LagThreshold = %v, want %v to %v", tr.LagThreshold, MinLagThreshold, MaxLagThreshold)
	}
	if !(tr.ActivationLagThreshold >= 0 && tr.ActivationLagThreshold <= MaxLagThreshold) {
		t.Errorf("ActivationLagThreshold = %v, want 0 to %v", tr.ActivationLagThreshold, MaxLagThreshold)
	}
	if tr.PersistentLag <= 0 {
		t.Errorf("PersistentLag = %v, want positive", tr.PersistentLag)
	}
	if tr.TaskSlotsPerTaskManager < 0 {
		t.Errorf("TaskSlotsPerTaskManager = %d, want 0 or more", tr.TaskSlotsPerTaskManager)
	}

	if tr.AllowIdleConsumers && (tr.LimitToPartitionsWithLag || tr.EnsureEvenDistributionOfPartitions) {
		t.Errorf("allowIdleConsumers combined with a cap setting: %+v", tr)
	}
	if tr.LimitToPartitionsWithLag && tr.EnsureEvenDistributionOfPartitions {
		t.Errorf("limitToPartitionsWithLag combined with even distribution: %+v", tr)
	}
	if (tr.LimitToPartitionsWithLag || tr.EnsureEvenDistributionOfPartitions) && len(tr.Topics) == 0 {
		t.Errorf("cap setting without topic: %+v", tr)
	}
	checkMetricName(t, tr.MetricName())
}

func checkRanges(t *testing.T, tr Trigger) {
	t.Helper()
	if tr.Partitions == nil {
		return
	}
	if len(tr.Topics) != 1 {
		t.Errorf("Partitions = %v with topics %q, want exactly one topic", tr.Partitions, tr.Topics)
	}
	if len(tr.Partitions) == 0 {
		t.Error("Partitions is empty but not nil")
	}
	for i, r := range tr.Partitions {
		if r.First < 0 || r.First > r.Last {
			t.Errorf("range %d = %v, want 0 ≤ First ≤ Last", i, r)
		}
		if i > 0 && int64(r.First) <= int64(tr.Partitions[i-1].Last)+1 {
			t.Errorf("ranges %v and %v are not sorted and merged", tr.Partitions[i-1], r)
		}
	}
	checkSelectsPartition(t, tr)
}

// checkSelectsPartition compares SelectsPartition with a linear scan at the
// edges of every range.
func checkSelectsPartition(t *testing.T, tr Trigger) {
	t.Helper()
	for _, r := range tr.Partitions {
		for _, p := range []int64{int64(r.First) - 1, int64(r.First), int64(r.Last), int64(r.Last) + 1} {
			if p < math.MinInt32 || p > math.MaxInt32 {
				continue
			}
			want := slices.ContainsFunc(tr.Partitions, func(r PartitionRange) bool {
				return int64(r.First) <= p && p <= int64(r.Last)
			})
			if got := tr.SelectsPartition(int32(p)); got != want {
				t.Errorf("SelectsPartition(%d) = %t with ranges %v, want %t", p, got, tr.Partitions, want)
			}
		}
	}
}

func checkMetricName(t *testing.T, name string) {
	t.Helper()
	if len(name) == 0 || len(name) > MaxMetricNameLength {
		t.Errorf("MetricName() = %q, want 1 to %d characters", name, MaxMetricNameLength)
	}
	for i, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			t.Errorf("MetricName() = %q contains %q at %d", name, r, i)
		}
	}
	if strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.Contains(name, "--") {
		t.Errorf("MetricName() = %q has a leading, trailing or doubled dash", name)
	}
}
