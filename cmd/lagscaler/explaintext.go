package main

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lagscaler/lagscaler/lag"
	"github.com/lagscaler/lagscaler/scaler"
)

// writeTargetExplanation writes the decision of every trigger of t and the
// replica count the HPA derives from them. live is set when the lag was read
// from Kafka just now rather than from a saved report.
func writeTargetExplanation(buf *bytes.Buffer, t *explainTarget, current int, live bool) {
	fmt.Fprintf(buf, "%s\n", t.name)
	for _, r := range t.results {
		buf.WriteString("\n")
		writeTriggerExplanation(buf, r, live)
	}
	buf.WriteString("\n")
	writeReplicas(buf, t, current)
}

func writeTriggerExplanation(buf *bytes.Buffer, r *triggerResult, live bool) {
	t := r.parsed
	// The canonical metadata spells out every default and leaves out KEDA's
	// connection keys, which can hold a client key.
	fmt.Fprintf(buf, "trigger %d (%s): %s\n", r.index, r.kind, metadataText(t.Metadata()))
	topics := "every topic the group has commits for"
	if len(t.Topics) > 0 {
		topics = "topic " + strings.Join(t.Topics, ", ")
	}
	fmt.Fprintf(buf, "  cluster %s, group %s, %s, %s\n", t.Cluster, t.Group, topics, t.Isolation)
	if r.snapshot != nil {
		s := r.snapshot
		fmt.Fprintf(buf, "  lag read at %s: state %s, %s\n",
			s.TakenAt.UTC().Format(time.RFC3339), stateText(s.State), plural(s.Members, "member"))
		writeDecisionTable(buf, r)
	}
	if r.err != nil {
		fmt.Fprintf(buf, "  no decision: %v\n", r.err)
		buf.WriteString("  KEDA receives this error instead of a metric. It keeps the current replica count and,\n" +
			"  after fallback.failureThreshold failures in a row, uses fallback.replicas if set.\n")
		return
	}

	d := r.decision
	if t.ExcludePersistentLag && live {
		buf.WriteString("  excludePersistentLag: a single read cannot tell how long a commit has been unchanged,\n" +
			"  so nothing is excluded here; the running scaler measures it from its own earlier reads.\n")
	}
	buf.WriteString("  steps:\n")
	for i, step := range d.Steps {
		fmt.Fprintf(buf, "    %d. %s\n", i+1, step)
	}
	fmt.Fprintf(buf, "  metric %s: value %s, target %s per replica (AverageValue)\n",
		t.MetricName(), formatFloat(d.Value), formatFloat(t.LagThreshold))
}

// writeDecisionTable writes one row per partition of the snapshot in the
// trigger's topics, with the lag counted and why.
func writeDecisionTable(buf *bytes.Buffer, r *triggerResult) {
	counted := map[topicPartition]scaler.PartitionLag{}
	for _, pl := range r.decision.Partitions {
		counted[topicPartition{pl.Topic, pl.Partition.Partition}] = pl
	}
	var ignored []string

	tb := newTable(buf)
	tb.row("  TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-START-OFFSET", "LOG-END-OFFSET", "LAG", "EFFECTIVE-LAG", "COUNTED", "WHY")
	for _, p := range r.snapshot.Partitions {
		if len(r.parsed.Topics) > 0 && !slices.Contains(r.parsed.Topics, p.Topic) {
			if !slices.Contains(ignored, p.Topic) {
				ignored = append(ignored, p.Topic)
			}
			continue
		}
		effective, count, reason := "-", "-", ""
		if pl, ok := counted[topicPartition{p.Topic, p.Partition}]; ok {
			effective = strconv.FormatInt(pl.EffectiveLag, 10)
			count = strconv.FormatInt(pl.Counted, 10)
			reason = countReason(pl, r.parsed)
		} else {
			reason = uncountedReason(p, r.parsed)
			// Without a decision the effective lag is still worth showing.
			if n, err := lag.EffectiveLag(p, r.parsed.Policy); err == nil && r.err != nil {
				effective = strconv.FormatInt(n, 10)
			}
		}
		offsetLag := "-"
		if p.HasOffsetLag {
			offsetLag = strconv.FormatInt(p.OffsetLag, 10)
		}
		tb.row("  "+p.Topic, partitionText(p.Partition), offsetCell(p.Committed), offsetCell(p.LogStart),
			offsetCell(p.LogEnd), offsetLag, effective, count, reason)
	}
	tb.flush()
	if len(ignored) > 0 {
		fmt.Fprintf(buf, "  other topics in the snapshot, not in metadata topic: %s\n", strings.Join(ignored, ", "))
	}
}

