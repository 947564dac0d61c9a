package scaler

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/lagscaler/lagscaler/lag"
)

// CapReason is the reason the metric value has an upper bound.
type CapReason uint8

const (
	// NoCap means allowIdleConsumers=true lifted the cap.
	NoCap CapReason = iota
	// CapPartitions caps replicas at the selected partitions divided by the
	// task slots per replica, rounded up: more consumers would sit idle.
	CapPartitions
	// CapPartitionsWithLag caps replicas at the partitions with lag divided
	// by the task slots per replica, rounded up (limitToPartitionsWithLag).
	CapPartitionsWithLag
)

// String returns a short description for explain output.
func (r CapReason) String() string {
	switch r {
	case CapPartitions:
		return "partitions"
	case CapPartitionsWithLag:
		return "partitions with lag"
	}
	return "none"
}

// PartitionLag is one selected partition and how its lag was counted.
type PartitionLag struct {
	lag.Partition
	// EffectiveLag is the result of lag.EffectiveLag under the trigger's
	// policy.
	EffectiveLag int64
	// Counted is the lag that enters the total: EffectiveLag, or 0 when
	// Excluded.
	Counted int64
	// Excluded is set when excludePersistentLag dropped the partition's lag.
	Excluded bool
	// CommitAge is how long the committed offset had been unchanged at the
	// decision time, or 0 when unknown.
	CommitAge time.Duration
}

// TopicLag is the counted lag of one topic.
type TopicLag struct {
	Topic string
	// Partitions is the number of selected partitions of the topic.
	Partitions int
	// Lag is the sum of the partitions' counted lag.
	Lag int64
	// Excluded is the number of partitions dropped by excludePersistentLag.
	Excluded int
}

// Decision is the result of Decide with every intermediate step, so that it
// can be explained to a person.
type Decision struct {
	Cluster string
	Group   string
	// TakenAt is when the snapshot's commits were read.
	TakenAt time.Time

	// Partitions are the selected partitions, sorted by topic and partition.
	Partitions []PartitionLag
	// Topics are the per-topic sums, sorted by topic.
	Topics []TopicLag
	// TotalLag is the sum of the counted lag of every selected partition.
	TotalLag int64
	// EffectiveLag is the sum of the effective lag of every selected
	// partition, before excludePersistentLag drops any. It equals TotalLag
	// when no partition is excluded.
	EffectiveLag int64
	// PartitionsWithLag is the number of partitions whose counted lag is
	// above 0.
	PartitionsWithLag int

	// LagThreshold is the target lag per replica.
	LagThreshold float64
	// UncappedReplicas is ceil(TotalLag / LagThreshold), the replica count
	// the lag needs before even distribution and the cap.
	UncappedReplicas int64
	// EvenReplicas is the replica count that ensureEvenDistributionOfPartitions
	// rounded up to, or 0 when it did not apply.
	EvenReplicas int64
	// ReplicaCap is the maximum replica count the value may request, or -1
	// with NoCap.
	ReplicaCap int64
	CapReason  CapReason
	// Capped is set when the cap lowered the value.
	Capped bool
	// Value is the metric value sent to KEDA.
	Value float64
	// DesiredReplicas is ceil(Value / LagThreshold): what the HPA picks for
	// Value when it has no current replicas to compare with.
	DesiredReplicas int64

	// Active is set when EffectiveLag is above the activation threshold.
	Active bool

	// Steps describes each step in words, in order.
	Steps []string
}

