package scaler

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lagscaler/lagscaler/lag"
)

// Trigger metadata keys. The first group has the names and meanings of KEDA's
// kafka trigger. The second group is lagscaler's own.
const (
	KeyBootstrapServers                   = "bootstrapServers"
	KeyConsumerGroup                      = "consumerGroup"
	KeyTopic                              = "topic"
	KeyPartitionLimitation                = "partitionLimitation"
	KeyLagThreshold                       = "lagThreshold"
	KeyActivationLagThreshold             = "activationLagThreshold"
	KeyOffsetResetPolicy                  = "offsetResetPolicy"
	KeyAllowIdleConsumers                 = "allowIdleConsumers"
	KeyExcludePersistentLag               = "excludePersistentLag"
	KeyScaleToZeroOnInvalidOffset         = "scaleToZeroOnInvalidOffset"
	KeyLimitToPartitionsWithLag           = "limitToPartitionsWithLag"
	KeyEnsureEvenDistributionOfPartitions = "ensureEvenDistributionOfPartitions"

	KeyCluster                 = "cluster"
	KeyTaskSlotsPerTaskManager = "taskSlotsPerTaskManager"
	KeyIsolationLevel          = "isolationLevel"
	KeyPersistentLagSeconds    = "persistentLagSeconds"
)

// Defaults of the trigger metadata.
const (
	// DefaultLagThreshold is the target lag per replica, as in KEDA's kafka
	// trigger.
	DefaultLagThreshold = 10
	// DefaultPersistentLag is how long a commit must stay unchanged before
	// excludePersistentLag stops counting the partition's lag. KEDA's kafka
	// trigger compares commits between two polls instead, but Flink commits
	// only when a checkpoint completes, so a per-poll comparison would drop
	// the lag of every partition between two checkpoints.
	DefaultPersistentLag = 300 * time.Second
	// MinLagThreshold is the smallest lagThreshold. KEDA v2.21.0 hands the
	// target to the HPA with three decimals, so a smaller one becomes 0.
	MinLagThreshold = 0.001
	// MaxLagThreshold is the largest lagThreshold and activationLagThreshold.
	// KEDA's GetMetricTargetMili converts the target to int64(target*1000)
	// milli-units for a resource.Quantity, which overflows above about
	// 9.2e15. Up to 1e15 every whole number is exact in float64 (exact up to
	// 2^53, about 9.007e15), so a threshold survives the conversions to
	// int64 and back unchanged.
	MaxLagThreshold = 1e15
	// MaxGroupLength is the longest consumerGroup in bytes. Kafka sets no
	// limit below the 32767 bytes of its protocol's STRING type. But
	// lagscaler sends the group ID in the OffsetFetch and DescribeGroups
	// requests of every refresh and repeats it in logs, metric labels and
	// errors, so it accepts only IDs of a length people use.
	MaxGroupLength = 1024
)

// fromEnvSuffix marks a key whose value KEDA took from an environment variable
// of the scale target's container.
const fromEnvSuffix = "FromEnv"

// triggerKeys lists every key ParseMetadata reads, in the order error messages
// list them.
var triggerKeys = []string{
	KeyCluster, KeyBootstrapServers, KeyConsumerGroup, KeyTopic,
	KeyPartitionLimitation, KeyLagThreshold, KeyActivationLagThreshold,
	KeyOffsetResetPolicy, KeyIsolationLevel, KeyAllowIdleConsumers,
	KeyExcludePersistentLag, KeyPersistentLagSeconds,
	KeyScaleToZeroOnInvalidOffset, KeyLimitToPartitionsWithLag,
	KeyEnsureEvenDistributionOfPartitions, KeyTaskSlotsPerTaskManager,
}

