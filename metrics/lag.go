package metrics

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagscaler/lagscaler/lag"
)

// EntrySource returns the cached state of every lag query without doing I/O.
// *lag.Cache implements it.
type EntrySource interface {
	Entries() []lag.Entry
}

// LagOptions configures a LagCollector.
type LagOptions struct {
	// PerPartition reports whether the per-partition series of a group are
	// exported. When it returns false, only the topic-level and group-level
	// series of the group are, and the group's snapshots are not used for
	// the topic-partition log offsets. Nil exports per-partition series for
	// every group.
	PerPartition func(cluster, group string) bool
	// MaxAge leaves out the lag series of a snapshot older than this, so that
	// a Kafka outage does not freeze old values in place. The group's
	// lagscaler_snapshot_age_seconds and lagscaler_snapshot_error series stay.
	// Zero exports snapshots of any age.
	MaxAge time.Duration
}

// LagCollector is a prometheus.Collector that exports the snapshots cached by
// an EntrySource on every scrape. A scrape does no I/O.
//
// Two cached queries can cover the same group and topic, for example with
// different topic selections or isolation levels. The series of a (cluster,
// group, topic) then come from the newest snapshot that covers the topic, so
// that per-partition series and their sum agree. Topic-partition series
// (log-start and log-end offsets) come from the newest snapshot that covers
// the topic among the groups with per-partition series.
//
// A LagCollector is safe for concurrent use.
type LagCollector struct {
	src          EntrySource
	perPartition func(cluster, group string) bool
	maxAge       time.Duration
	now          func() time.Time

	offsetLag       *prometheus.Desc
	offsetLagSum    *prometheus.Desc
	committed       *prometheus.Desc
	logEnd          *prometheus.Desc
	logStart        *prometheus.Desc
	effectiveLag    *prometheus.Desc
	effectiveLagSum *prometheus.Desc
	anomalies       *prometheus.Desc
	snapshotAge     *prometheus.Desc
	snapshotError   *prometheus.Desc
	// anomalyNames are the anomaly label values, indexed by lag.Anomaly − 1.
	anomalyNames []string
}

var (
	partitionLabels = []string{"cluster", "consumergroup", "topic", "partition"}
	topicLabels     = []string{"cluster", "consumergroup", "topic"}
	groupLabels     = []string{"cluster", "consumergroup"}
)

// NewLagCollector returns a LagCollector over src and registers it with reg.
// It returns an error when reg rejects the collector, for example because the
// metric names are already registered.
func NewLagCollector(
	reg prometheus.Registerer, src EntrySource, opts LagOptions,
) (*LagCollector, error) {
	c := newLagCollector(src, opts)
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("registering the lag collector: %w", err)
	}
	return c, nil
}

func newLagCollector(src EntrySource, opts LagOptions) *LagCollector {
	c := &LagCollector{
		src:          src,
		perPartition: opts.PerPartition,
		maxAge:       opts.MaxAge,
		now:          time.Now,

		offsetLag: prometheus.NewDesc("kafka_consumergroup_lag",
			"Log-end offset (high watermark) minus committed offset of the consumer group, "+
				"unclamped as kafka-consumer-groups prints it, so a commit ahead of the end is negative. "+
				"Absent for a partition without a commit or with unknown offsets.",
			partitionLabels, nil),
		offsetLagSum: prometheus.NewDesc("kafka_consumergroup_lag_sum",
			"Sum of kafka_consumergroup_lag over the partitions of the topic that have a commit, "+
				"each negative value counted as 0. Absent when no partition has a commit "+
				"or while any partition of the topic has unknown offsets.",
			topicLabels, nil),
		committed: prometheus.NewDesc("kafka_consumergroup_current_offset",
			"Committed offset of the consumer group. Absent for a partition without a commit.",
			partitionLabels, nil),
		logEnd: prometheus.NewDesc("kafka_topic_partition_current_offset",
			"Log-end offset (high watermark) of the partition.",
			[]string{"cluster", "topic", "partition"}, nil),
		logStart: prometheus.NewDesc("kafka_topic_partition_oldest_offset",
			"Log-start offset of the partition.",
			[]string{"cluster", "topic", "partition"}, nil),
		effectiveLag: prometheus.NewDesc("lagscaler_consumergroup_effective_lag",
			"Records the consumer group still has to read on the partition, "+
				"counted with offsetResetPolicy latest and without scaleToZeroOnInvalidOffset; "+
				"a ScaledObject's own count is lagscaler_scaledobject_metric_value.",
			partitionLabels, nil),
		effectiveLagSum: prometheus.NewDesc("lagscaler_consumergroup_effective_lag_sum",
			"Sum of lagscaler_consumergroup_effective_lag over the partitions of the topic. "+
				"Absent while any partition of the topic has unknown offsets.",
			topicLabels, nil),
		anomalies: prometheus.NewDesc("lagscaler_consumergroup_anomaly_partitions",
			"Partitions of the topic whose commit is missing or outside the log, "+
				"or whose offsets are unknown, by anomaly. "+
				"Every anomaly is exported, with 0 where no partition shows it.",
			append(append([]string(nil), topicLabels...), "anomaly"), nil),
		snapshotAge: prometheus.NewDesc("lagscaler_snapshot_age_seconds",
			"Seconds since the commits of the newest successful lag snapshot "+
				"of the consumer group were read.",
			groupLabels, nil),
		snapshotError: prometheus.NewDesc("lagscaler_snapshot_error",
			"1 when the newest lag read of the consumer group failed, 0 when it succeeded.",
			groupLabels, nil),
	}
	for _, a := range lag.Anomalies() {
		c.anomalyNames = append(c.anomalyNames, a.String())
	}
	return c
}