// countReason returns why a selected partition counts what it counts, when
// that is not simply log-end minus commit.
func countReason(pl scaler.PartitionLag, t scaler.Trigger) string {
	p := pl.Partition
	if pl.Excluded {
		return fmt.Sprintf("not counted: commit unchanged for %s, persistentLagSeconds %d",
			pl.CommitAge.Round(time.Second), int64(t.PersistentLag/time.Second))
	}
	switch p.Anomaly {
	case lag.NoCommit:
		switch {
		case t.Policy.ScaleToZeroOnInvalidOffset:
			return "no commit: counts 0 (scaleToZeroOnInvalidOffset)"
		case t.Policy.Reset == lag.Earliest:
			return "no commit: counts the whole log (offsetResetPolicy earliest)"
		}
		return "no commit: counts 1, so that a group that never ran gets a consumer (offsetResetPolicy latest)"
	case lag.CommitAheadOfEnd:
		return "commit ahead of log end: counts 0"
	case lag.CommitBelowLogStart:
		if t.Policy.Reset == lag.Earliest {
			return "commit below log start: counts the whole log (offsetResetPolicy earliest)"
		}
		return "commit below log start: counts 0 (offsetResetPolicy latest)"
	case lag.ControlRecordsOnly:
		return "only transaction markers left to read: counts 0"
	}
	if t.Isolation == lag.ReadCommitted && p.StableEnd >= 0 && p.StableEnd < p.LogEnd {
		return fmt.Sprintf("measured to the last stable offset %d", p.StableEnd)
	}
	return ""
}

// uncountedReason returns why a partition of the trigger's topics is not in
// the decision.
func uncountedReason(p lag.Partition, t scaler.Trigger) string {
	switch {
	case !t.SelectsPartition(p.Partition):
		return "not selected by partitionLimitation " + scaler.FormatPartitionRanges(t.Partitions)
	case p.Err != nil:
		return "offsets unknown: " + p.Err.Error()
	}
	return ""
}

// writeReplicas writes the replica count the HPA picks from the triggers'
// metric values, with KEDA's activation rules around it.
func writeReplicas(buf *bytes.Buffer, t *explainTarget, current int) {
	// KEDA gives the HPA a minimum of at least 1 and scales between 0 and
	// that minimum itself, from the triggers' activity.
	hpaMin := max(t.minReplicas, 1)
	fmt.Fprintf(buf, "replicas: minReplicaCount %d, maxReplicaCount %d, so the HPA ranges over %d..%d\n",
		t.minReplicas, t.maxReplicas, hpaMin, t.maxReplicas)

	var decided []*triggerResult
	active := false
	for _, r := range t.results {
		if r.err != nil {
			fmt.Fprintf(buf, "  trigger %d has no metric (error above); the HPA uses the other triggers, if any\n", r.index)
			continue
		}
		decided = append(decided, r)
		active = active || r.decision.Active
	}
	if len(decided) == 0 {
		buf.WriteString("  no trigger has a metric, so no replica count can be derived\n")
		return
	}

	hpaCurrent := current
	switch {
	case current == 0 && !active:
		buf.WriteString("  current 0 and no trigger is active: KEDA keeps the target at 0 replicas\n")
		return
	case current == 0:
		hpaCurrent = hpaMin
		fmt.Fprintf(buf, "  current 0 and a trigger is active: KEDA scales the target to %d, then the HPA decides\n", hpaMin)
	case !active && t.minReplicas == 0:
		buf.WriteString("  no trigger is active: KEDA scales the target to 0 after cooldownPeriod (default 300s); until then the HPA decides\n")
	}

	pick := 0
	for _, r := range decided {
		n := scaler.HPAReplicas(r.decision.Value, r.parsed.LagThreshold, max(hpaCurrent, 0), hpaMin, t.maxReplicas)
		pick = max(pick, n)
		fmt.Fprintf(buf, "  trigger %d: value %s, target %s: %s\n",
			r.index, formatFloat(r.decision.Value), formatFloat(r.parsed.LagThreshold), plural(n, "replica"))
	}
	if hpaCurrent < 0 {
		fmt.Fprintf(buf, "  the HPA picks %s; with --current-replicas it would also apply its 10%% tolerance\n", plural(pick, "replica"))
	} else {
		fmt.Fprintf(buf, "  at %s now, the HPA picks %s (the highest over the triggers)\n",
			plural(hpaCurrent, "replica"), plural(pick, "replica"))
	}
	buf.WriteString("  not modelled: HPA stabilization windows and behavior policies\n")
}

// metadataText lists metadata entries sorted by key.
func metadataText(md map[string]string) string {
	items := make([]string, 0, len(md))
	for _, key := range slices.Sorted(maps.Keys(md)) {
		items = append(items, key+"="+md[key])
	}
	return strings.Join(items, " ")
}

func offsetCell(offset int64) string {
	if offset < 0 {
		return "-"
	}
	return strconv.FormatInt(offset, 10)
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