// kedaConnectionKeys are the keys KEDA reads for its own gRPC connection to
// an external scaler (KEDA v2.21.0, pkg/scalers/external_scaler.go). KEDA
// forwards the whole trigger metadata, so they arrive here and are ignored.
var kedaConnectionKeys = []string{
	"scalerAddress", "enableTLS", "unsafeSsl", "caCert", "tlsClientCert", "tlsClientKey",
}

// credentialKeys are the authentication keys of KEDA's kafka trigger,
// including the AWS keys it reads for MSK IAM.
var credentialKeys = []string{
	"tls", "ca", "cert", "key", "keyPassword",
	"sasl", "username", "password",
	"saslTokenProvider", "scopes", "oauthTokenEndpointUri", "oauthExtensions",
	"keytab", "ccacheName", "realm", "kerberosConfig", "kerberosServiceName",
	"kerberosDisableFAST",
	"awsRegion", "awsRoleArn", "awsAccessKeyID", "awsAccessKeyId",
	"awsSecretAccessKey", "awsSessionToken", "identityOwner",
}

// unusedKafkaKeys are other keys of KEDA's kafka trigger, with the reason
// lagscaler has no use for them.
var unusedKafkaKeys = map[string]string{
	"version":      "lagscaler's Kafka client negotiates protocol versions with the brokers",
	"fullMetadata": "lagscaler requests metadata only for the topics it measures",
}

// Cluster is a Kafka cluster configured in lagscaler. Triggers can select it
// by Name or by naming its bootstrap servers.
type Cluster struct {
	Name             string
	BootstrapServers []string
}

// PartitionRange is an inclusive range of partition numbers.
type PartitionRange struct {
	First, Last int32
}

// Trigger is the parsed metadata of one ScaledObject trigger.
type Trigger struct {
	// Cluster is the name of the configured cluster to query.
	Cluster string
	// Group is the consumer group ID.
	Group string
	// Topics are the topics to measure, sorted and without duplicates. Empty
	// means every topic the group has commits for.
	Topics []string
	// Partitions limits the single topic to these partitions, sorted and
	// merged. Nil means every partition.
	Partitions []PartitionRange

	// LagThreshold is the target lag per replica (the HPA's AverageValue).
	LagThreshold float64
	// ActivationLagThreshold is the lag at or below which the workload is
	// inactive.
	ActivationLagThreshold float64

	// Policy is the counting rule for partitions without a usable commit.
	Policy lag.Policy
	// Isolation selects the end offset that lag is measured against.
	Isolation lag.Isolation

	AllowIdleConsumers                 bool
	ExcludePersistentLag               bool
	LimitToPartitionsWithLag           bool
	EnsureEvenDistributionOfPartitions bool

	// PersistentLag is how long a commit must stay unchanged before
	// ExcludePersistentLag stops counting its partition.
	PersistentLag time.Duration
	// TaskSlotsPerTaskManager is the number of Flink task slots per replica,
	// or 0 when the key is unset, which counts as 1.
	TaskSlotsPerTaskManager int32
}

// Slots returns the task slots per replica: TaskSlotsPerTaskManager, or 1
// when it is unset.
func (t Trigger) Slots() int64 {
	return max(int64(t.TaskSlotsPerTaskManager), 1)
}

// Query returns the lag query for the trigger.
func (t Trigger) Query() lag.Query {
	return lag.Query{
		Cluster:   t.Cluster,
		Group:     t.Group,
		Topics:    slices.Clone(t.Topics),
		Isolation: t.Isolation,
	}.Normalize()
}

// SelectsPartition reports whether partition p is inside the
// partitionLimitation, which is true for every partition when it is unset.
// It binary-searches Partitions, which must be sorted and merged as
// ParseMetadata returns them.
func (t Trigger) SelectsPartition(p int32) bool {
	if t.Partitions == nil {
		return true
	}
	// The first range that does not end before p is the only one that can
	// contain it.
	i := sort.Search(len(t.Partitions), func(i int) bool { return t.Partitions[i].Last >= p })
	return i < len(t.Partitions) && t.Partitions[i].First <= p
}