// Describe sends the descriptors of every series the collector exports.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.offsetLag, c.offsetLagSum, c.committed, c.logEnd, c.logStart,
		c.effectiveLag, c.effectiveLagSum, c.anomalies, c.snapshotAge, c.snapshotError,
	} {
		ch <- d
	}
}

// Collect exports the state of every cached query.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	sel := c.selectSnapshots(c.src.Entries(), now)

	for key, g := range sel.groups {
		ch <- gauge(c.snapshotError, boolToFloat(g.failed), key.cluster, key.group)
		if !g.newest.IsZero() {
			ch <- gauge(c.snapshotAge, now.Sub(g.newest).Seconds(), key.cluster, key.group)
		}
	}
	for key, rows := range sel.topics {
		perPartition := sel.groups[groupKey{key.cluster, key.group}].perPartition
		c.collectTopic(ch, key, rows.partitions, perPartition)
	}
	for key, rows := range sel.logs {
		c.collectLog(ch, key, rows.partitions)
	}
}

type groupKey struct{ cluster, group string }

type groupState struct {
	perPartition bool
	failed       bool
	// newest is the TakenAt of the group's newest snapshot, zero before the
	// first successful read.
	newest time.Time
}

type topicKey struct{ cluster, group, topic string }

type logKey struct{ cluster, topic string }

// topicRows are the partitions of one topic in one snapshot.
type topicRows struct {
	takenAt    time.Time
	partitions []lag.Partition
}

type selection struct {
	groups map[groupKey]*groupState
	topics map[topicKey]topicRows
	logs   map[logKey]topicRows
}

// selectSnapshots picks, for each group and topic, the rows of the newest
// snapshot that covers it, and does the same for each topic's log offsets.
func (c *LagCollector) selectSnapshots(entries []lag.Entry, now time.Time) selection {
	sel := selection{
		groups: make(map[groupKey]*groupState),
		topics: make(map[topicKey]topicRows),
		logs:   make(map[logKey]topicRows),
	}
	for _, e := range entries {
		gk := groupKey{e.Query.Cluster, e.Query.Group}
		g := sel.groups[gk]
		if g == nil {
			g = &groupState{perPartition: c.perPartition == nil || c.perPartition(gk.cluster, gk.group)}
			sel.groups[gk] = g
		}
		if e.Err != nil {
			g.failed = true
		}

		s := e.Snapshot
		if s == nil {
			continue
		}
		if s.TakenAt.After(g.newest) {
			g.newest = s.TakenAt
		}
		if c.maxAge > 0 && now.Sub(s.TakenAt) > c.maxAge {
			continue
		}
		forEachTopic(s.Partitions, func(topic string, rows []lag.Partition) {
			keepNewer(sel.topics, topicKey{gk.cluster, gk.group, topic}, topicRows{s.TakenAt, rows})
			if g.perPartition {
				keepNewer(sel.logs, logKey{gk.cluster, topic}, topicRows{s.TakenAt, rows})
			}
		})
	}
	return sel
}

