package scaler

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	"github.com/lagscaler/lagscaler/lag"
)

var decideNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tenth is a variable so that 3 * tenth rounds at run time, as Decide does.
var tenth = 0.1

// noCommit marks a partition without a committed offset in test tables.
const noCommit = -1

// partition returns a partition with log-start 0, classified by
// lag.Classify as the lag engine does.
func partition(topic string, number int32, committed, end int64) lag.Partition {
	p := lag.Partition{
		Topic:     topic,
		Partition: number,
		Committed: committed,
		LogStart:  0,
		LogEnd:    end,
		StableEnd: end,
	}
	lag.Classify(&p)
	return p
}

// partitions returns partitions 0..n-1 of topic with the given commits and
// log-end offsets.
func partitions(topic string, committed, end []int64) []lag.Partition {
	ps := make([]lag.Partition, len(end))
	for i := range end {
		ps[i] = partition(topic, int32(i), committed[i], end[i])
	}
	return ps
}

// lagged returns n partitions of topic that each have the given lag.
func lagged(topic string, lags ...int64) []lag.Partition {
	ps := make([]lag.Partition, len(lags))
	for i, l := range lags {
		ps[i] = partition(topic, int32(i), 1000, 1000+l)
	}
	return ps
}

func snapshotOf(ps ...lag.Partition) *lag.Snapshot {
	return &lag.Snapshot{TakenAt: decideNow, Partitions: ps}
}

func trigger(edit func(*Trigger)) Trigger {
	t := Trigger{
		Cluster:       "main",
		Group:         "orders-flink",
		Topics:        []string{"orders"},
		LagThreshold:  10,
		PersistentLag: DefaultPersistentLag,
	}
	if edit != nil {
		edit(&t)
	}
	return t
}

// decisionSummary is the part of a Decision the table tests compare.
type decisionSummary struct {
	TotalLag          int64
	PartitionsWithLag int
	Uncapped          int64
	Even              int64
	Cap               int64
	CapReason         CapReason
	Capped            bool
	Value             float64
	Desired           int64
	Active            bool
}