// MetadataError is one problem with one trigger metadata key. The error of
// ParseMetadata unwraps to up to 10 of them; find one with errors.As.
type MetadataError struct {
	// Key is the metadata key as the trigger spells it.
	Key string
	// Value is the offending value, or "" when it must not be repeated
	// (credentials, unknown keys) or the key is missing.
	Value string
	// Problem describes what is wrong and what is allowed.
	Problem string
}

// Error returns the key, the quoted value and the problem. It repeats at most
// 100 bytes of a long key or value, followed by its full length.
func (e *MetadataError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("metadata %s: %s", formatKey(e.Key), e.Problem)
	}
	return fmt.Sprintf("metadata %s=%s: %s", formatKey(e.Key), quote(e.Value), e.Problem)
}

// ParseMetadata parses and validates the metadata of a trigger against the
// configured clusters. Values are trimmed and an empty value counts as unset,
// as in KEDA. A key ending in FromEnv supplies the value of the key without
// the suffix when that key is unset. On failure it returns an error that
// unwraps to the first 10 problems, each a *MetadataError, and whose message
// lists them and counts the others within about 3 KB.
func ParseMetadata(md map[string]string, clusters ...Cluster) (Trigger, error) {
	p := &parser{values: map[string]string{}, names: map[string]string{}}
	p.collect(md)

	t := Trigger{
		Cluster:                p.cluster(clusters),
		Group:                  p.group(),
		Topics:                 p.topics(),
		LagThreshold:           p.lagThreshold(),
		ActivationLagThreshold: p.activationLagThreshold(),
		Policy: lag.Policy{
			Reset:                      p.resetPolicy(),
			ScaleToZeroOnInvalidOffset: p.boolean(KeyScaleToZeroOnInvalidOffset),
		},
		Isolation:                          p.isolation(),
		AllowIdleConsumers:                 p.boolean(KeyAllowIdleConsumers),
		ExcludePersistentLag:               p.boolean(KeyExcludePersistentLag),
		LimitToPartitionsWithLag:           p.boolean(KeyLimitToPartitionsWithLag),
		EnsureEvenDistributionOfPartitions: p.boolean(KeyEnsureEvenDistributionOfPartitions),
		PersistentLag:                      p.persistentLag(),
		TaskSlotsPerTaskManager:            p.taskSlots(),
	}
	t.Partitions = p.partitions(t.Topics)
	p.combinations(t)

	if len(p.errs) > 0 {
		return Trigger{}, &metadataProblems{problems: p.errs, omitted: p.omitted}
	}
	return t, nil
}

// parser collects the values of one metadata map and every problem found.
type parser struct {
	// values maps each known key to its trimmed, non-empty value.
	values map[string]string
	// names maps a known key to the key its value came from, which differs
	// for values taken from a FromEnv key.
	names map[string]string
	// errs are the first maxListedItems problems, and omitted counts the
	// others.
	errs    []error
	omitted int
	// listedAllowedKeys is set once a kept problem lists the allowed keys.
	listedAllowedKeys bool
}

// fail records a problem and reports whether it is among those kept.
func (p *parser) fail(key, value, problem string) bool {
	if len(p.errs) == maxListedItems {
		p.omitted++
		return false
	}
	p.errs = append(p.errs, &MetadataError{Key: key, Value: value, Problem: problem})
	return true
}

// failKey reports a problem with the value of a known key under the name the
// trigger used for it.
func (p *parser) failKey(key, problem string) {
	p.fail(p.names[key], p.values[key], problem)
}