// Decide computes the metric value and activity of trigger t from snapshot
// s at time now. It returns an error, and never a lower number, when a
// requested topic is missing, when the group has nothing to measure or when
// any selected partition's offsets are unknown.
//
// Activity compares EffectiveLag, the lag before excludePersistentLag, with
// the activation threshold, as KEDA's kafka trigger does. A workload scaled to
// zero commits nothing, so its commits age past persistentLagSeconds while
// records arrive, and the lag after exclusion would never wake it.
// Transaction markers still do not wake it, because lag.EffectiveLag counts a
// partition whose lag is only markers as 0.
//
// NOTE: that needs the lag engine's control-record probe to succeed. It
// probes gaps of at most 16 offsets, and a failed probe leaves the markers
// counted, so they then keep the workload awake.
//
// Activity is also decided before even distribution and the cap. Otherwise
// the cap could hide a lag above a high activation threshold, and rounding up
// could wake a workload whose lag is below it.
func Decide(t Trigger, s *lag.Snapshot, now time.Time) (Decision, error) {
	if s == nil {
		return Decision{}, fmt.Errorf("%s: no lag snapshot", describeGroup(t.Cluster, t.Group))
	}
	d := Decision{
		Cluster:      t.Cluster,
		Group:        t.Group,
		TakenAt:      s.TakenAt,
		LagThreshold: t.LagThreshold,
		ReplicaCap:   -1,
	}

	selected, err := d.selectPartitions(t, s)
	if err != nil {
		return Decision{}, err
	}
	if err := d.countLag(t, selected, now); err != nil {
		return Decision{}, err
	}
	d.sum()
	d.scale(t)

	d.activate(t)
	return d, nil
}

// activate decides activity from the lag before persistent-lag exclusion.
func (d *Decision) activate(t Trigger) {
	d.Active = float64(d.EffectiveLag) > t.ActivationLagThreshold
	threshold := formatNumber(t.ActivationLagThreshold)
	if d.EffectiveLag == d.TotalLag {
		d.stepf("active: %t, total lag %d %s activationLagThreshold %s",
			d.Active, d.TotalLag, compareSign(d.Active), threshold)
		return
	}
	d.stepf("active: %t, lag %d before excluding persistent lag %s activationLagThreshold %s "+
		"(excludePersistentLag lowers only the value)",
		d.Active, d.EffectiveLag, compareSign(d.Active), threshold)
}

func (d *Decision) stepf(format string, args ...any) {
	d.Steps = append(d.Steps, fmt.Sprintf(format, args...))
}

func compareSign(greater bool) string {
	if greater {
		return ">"
	}
	return "<="
}

// selectPartitions returns the snapshot's partitions of the trigger's topics
// inside its partitionLimitation.
func (d *Decision) selectPartitions(t Trigger, s *lag.Snapshot) ([]lag.Partition, error) {
	if err := checkTopics(t, s); err != nil {
		return nil, err
	}

	var selected []lag.Partition
	inTopics := 0
	for _, p := range s.Partitions {
		if len(t.Topics) > 0 && !slices.Contains(t.Topics, p.Topic) {
			continue
		}
		inTopics++
		// For a topic whose metadata it could not read, the lag engine
		// returns one partition -1 with an error. Which partitions that hides
		// is unknown, so it is selected and countLag reports the failure.
		if t.SelectsPartition(p.Partition) || p.Partition < 0 && p.Err != nil {
			selected = append(selected, p)
		}
	}

	switch {
	case inTopics == 0:
		return nil, fmt.Errorf("%s: %w: the group has no committed offsets "+
			"on an existing topic; set topic to the topics it consumes",
			describeGroup(t.Cluster, t.Group), lag.ErrGroupNotFound)
	case len(selected) == 0:
		return nil, fmt.Errorf("%s: %w", describeGroup(t.Cluster, t.Group), &MetadataError{
			Key:   KeyPartitionLimitation,
			Value: FormatPartitionRanges(t.Partitions),
			Problem: fmt.Sprintf("selects none of the %d partitions of topic %s",
				inTopics, strings.Join(t.Topics, ", ")),
		})
	}

	if t.Partitions != nil {
		d.stepf("partitionLimitation %s selects %d of %d partitions of topic %s",
			FormatPartitionRanges(t.Partitions), len(selected), inTopics, strings.Join(t.Topics, ", "))
	}
	if len(s.DeletedTopics) > 0 {
		d.stepf("ignored deleted topics the group has commits for: %s",
			strings.Join(s.DeletedTopics, ", "))
	}
	return selected, nil
}

