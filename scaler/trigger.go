package scaler

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Metadata returns the canonical metadata of t: every setting spelled out,
// numbers in their shortest form, topics sorted and partition ranges merged.
// ParseMetadata on the result, with the same clusters, returns t again.
func (t Trigger) Metadata() map[string]string {
	md := map[string]string{
		KeyCluster:                            t.Cluster,
		KeyConsumerGroup:                      t.Group,
		KeyLagThreshold:                       formatNumber(t.LagThreshold),
		KeyActivationLagThreshold:             formatNumber(t.ActivationLagThreshold),
		KeyOffsetResetPolicy:                  t.Policy.Reset.String(),
		KeyIsolationLevel:                     t.Isolation.String(),
		KeyScaleToZeroOnInvalidOffset:         strconv.FormatBool(t.Policy.ScaleToZeroOnInvalidOffset),
		KeyAllowIdleConsumers:                 strconv.FormatBool(t.AllowIdleConsumers),
		KeyExcludePersistentLag:               strconv.FormatBool(t.ExcludePersistentLag),
		KeyLimitToPartitionsWithLag:           strconv.FormatBool(t.LimitToPartitionsWithLag),
		KeyEnsureEvenDistributionOfPartitions: strconv.FormatBool(t.EnsureEvenDistributionOfPartitions),
	}
	if len(t.Topics) > 0 {
		md[KeyTopic] = strings.Join(t.Topics, ",")
	}
	if t.Partitions != nil {
		md[KeyPartitionLimitation] = FormatPartitionRanges(t.Partitions)
	}
	// ParseMetadata rejects persistentLagSeconds without excludePersistentLag.
	if t.ExcludePersistentLag {
		md[KeyPersistentLagSeconds] = strconv.FormatInt(int64(t.PersistentLag/time.Second), 10)
	}
	if t.TaskSlotsPerTaskManager > 0 {
		md[KeyTaskSlotsPerTaskManager] = strconv.Itoa(int(t.TaskSlotsPerTaskManager))
	}
	return md
}

func formatNumber(n float64) string {
	return strconv.FormatFloat(n, 'g', -1, 64)
}

// MaxMetricNameLength leaves room for KEDA's "s<index>-" prefix within the
// 63 characters of a DNS label for trigger indexes up to 99.
const MaxMetricNameLength = 59

// metricNamePrefix starts every metric name with a letter, as a DNS label
// must.
const metricNamePrefix = "lag-"

// MetricName returns the name of the trigger's metric: "lag-", the group name
// reduced to lowercase letters, digits and dashes, then 8 hex digits of a
// SHA-256 of the cluster, group and topics. The hash keeps names of groups
// that reduce to the same text apart. The name is a DNS label of at most
// MaxMetricNameLength characters and is the same for equal cluster, group
// and topics.
func (t Trigger) MetricName() string {
	sum := sha256.Sum256([]byte(t.Cluster + "\x00" + t.Group + "\x00" + strings.Join(t.Topics, ",")))
	hash := hex.EncodeToString(sum[:4])

	room := MaxMetricNameLength - len(metricNamePrefix) - len("-") - len(hash)
	group := sanitizeLabel(t.Group)
	if len(group) > room {
		group = strings.TrimRight(group[:room], "-")
	}
	if group == "" {
		return metricNamePrefix + hash
	}
	return metricNamePrefix + group + "-" + hash
}

// sanitizeLabel lowercases s, replaces every run of characters other than
// a-z and 0-9 with one dash and trims dashes from both ends.
func sanitizeLabel(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}
