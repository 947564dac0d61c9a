package scaler

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lagscaler/lagscaler/lag"
)

// cluster picks the configured cluster named by the cluster and
// bootstrapServers keys. The scaler never connects to servers named in
// metadata: bootstrapServers only selects a configured cluster.
func (p *parser) cluster(clusters []Cluster) string {
	if len(clusters) == 0 {
		p.fail(KeyCluster, "", "lagscaler has no Kafka cluster configured")
		return ""
	}
	names := clusterNames(clusters)

	var chosen *Cluster
	if name, ok := p.values[KeyCluster]; ok {
		i := slices.IndexFunc(clusters, func(c Cluster) bool { return c.Name == name })
		if i < 0 {
			p.failKey(KeyCluster, "unknown cluster; configured clusters are "+names)
			return ""
		}
		chosen = &clusters[i]
	}

	if !p.has(KeyBootstrapServers) {
		switch {
		case chosen != nil:
			return chosen.Name
		case len(clusters) == 1:
			return clusters[0].Name
		}
		p.fail(KeyCluster, "", "required when lagscaler has more than one cluster; "+
			"configured clusters are "+names)
		return ""
	}

	servers, ok := p.serverList()
	if !ok {
		return ""
	}
	if chosen != nil {
		if !serversWithin(servers, chosen.BootstrapServers) {
			p.failKey(KeyBootstrapServers, fmt.Sprintf("not among the bootstrap servers of cluster %q; "+
				"remove this key or list only that cluster's servers", chosen.Name))
			return ""
		}
		return chosen.Name
	}
	for _, c := range clusters {
		if serversWithin(servers, c.BootstrapServers) {
			return c.Name
		}
	}
	p.failKey(KeyBootstrapServers, "matches no configured cluster, and lagscaler connects only to "+
		"the clusters it is configured with ("+names+"); set cluster instead")
	return ""
}

// serverList splits the bootstrapServers value into trimmed items.
func (p *parser) serverList() ([]string, bool) {
	var servers []string
	for item := range strings.SplitSeq(p.values[KeyBootstrapServers], ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.failKey(KeyBootstrapServers, "empty item; separate host:port pairs with single commas")
			return nil, false
		}
		servers = append(servers, item)
	}
	return servers, true
}

// serversWithin reports whether every server is one of configured. Host
// names are compared case-insensitively, as DNS does.
func serversWithin(servers, configured []string) bool {
	for _, s := range servers {
		if !slices.ContainsFunc(configured, func(c string) bool { return strings.EqualFold(s, c) }) {
			return false
		}
	}
	return true
}

func clusterNames(clusters []Cluster) string {
	names := make([]string, len(clusters))
	for i, c := range clusters {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// parseItems splits the value of key at commas and parses each trimmed item
// with parse, which returns a problem or "". It records every problem and
// returns nil when there was one, or when key is unset.
func parseItems[T any](p *parser, key string, parse func(item string) (T, string)) []T {
	value, ok := p.values[key]
	if !ok {
		return nil
	}
	var items []T
	valid := true
	for item := range strings.SplitSeq(value, ",") {
		parsed, problem := parse(strings.TrimSpace(item))
		if problem != "" {
			p.failKey(key, problem)
			valid = false
			continue
		}
		items = append(items, parsed)
	}
	if !valid {
		return nil
	}
	return items
}

// topics parses the topic key, which is one topic or a comma-separated list.
// It returns the topics sorted and without duplicates, or nil when any item is
// invalid.
func (p *parser) topics() []string {
	topics := parseItems(p, KeyTopic, func(item string) (string, string) {
		return item, topicNameProblem(item)
	})
	slices.Sort(topics)
	return slices.Compact(topics)
}

// topicNameProblem returns the reason name is not a legal Kafka topic name,
// or "" when it is legal.
func topicNameProblem(name string) string {
	if name == "" {
		return "empty item; separate topic names with single commas"
	}
	if err := lag.CheckTopicName(name); err != nil {
		return fmt.Sprintf("topic %s is not a legal Kafka topic name: %v", quote(name), err)
	}
	return ""
}

// partitions parses partitionLimitation, a comma-separated list of partition
// numbers and inclusive ranges such as "1,2,10-20". The ranges are kept as
// ranges, so a huge range costs no memory.
func (p *parser) partitions(topics []string) []PartitionRange {
	if !p.has(KeyPartitionLimitation) {
		return nil
	}
	switch {
	case !p.has(KeyTopic):
		p.failKey(KeyPartitionLimitation, "requires topic to name exactly one topic, "+
			"because partition numbers are per topic")
	case len(topics) > 1:
		p.failKey(KeyPartitionLimitation, fmt.Sprintf("requires topic to name exactly one topic, "+
			"because partition numbers are per topic, but it names %d", len(topics)))
	}

	ranges := parseItems(p, KeyPartitionLimitation, parsePartitionRange)
	if ranges == nil {
		return nil
	}
	return mergeRanges(ranges)
}

func parsePartitionRange(item string) (PartitionRange, string) {
	if item == "" {
		return PartitionRange{}, "empty item; separate partitions and ranges with single commas"
	}
	lo, hi, isRange := strings.Cut(item, "-")
	if !isRange {
		hi = lo
	}
	first, okFirst := parsePartition(strings.TrimSpace(lo))
	last, okLast := parsePartition(strings.TrimSpace(hi))
	if !okFirst || !okLast {
		return PartitionRange{}, fmt.Sprintf("invalid item %s; use partition numbers from 0 to "+
			"2147483647 and ranges such as 10-20", quote(item))
	}
	if first > last {
		return PartitionRange{}, fmt.Sprintf("invalid range %s; the first partition must not "+
			"exceed the last", quote(item))
	}
	return PartitionRange{First: first, Last: last}, ""
}

// parsePartition parses a partition number. ParseUint rejects signs, so "-1"
// and "+1" are invalid.
func parsePartition(s string) (int32, bool) {
	n, err := strconv.ParseUint(s, 10, 31)
	return int32(n), err == nil
}

// mergeRanges sorts ranges and merges the ones that overlap or touch.
func mergeRanges(ranges []PartitionRange) []PartitionRange {
	slices.SortFunc(ranges, func(a, b PartitionRange) int { return cmp.Compare(a.First, b.First) })
	merged := ranges[:1]
	for _, r := range ranges[1:] {
		last := &merged[len(merged)-1]
		if int64(r.First) <= int64(last.Last)+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		merged = append(merged, r)
	}
	return slices.Clip(merged)
}

// FormatPartitionRanges returns ranges in partitionLimitation syntax, such as
// "1-2,10-20".
func FormatPartitionRanges(ranges []PartitionRange) string {
	items := make([]string, len(ranges))
	for i, r := range ranges {
		items[i] = strconv.Itoa(int(r.First))
		if r.Last != r.First {
			items[i] += "-" + strconv.Itoa(int(r.Last))
		}
	}
	return strings.Join(items, ",")
}