// checkTopics returns lag.ErrTopicNotFound, naming the topics, when a topic
// of the trigger is missing from the snapshot.
func checkTopics(t Trigger, s *lag.Snapshot) error {
	missing := slices.Clone(s.MissingTopics)
	for _, topic := range t.Topics {
		has := slices.ContainsFunc(s.Partitions, func(p lag.Partition) bool { return p.Topic == topic })
		if !has && !slices.Contains(missing, topic) {
			missing = append(missing, topic)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	slices.Sort(missing)
	return fmt.Errorf("%s: %w: %s", describeGroup(t.Cluster, t.Group), lag.ErrTopicNotFound, listItems(missing))
}

// countLag fills d.Partitions with the effective and counted lag of each
// selected partition.
func (d *Decision) countLag(t Trigger, selected []lag.Partition, now time.Time) error {
	var unknown []string
	var errs []error
	for _, p := range selected {
		effective, err := lag.EffectiveLag(p, t.Policy)
		if err != nil {
			unknown = append(unknown, fmt.Sprintf("%s[%d]", p.Topic, p.Partition))
			errs = append(errs, err)
			continue
		}
		pl := PartitionLag{Partition: p, EffectiveLag: effective, Counted: effective}
		if p.Committed >= 0 && !p.CommitSeenAt.IsZero() {
			pl.CommitAge = max(now.Sub(p.CommitSeenAt), 0)
		}
		// The commit time is known only from when this process first saw the
		// committed value, so after a restart exclusion starts over.
		persistent := pl.CommitAge > 0 && pl.CommitAge >= t.PersistentLag
		if t.ExcludePersistentLag && effective > 0 && persistent {
			pl.Counted = 0
			pl.Excluded = true
			d.stepf("%s[%d]: lag %d not counted, commit %d unchanged for %s (persistentLagSeconds %d)",
				p.Topic, p.Partition, effective, p.Committed, pl.CommitAge.Round(time.Second),
				int64(t.PersistentLag/time.Second))
		}
		d.Partitions = append(d.Partitions, pl)
	}
	if len(unknown) > 0 {
		return &UnknownLagError{
			Cluster: t.Cluster, Group: t.Group, Partitions: unknown, Err: errors.Join(errs...),
		}
	}
	return nil
}

// sum adds the counted lag per topic and in total.
func (d *Decision) sum() {
	for _, p := range d.Partitions {
		if len(d.Topics) == 0 || d.Topics[len(d.Topics)-1].Topic != p.Topic {
			d.Topics = append(d.Topics, TopicLag{Topic: p.Topic})
		}
		topic := &d.Topics[len(d.Topics)-1]
		topic.Partitions++
		topic.Lag = addSaturating(topic.Lag, p.Counted)
		if p.Excluded {
			topic.Excluded++
		}
		d.TotalLag = addSaturating(d.TotalLag, p.Counted)
		d.EffectiveLag = addSaturating(d.EffectiveLag, p.EffectiveLag)
		if p.Counted > 0 {
			d.PartitionsWithLag++
		}
	}
	for _, topic := range d.Topics {
		d.stepf("topic %s: lag %d over %d partitions", topic.Topic, topic.Lag, topic.Partitions)
	}
	d.stepf("total lag %d over %d partitions, %d with lag",
		d.TotalLag, len(d.Partitions), d.PartitionsWithLag)
}

// scale turns the total lag into the metric value: even distribution first,
// then the cap, as KEDA's kafka trigger orders them.
func (d *Decision) scale(t Trigger) {
	d.Value = float64(d.TotalLag)
	d.UncappedReplicas = ceilRatio(d.Value, t.LagThreshold)
	d.DesiredReplicas = d.UncappedReplicas
	d.stepf("lag needs %s at lagThreshold %s",
		countOf(d.UncappedReplicas, "replica"), formatNumber(t.LagThreshold))

	partitions := int64(len(d.Partitions))
	if t.EnsureEvenDistributionOfPartitions && d.UncappedReplicas > 0 {
		d.EvenReplicas = evenReplicas(d.UncappedReplicas, partitions, t)
		d.DesiredReplicas = d.EvenReplicas
		d.Value = float64(d.EvenReplicas) * t.LagThreshold
		d.stepf("ensureEvenDistributionOfPartitions rounds up to %s, value %s",
			countOf(d.EvenReplicas, "replica"), formatNumber(d.Value))
	}

	if t.AllowIdleConsumers {
		d.stepf("no replica cap (allowIdleConsumers)")
		d.stepf("value %s, %s", formatNumber(d.Value), countOf(d.DesiredReplicas, "replica"))
		return
	}
	d.CapReason = CapPartitions
	counted := partitions
	if t.LimitToPartitionsWithLag {
		d.CapReason = CapPartitionsWithLag
		counted = int64(d.PartitionsWithLag)
	}
	d.ReplicaCap = ceilDiv(counted, t.Slots())
	d.stepf("replica cap %d: %d %s / %s per replica, rounded up",
		d.ReplicaCap, counted, d.CapReason, countOf(t.Slots(), "task slot"))

	// Compare exactly: KEDA's kafka trigger divides with integers here and so
	// allows one replica more than the cap.
	if d.Value > float64(d.ReplicaCap)*t.LagThreshold {
		d.Capped = true
		d.Value = float64(d.ReplicaCap) * t.LagThreshold
		d.DesiredReplicas = d.ReplicaCap
	}
	d.stepf("value %s, %s (capped: %t)", formatNumber(d.Value), countOf(d.DesiredReplicas, "replica"), d.Capped)
}

// countOf returns n and noun, with an "s" unless n is 1.
func countOf(n int64, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// evenReplicas rounds desired up to a replica count that spreads partitions
// evenly. Without taskSlotsPerTaskManager it is the next factor of the
// partition count, as KEDA's kafka trigger does. With it, it is the next
// count n at which ceil(partitions / (n·slots)), the most partitions one
// slot reads, drops: other counts add TaskManagers that no partition needs.
func evenReplicas(desired, partitions int64, t Trigger) int64 {
	if t.TaskSlotsPerTaskManager == 0 {
		for n := desired; n < partitions; n++ {
			if partitions%n == 0 {
				return n
			}
		}
		return partitions
	}

	slots := t.Slots()
	limit := ceilDiv(partitions, slots)
	for n := desired; n < limit; n++ {
		if n == 1 || ceilDiv(partitions, n*slots) < ceilDiv(partitions, (n-1)*slots) {
			return n
		}
	}
	return limit
}

// ceilDiv returns ⌈a / b⌉ for a ≥ 0 and b > 0.
func ceilDiv(a, b int64) int64 {
	return a/b + min(a%b, 1)
}

// ceilRatio returns ⌈value / target⌉, saturated at math.MaxInt64. A quotient
// within rounding error of a whole number counts as that number, so that
// 0.3 / 0.1 is 3 and not 4.
func ceilRatio(value, target float64) int64 {
	q := value / target
	if math.IsNaN(q) || q <= 0 {
		return 0
	}
	if q >= math.MaxInt64 {
		return math.MaxInt64
	}
	if r := math.Round(q); math.Abs(q-r) <= 1e-9*r {
		return int64(r)
	}
	return int64(math.Ceil(q))
}

func addSaturating(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// hpaTolerance is the HorizontalPodAutoscaler's default tolerance
// (--horizontal-pod-autoscaler-tolerance).
const hpaTolerance = 0.1

// HPAReplicas returns the replica count a HorizontalPodAutoscaler with an
// AverageValue target picks for one external metric: ⌈value / target⌉,
// unchanged from current while value / (target·current) is within 10% of 1,
// then clamped to [minReplicas, maxReplicas]. With current 0 the tolerance
// check is skipped. Negative, NaN and infinite values count as 0, as KEDA
// sends them; a target that is not above 0 keeps current.
func HPAReplicas(value, target float64, current, minReplicas, maxReplicas int) int {
	if math.IsNaN(value) || math.IsInf(value, 0) || value < 0 {
		value = 0
	}
	desired := current
	if target > 0 && !math.IsInf(target, 1) {
		ratio := value / (target * float64(current))
		if current <= 0 || math.Abs(ratio-1) > hpaTolerance {
			desired = int(min(ceilRatio(value, target), math.MaxInt))
		}
	}
	return max(min(desired, maxReplicas), minReplicas)
}