// forEachTopic calls fn with each run of partitions of one topic. rows must be
// sorted by topic, as Snapshot.Partitions is.
func forEachTopic(rows []lag.Partition, fn func(topic string, rows []lag.Partition)) {
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].Topic == rows[start].Topic {
			end++
		}
		fn(rows[start].Topic, rows[start:end])
		start = end
	}
}

func keepNewer[K comparable](m map[K]topicRows, key K, rows topicRows) {
	if cur, ok := m[key]; !ok || rows.takenAt.After(cur.takenAt) {
		m[key] = rows
	}
}

// collectTopic exports the series of one group on one topic.
func (c *LagCollector) collectTopic(
	ch chan<- prometheus.Metric, key topicKey, rows []lag.Partition, perPartition bool,
) {
	var offsetLagSum, effectiveLagSum float64
	withOffsetLag := 0
	allKnown := true
	anomalies := make([]int, len(c.anomalyNames)+1)

	for _, p := range rows {
		if int(p.Anomaly) < len(anomalies) {
			anomalies[p.Anomaly]++
		}
		effective, err := lag.EffectiveLag(p, lag.Policy{})
		known := err == nil
		if known {
			effectiveLagSum += float64(effective)
			if p.HasOffsetLag {
				// A commit ahead of a stale end offset must not lower the
				// sum.
				offsetLagSum += float64(max(p.OffsetLag, 0))
				withOffsetLag++
			}
		} else {
			// A partial sum would understate the lag, so the sums are left
			// out until every partition is known again.
			allKnown = false
		}
		// A topic whose metadata failed has one row with partition -1.
		if perPartition && p.Partition >= 0 {
			c.collectPartition(ch, key, p, effective, known)
		}
	}

	if allKnown && withOffsetLag > 0 {
		ch <- gauge(c.offsetLagSum, offsetLagSum, key.cluster, key.group, key.topic)
	}
	if allKnown {
		ch <- gauge(c.effectiveLagSum, effectiveLagSum, key.cluster, key.group, key.topic)
	}
	// anomalies[0] counts lag.NoAnomaly, which lag.Anomalies leaves out.
	for i, name := range c.anomalyNames {
		ch <- gauge(c.anomalies, float64(anomalies[i+1]), key.cluster, key.group, key.topic, name)
	}
}

// collectPartition exports the per-partition series of p. effective is used
// only when known is set.
func (c *LagCollector) collectPartition(
	ch chan<- prometheus.Metric, key topicKey, p lag.Partition, effective int64, known bool,
) {
	partition := strconv.Itoa(int(p.Partition))
	if p.HasOffsetLag {
		ch <- gauge(c.offsetLag, float64(p.OffsetLag), key.cluster, key.group, key.topic, partition)
	}
	if p.Committed >= 0 {
		ch <- gauge(c.committed, float64(p.Committed), key.cluster, key.group, key.topic, partition)
	}
	if known {
		ch <- gauge(c.effectiveLag, float64(effective), key.cluster, key.group, key.topic, partition)
	}
}

// collectLog exports the log-start and log-end offsets of a topic's
// partitions where they are known.
func (c *LagCollector) collectLog(ch chan<- prometheus.Metric, key logKey, rows []lag.Partition) {
	for _, p := range rows {
		// A topic whose metadata failed has one row with partition -1.
		if p.Partition < 0 {
			continue
		}
		partition := strconv.Itoa(int(p.Partition))
		if p.LogEnd >= 0 {
			ch <- gauge(c.logEnd, float64(p.LogEnd), key.cluster, key.topic, partition)
		}
		if p.LogStart >= 0 {
			ch <- gauge(c.logStart, float64(p.LogStart), key.cluster, key.topic, partition)
		}
	}
}

// gauge returns a constant gauge sample. The descriptors of this package
// are built with the matching label names, so a mismatch is a programming
// error and panics.
func gauge(desc *prometheus.Desc, value float64, labelValues ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, value, labelValues...)
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