func summarize(d Decision) decisionSummary {
	return decisionSummary{
		TotalLag:          d.TotalLag,
		PartitionsWithLag: d.PartitionsWithLag,
		Uncapped:          d.UncappedReplicas,
		Even:              d.EvenReplicas,
		Cap:               d.ReplicaCap,
		CapReason:         d.CapReason,
		Capped:            d.Capped,
		Value:             d.Value,
		Desired:           d.DesiredReplicas,
		Active:            d.Active,
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name    string
		trigger Trigger
		snap    *lag.Snapshot
		want    decisionSummary
	}{
		{
			// KEDA's kafka trigger reports 49 here, because it adds the
			// commit-ahead partition as -10.
			name:    "acceptance scenario",
			trigger: trigger(nil),
			snap: snapshotOf(partitions("orders",
				[]int64{50, 200, noCommit, 60, 2, 10},
				[]int64{100, 200, 0, 50, 10, 10})...),
			want: decisionSummary{TotalLag: 59, PartitionsWithLag: 3, Uncapped: 6, Cap: 6,
				CapReason: CapPartitions, Value: 59, Desired: 6, Active: true},
		},
		{
			name:    "no commit counts 0 with scaleToZeroOnInvalidOffset",
			trigger: trigger(func(t *Trigger) { t.Policy.ScaleToZeroOnInvalidOffset = true }),
			snap:    snapshotOf(partition("orders", 0, noCommit, 500)),
			want:    decisionSummary{Cap: 1, CapReason: CapPartitions},
		},
		{
			name:    "no commit counts the log under earliest",
			trigger: trigger(func(t *Trigger) { t.Policy.Reset = lag.Earliest }),
			snap:    snapshotOf(partition("orders", 0, noCommit, 500)),
			want: decisionSummary{TotalLag: 500, PartitionsWithLag: 1, Uncapped: 50, Cap: 1,
				CapReason: CapPartitions, Capped: true, Value: 10, Desired: 1, Active: true},
		},
		{
			// KEDA's kafka trigger divides 29 by 5 with integers, gets 5, which
			// is not above the cap, and sends 29, which makes 6 replicas.
			name:    "cap compares exactly",
			trigger: trigger(func(t *Trigger) { t.LagThreshold = 5 }),
			snap:    snapshotOf(lagged("orders", 29, 0, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 29, PartitionsWithLag: 1, Uncapped: 6, Cap: 5,
				CapReason: CapPartitions, Capped: true, Value: 25, Desired: 5, Active: true},
		},
		{
			name:    "value at the cap is not capped",
			trigger: trigger(func(t *Trigger) { t.LagThreshold = 5 }),
			snap:    snapshotOf(lagged("orders", 25, 0, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 25, PartitionsWithLag: 1, Uncapped: 5, Cap: 5,
				CapReason: CapPartitions, Value: 25, Desired: 5, Active: true},
		},
		{
			name:    "allowIdleConsumers lifts the cap",
			trigger: trigger(func(t *Trigger) { t.AllowIdleConsumers = true }),
			snap:    snapshotOf(lagged("orders", 100, 0)...),
			want: decisionSummary{TotalLag: 100, PartitionsWithLag: 1, Uncapped: 10, Cap: -1,
				CapReason: NoCap, Value: 100, Desired: 10, Active: true},
		},
		{
			name:    "task slots divide the cap",
			trigger: trigger(func(t *Trigger) { t.TaskSlotsPerTaskManager = 4 }),
			snap:    snapshotOf(lagged("orders", 100, 100, 100, 100, 100, 100)...),
			want: decisionSummary{TotalLag: 600, PartitionsWithLag: 6, Uncapped: 60, Cap: 2,
				CapReason: CapPartitions, Capped: true, Value: 20, Desired: 2, Active: true},
		},
		{
			name:    "limitToPartitionsWithLag",
			trigger: trigger(func(t *Trigger) { t.LimitToPartitionsWithLag = true }),
			snap:    snapshotOf(lagged("orders", 100, 0, 0, 100, 0, 0)...),
			want: decisionSummary{TotalLag: 200, PartitionsWithLag: 2, Uncapped: 20, Cap: 2,
				CapReason: CapPartitionsWithLag, Capped: true, Value: 20, Desired: 2, Active: true},
		},
		{
			name: "limitToPartitionsWithLag with task slots",
			trigger: trigger(func(t *Trigger) {
				t.LimitToPartitionsWithLag = true
				t.TaskSlotsPerTaskManager = 2
			}),
			snap: snapshotOf(lagged("orders", 100, 100, 100, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 300, PartitionsWithLag: 3, Uncapped: 30, Cap: 2,
				CapReason: CapPartitionsWithLag, Capped: true, Value: 20, Desired: 2, Active: true},
		},
		{
			// 12 partitions: 5 replicas round up to 6, the next factor.
			name:    "even distribution rounds up to a factor",
			trigger: trigger(func(t *Trigger) { t.EnsureEvenDistributionOfPartitions = true }),
			snap:    snapshotOf(lagged("orders", 45, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 45, PartitionsWithLag: 1, Uncapped: 5, Even: 6, Cap: 12,
				CapReason: CapPartitions, Value: 60, Desired: 6, Active: true},
		},
		{
			name:    "even distribution beyond the partitions",
			trigger: trigger(func(t *Trigger) { t.EnsureEvenDistributionOfPartitions = true }),
			snap:    snapshotOf(lagged("orders", 500, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 500, PartitionsWithLag: 1, Uncapped: 50, Even: 4, Cap: 4,
				CapReason: CapPartitions, Value: 40, Desired: 4, Active: true},
		},
		{
			name:    "even distribution without lag stays 0",
			trigger: trigger(func(t *Trigger) { t.EnsureEvenDistributionOfPartitions = true }),
			snap:    snapshotOf(lagged("orders", 0, 0, 0, 0)...),
			want:    decisionSummary{Cap: 4, CapReason: CapPartitions},
		},
		{
			// 10 partitions on 2 slots per TaskManager: the most partitions
			// per slot, ⌈10/(2n)⌉, drops at n = 1, 2, 3 and 5, so 4
			// replicas round up to 5.
			name: "even distribution with task slots",
			trigger: trigger(func(t *Trigger) {
				t.EnsureEvenDistributionOfPartitions = true
				t.TaskSlotsPerTaskManager = 2
			}),
			snap: snapshotOf(lagged("orders", 35, 0, 0, 0, 0, 0, 0, 0, 0, 0)...),
			want: decisionSummary{TotalLag: 35, PartitionsWithLag: 1, Uncapped: 4, Even: 5, Cap: 5,
				CapReason: CapPartitions, Value: 50, Desired: 5, Active: true},
		},
		{
			name:    "activation threshold not exceeded",
			trigger: trigger(func(t *Trigger) { t.ActivationLagThreshold = 5 }),
			snap:    snapshotOf(lagged("orders", 3, 2)...),
			want: decisionSummary{TotalLag: 5, PartitionsWithLag: 2, Uncapped: 1, Cap: 2,
				CapReason: CapPartitions, Value: 5, Desired: 1},
		},
		{
			// The cap lowers the value to 10, but activity compares the lag.
			name:    "activation uses lag before the cap",
			trigger: trigger(func(t *Trigger) { t.ActivationLagThreshold = 100 }),
			snap:    snapshotOf(lagged("orders", 500)...),
			want: decisionSummary{TotalLag: 500, PartitionsWithLag: 1, Uncapped: 50, Cap: 1,
				CapReason: CapPartitions, Capped: true, Value: 10, Desired: 1, Active: true},
		},
		{
			name:    "fractional threshold",
			trigger: trigger(func(t *Trigger) { t.LagThreshold = tenth }),
			snap:    snapshotOf(lagged("orders", 1, 1, 1)...),
			want: decisionSummary{TotalLag: 3, PartitionsWithLag: 3, Uncapped: 30, Cap: 3,
				CapReason: CapPartitions, Capped: true, Value: 3 * tenth, Desired: 3, Active: true},
		},
		{
			name: "partitionLimitation",
			trigger: trigger(func(t *Trigger) {
				t.Partitions = []PartitionRange{{1, 2}}
			}),
			snap: snapshotOf(lagged("orders", 1000, 7, 8, 1000)...),
			want: decisionSummary{TotalLag: 15, PartitionsWithLag: 2, Uncapped: 2, Cap: 2,
				CapReason: CapPartitions, Value: 15, Desired: 2, Active: true},
		},
		{
			name:    "several topics",
			trigger: trigger(func(t *Trigger) { t.Topics = []string{"orders", "payments"} }),
			snap:    snapshotOf(append(lagged("orders", 10, 20), lagged("payments", 30)...)...),
			want: decisionSummary{TotalLag: 60, PartitionsWithLag: 3, Uncapped: 6, Cap: 3,
				CapReason: CapPartitions, Capped: true, Value: 30, Desired: 3, Active: true},
		},
		{
			name:    "every topic the group has commits for",
			trigger: trigger(func(t *Trigger) { t.Topics = nil }),
			snap:    snapshotOf(append(lagged("orders", 10), lagged("payments", 5)...)...),
			want: decisionSummary{TotalLag: 15, PartitionsWithLag: 2, Uncapped: 2, Cap: 2,
				CapReason: CapPartitions, Value: 15, Desired: 2, Active: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(tt.trigger, tt.snap, decideNow)
			if err != nil {
				t.Fatalf("Decide() error: %v", err)
			}
			if diff := cmp.Diff(tt.want, summarize(d)); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s\nsteps:\n%s", diff, strings.Join(d.Steps, "\n"))
			}
		})
	}
}

func TestDecidePersistentLag(t *testing.T) {
	tr := trigger(func(t *Trigger) {
		t.ExcludePersistentLag = true
		t.PersistentLag = 5 * time.Minute
	})
	ps := lagged("orders", 100, 200, 300, 0)
	ps[0].CommitSeenAt = decideNow.Add(-5 * time.Minute) // stuck exactly long enough
	ps[1].CommitSeenAt = decideNow.Add(-4 * time.Minute) // between two checkpoints
	// ps[2] has no CommitSeenAt, so its age is unknown and it counts.
	ps[3].CommitSeenAt = decideNow.Add(-time.Hour) // caught up: nothing to exclude

	d, err := Decide(tr, snapshotOf(ps...), decideNow)
	if err != nil {
		t.Fatalf("Decide() error: %v", err)
	}
	if d.TotalLag != 500 {
		t.Errorf("TotalLag = %d, want 500", d.TotalLag)
	}
	wantExcluded := []bool{true, false, false, false}
	for i, p := range d.Partitions {
		if p.Excluded != wantExcluded[i] {
			t.Errorf("partition %d Excluded = %t, want %t", i, p.Excluded, wantExcluded[i])
		}
	}
	if got, want := d.Partitions[0].CommitAge, 5*time.Minute; got != want {
		t.Errorf("partition 0 CommitAge = %v, want %v", got, want)
	}
	if d.Partitions[0].EffectiveLag != 100 || d.Partitions[0].Counted != 0 {
		t.Errorf("partition 0 EffectiveLag, Counted = %d, %d, want 100, 0",
			d.Partitions[0].EffectiveLag, d.Partitions[0].Counted)
	}
	if got := d.Topics[0].Excluded; got != 1 {
		t.Errorf("topic Excluded = %d, want 1", got)
	}
}

// A workload scaled to zero commits nothing, so its commits age past
// persistentLagSeconds while records arrive. Excluded lag must still wake it,
// as in KEDA's kafka trigger, while partitions whose lag is only transaction
// markers count 0 and do not.
func TestDecideActivationWithPersistentLag(t *testing.T) {
	tr := trigger(func(t *Trigger) { t.ExcludePersistentLag = true })
	stuck := partition("orders", 0, 1000, 1029)
	stuck.CommitSeenAt = decideNow.Add(-time.Hour)
	markers := partition("orders", 1, 699, 700)
	markers.Anomaly = lag.ControlRecordsOnly
	markers.CommitSeenAt = decideNow.Add(-time.Hour)

	tests := []struct {
		name          string
		partitions    []lag.Partition
		wantValue     float64
		wantEffective int64
		wantActive    bool
		wantStep      string
	}{
		{"persistent lag wakes", []lag.Partition{stuck}, 0, 29, true,
			"active: true, lag 29 before excluding persistent lag > activationLagThreshold 0"},
		{"control records only stay inactive", []lag.Partition{markers}, 0, 0, false,
			"active: false, total lag 0 <= activationLagThreshold 0"},
		{"both", []lag.Partition{stuck, markers}, 0, 29, true,
			"active: true, lag 29 before excluding persistent lag > activationLagThreshold 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(tr, snapshotOf(tt.partitions...), decideNow)
			if err != nil {
				t.Fatalf("Decide() error: %v", err)
			}
			if d.Value != tt.wantValue {
				t.Errorf("Decide() Value = %v, want %v", d.Value, tt.wantValue)
			}
			if d.Active != tt.wantActive {
				t.Errorf("Decide() Active = %t, want %t\nsteps:\n%s", d.Active, tt.wantActive, strings.Join(d.Steps, "\n"))
			}
			if d.EffectiveLag != tt.wantEffective {
				t.Errorf("Decide() EffectiveLag = %d, want %d", d.EffectiveLag, tt.wantEffective)
			}
			if d.PartitionsWithLag != 0 {
				t.Errorf("Decide() PartitionsWithLag = %d, want 0", d.PartitionsWithLag)
			}
			if last := d.Steps[len(d.Steps)-1]; !strings.HasPrefix(last, tt.wantStep) {
				t.Errorf("Decide() last step = %q, want prefix %q", last, tt.wantStep)
			}
		})
	}
}

// A topic whose metadata could not be read has one placeholder partition -1
// with an error. partitionLimitation cannot tell which partitions it hides, so
// the decision fails as unavailable instead of blaming the metadata.
func TestDecideTopicErrorWithPartitionLimitation(t *testing.T) {
	failed := lag.Partition{Topic: "orders", Partition: -1, Committed: -1, LogStart: -1, LogEnd: -1,
		StableEnd: -1, Anomaly: lag.Unknown, Err: errors.New("LEADER_NOT_AVAILABLE")}
	tr := trigger(func(t *Trigger) { t.Partitions = []PartitionRange{{0, 3}} })

	_, err := Decide(tr, snapshotOf(failed), decideNow)
	var unknown *UnknownLagError
	if !errors.As(err, &unknown) {
		t.Fatalf("Decide() error = %v, want an *UnknownLagError", err)
	}
	if got, want := ErrorStatus(err).Code(), codes.Unavailable; got != want {
		t.Errorf("ErrorStatus(%v) code = %v, want %v", err, got, want)
	}
	if !strings.Contains(err.Error(), "LEADER_NOT_AVAILABLE") {
		t.Errorf("Decide() error = %q, want it to contain the topic's error", err)
	}
}

func TestDecideErrors(t *testing.T) {
	unknown := partition("orders", 1, 10, 20)
	unknown.Err = errors.New("NOT_LEADER_FOR_PARTITION")
	unknown.Anomaly = lag.Unknown
	stuck := partition("orders", 2, 10, 20)
	stuck.LogEnd, stuck.StableEnd = -1, -1
	stuck.Anomaly = lag.Unknown

	tests := []struct {
		name    string
		trigger Trigger
		snap    *lag.Snapshot
		is      error
		as      any
		want    string
	}{
		{
			name:    "unknown partitions",
			trigger: trigger(nil),
			snap:    snapshotOf(partition("orders", 0, 5, 10), unknown, stuck),
			as:      new(*UnknownLagError),
			want:    `cluster "main", group "orders-flink": lag unknown for 2 partitions (orders[1], orders[2])`,
		},
		{
			name:    "missing topics",
			trigger: trigger(func(t *Trigger) { t.Topics = []string{"orders", "payments", "refunds"} }),
			snap: &lag.Snapshot{Partitions: lagged("orders", 1),
				MissingTopics: []string{"refunds"}},
			is:   lag.ErrTopicNotFound,
			want: "topic not found: payments, refunds",
		},
		{
			name:    "group without commits",
			trigger: trigger(func(t *Trigger) { t.Topics = nil }),
			snap:    snapshotOf(),
			is:      lag.ErrGroupNotFound,
			want:    "set topic",
		},
		{
			name:    "partitionLimitation selects nothing",
			trigger: trigger(func(t *Trigger) { t.Partitions = []PartitionRange{{10, 20}} }),
			snap:    snapshotOf(lagged("orders", 1, 2)...),
			as:      new(*MetadataError),
			want:    "selects none of the 2 partitions of topic orders",
		},
		{
			name:    "no snapshot",
			trigger: trigger(nil),
			want:    "no lag snapshot",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Decide(tt.trigger, tt.snap, decideNow)
			if err == nil {
				t.Fatalf("Decide() = %+v, want error", summarize(d))
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Decide() error %v is not %v", err, tt.is)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("Decide() error %v is not a %T", err, tt.as)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decide() error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// A commit ahead of the log end must count 0, not a negative number that
// lowers the total.
func TestDecideCommitAheadNeverLowers(t *testing.T) {
	d, err := Decide(trigger(nil), snapshotOf(partition("orders", 0, 1000, 10), partition("orders", 1, 0, 7)), decideNow)
	if err != nil {
		t.Fatal(err)
	}
	if d.TotalLag != 7 {
		t.Errorf("TotalLag = %d, want 7", d.TotalLag)
	}
}

func TestEvenReplicas(t *testing.T) {
	tests := []struct {
		desired, partitions int64
		slots               int32
		want                int64
	}{
		{1, 12, 0, 1},
		{5, 12, 0, 6},
		{7, 12, 0, 12},
		{13, 12, 0, 12},
		{3, 7, 0, 7},
		{1, 10, 1, 1},
		{3, 10, 1, 3}, // ⌈10/3⌉ = 4 < ⌈10/2⌉ = 5
		{6, 10, 1, 10},
		{4, 10, 2, 5},
		{2, 10, 2, 2},
		{2, 3, 4, 1},
		{9, 100, 8, 13}, // ⌈100/(8n)⌉ is 2 for n = 7 to 12
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d of %d on %d slots", tt.desired, tt.partitions, tt.slots), func(t *testing.T) {
			got := evenReplicas(tt.desired, tt.partitions, Trigger{TaskSlotsPerTaskManager: tt.slots})
			if got != tt.want {
				t.Errorf("evenReplicas(%d, %d, slots %d) = %d, want %d", tt.desired, tt.partitions, tt.slots, got, tt.want)
			}
		})
	}
}

func TestHPAReplicas(t *testing.T) {
	tests := []struct {
		name                          string
		value, target                 float64
		current, minReplicas, maxReps int
		want                          int
	}{
		{"from zero", 59, 10, 0, 0, 100, 6},
		{"scale out", 59, 10, 3, 1, 100, 6},
		{"within tolerance up", 32, 10, 3, 1, 100, 3},
		{"within tolerance down", 27, 10, 3, 1, 100, 3},
		{"scale in outside tolerance", 26, 10, 4, 1, 100, 3},
		{"scale in", 5, 10, 3, 1, 100, 1},
		{"clamped to max", 5000, 10, 3, 1, 100, 100},
		{"clamped to min", 0, 10, 3, 2, 100, 2},
		{"exact multiple", 0.3, 0.1, 0, 0, 100, 3},
		{"NaN counts 0", math.NaN(), 10, 3, 1, 100, 1},
		{"negative counts 0", -50, 10, 3, 0, 100, 0},
		{"zero target keeps current", 50, 0, 3, 1, 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := HPAReplicas(tt.value, tt.target, tt.current, tt.minReplicas, tt.maxReps)
			if got != tt.want {
				t.Errorf("HPAReplicas(%v, %v, %d, %d, %d) = %d, want %d",
					tt.value, tt.target, tt.current, tt.minReplicas, tt.maxReps, got, tt.want)
			}
		})
	}
}