// collect sorts every key of md into p.values or a problem. Keys are visited
// in sorted order so that errors come out in a stable order.
func (p *parser) collect(md map[string]string) {
	fromEnv := map[string]string{}
	for _, key := range sortedKeys(md) {
		value := strings.TrimSpace(md[key])
		base, isFromEnv := strings.CutSuffix(key, fromEnvSuffix)
		switch {
		case slices.Contains(triggerKeys, key):
			if value != "" {
				p.values[key] = value
				p.names[key] = key
			}
		case isFromEnv && slices.Contains(triggerKeys, base):
			if value != "" {
				fromEnv[base] = value
			}
		case slices.Contains(kedaConnectionKeys, key),
			isFromEnv && slices.Contains(kedaConnectionKeys, base):
			// KEDA's own settings for its connection to this scaler.
		case slices.Contains(credentialKeys, key), isFromEnv && slices.Contains(credentialKeys, base):
			p.fail(key, "", "Kafka credentials are not read from trigger metadata; "+
				"configure them in lagscaler's cluster configuration and remove this key")
		case unusedKafkaKeys[key] != "":
			p.fail(key, "", "not used: "+unusedKafkaKeys[key]+"; remove this key")
		case isFromEnv:
			// KEDA resolved it from the container's environment. It may serve
			// another tool reading the same ScaledObject, so it is not an error.
		default:
			p.failUnknownKey(key)
		}
	}

	// KEDA reads a key before its FromEnv form, so the plain key wins.
	for base, value := range fromEnv {
		if _, ok := p.values[base]; !ok {
			p.values[base] = value
			p.names[base] = base + fromEnvSuffix
		}
	}
}

// failUnknownKey reports an unknown key. Only the first such problem lists
// the allowed keys, so that the error stays short however many keys are
// unknown.
func (p *parser) failUnknownKey(key string) {
	for _, known := range triggerKeys {
		if strings.EqualFold(key, known) {
			p.fail(key, "", fmt.Sprintf("unknown key; keys are case-sensitive, did you mean %s?", known))
			return
		}
	}
	if p.listedAllowedKeys {
		p.fail(key, "", "unknown key")
		return
	}
	p.listedAllowedKeys = p.fail(key, "", fmt.Sprintf(
		"unknown key; allowed keys are %s, each also as <key>%s, and KEDA's own %s",
		strings.Join(triggerKeys, ", "), fromEnvSuffix, strings.Join(kedaConnectionKeys, ", ")))
}

func (p *parser) group() string {
	value, ok := p.values[KeyConsumerGroup]
	switch {
	case !ok:
		p.fail(KeyConsumerGroup, "", "required")
	case len(value) > MaxGroupLength:
		p.failKey(KeyConsumerGroup, fmt.Sprintf("longer than %d bytes, lagscaler's limit for "+
			"consumer group IDs", MaxGroupLength))
	}
	return value
}

func (p *parser) boolean(key string) bool {
	value, ok := p.values[key]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(value)
	if err != nil {
		p.failKey(key, "invalid boolean; use true or false")
	}
	return b
}

// number parses a finite decimal number. ok is false when the key is unset or
// invalid.
func (p *parser) number(key string) (n float64, ok bool) {
	value, set := p.values[key]
	if !set {
		return 0, false
	}
	n, err := strconv.ParseFloat(value, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		p.failKey(key, "invalid number; use a finite decimal number such as 10 or 2.5")
		return 0, false
	}
	return n, true
}

func (p *parser) lagThreshold() float64 {
	n, ok := p.number(KeyLagThreshold)
	if !ok {
		return DefaultLagThreshold
	}
	switch {
	case n < MinLagThreshold:
		p.failKey(KeyLagThreshold, fmt.Sprintf("must be at least %g, the smallest target "+
			"KEDA passes on to the HPA", MinLagThreshold))
	case n > MaxLagThreshold:
		p.failKey(KeyLagThreshold, fmt.Sprintf("must be at most %g, the largest target "+
			"KEDA converts to a Kubernetes quantity without overflow", MaxLagThreshold))
	}
	return n
}

func (p *parser) activationLagThreshold() float64 {
	n, ok := p.number(KeyActivationLagThreshold)
	switch {
	case !ok:
		return 0
	case n < 0:
		p.failKey(KeyActivationLagThreshold, "must be 0 or greater")
	case n > MaxLagThreshold:
		p.failKey(KeyActivationLagThreshold, fmt.Sprintf("must be at most %g, the same limit as "+
			"lagThreshold", MaxLagThreshold))
	}
	return n
}

func (p *parser) resetPolicy() lag.ResetPolicy {
	switch p.values[KeyOffsetResetPolicy] {
	case "", "latest":
		return lag.Latest
	case "earliest":
		return lag.Earliest
	}
	p.failKey(KeyOffsetResetPolicy, "invalid policy; use latest or earliest")
	return lag.Latest
}

func (p *parser) isolation() lag.Isolation {
	switch p.values[KeyIsolationLevel] {
	case "", lag.ReadUncommitted.String():
		return lag.ReadUncommitted
	case lag.ReadCommitted.String():
		return lag.ReadCommitted
	}
	p.failKey(KeyIsolationLevel, "invalid isolation level; use read_uncommitted or read_committed")
	return lag.ReadUncommitted
}

// maxPersistentLagSeconds keeps PersistentLag within time.Duration.
const maxPersistentLagSeconds = math.MaxInt64 / int64(time.Second)

func (p *parser) persistentLag() time.Duration {
	value, ok := p.values[KeyPersistentLagSeconds]
	if !ok {
		return DefaultPersistentLag
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n < 1 || n > maxPersistentLagSeconds {
		p.failKey(KeyPersistentLagSeconds, fmt.Sprintf(
			"invalid duration; use a whole number of seconds from 1 to %d", maxPersistentLagSeconds))
		return DefaultPersistentLag
	}
	return time.Duration(n) * time.Second
}

func (p *parser) taskSlots() int32 {
	value, ok := p.values[KeyTaskSlotsPerTaskManager]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(value, 10, 32)
	if err != nil || n < 1 {
		p.failKey(KeyTaskSlotsPerTaskManager, fmt.Sprintf(
			"invalid slot count; use a whole number from 1 to %d", math.MaxInt32))
		return 0
	}
	return int32(n)
}

// combinations rejects settings that contradict each other. The first four
// rules are KEDA's, and the others reject what KEDA silently ignores.
func (p *parser) combinations(t Trigger) {
	if t.AllowIdleConsumers && t.LimitToPartitionsWithLag {
		p.failKey(KeyLimitToPartitionsWithLag, "cannot be combined with allowIdleConsumers=true, "+
			"which lifts the cap on replicas that this key lowers")
	}
	if t.LimitToPartitionsWithLag && t.EnsureEvenDistributionOfPartitions {
		p.failKey(KeyLimitToPartitionsWithLag, "cannot be combined with "+
			"ensureEvenDistributionOfPartitions=true; set at most one of them")
	}
	if t.LimitToPartitionsWithLag && !p.has(KeyTopic) {
		p.failKey(KeyLimitToPartitionsWithLag, "requires topic to be set")
	}
	if t.EnsureEvenDistributionOfPartitions && !p.has(KeyTopic) {
		p.failKey(KeyEnsureEvenDistributionOfPartitions, "requires topic to be set")
	}
	if t.AllowIdleConsumers && t.EnsureEvenDistributionOfPartitions {
		p.failKey(KeyEnsureEvenDistributionOfPartitions, "cannot be combined with "+
			"allowIdleConsumers=true, because even distribution caps replicas at the partition count")
	}
	if p.has(KeyPersistentLagSeconds) && !t.ExcludePersistentLag {
		p.failKey(KeyPersistentLagSeconds, "has no effect unless excludePersistentLag=true; "+
			"set excludePersistentLag or remove this key")
	}
}

func (p *parser) has(key string) bool {
	_, ok := p.values[key]
	return ok
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
