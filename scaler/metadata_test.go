package scaler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lagscaler/lagscaler/lag"
)

var (
	mainCluster   = Cluster{Name: "main", BootstrapServers: []string{"kafka-0:9092", "kafka-1:9092"}}
	backupCluster = Cluster{Name: "backup", BootstrapServers: []string{"backup-0:9092"}}
)

// defaultTrigger returns the trigger that metadata with only consumerGroup
// parses to on the main cluster.
func defaultTrigger() Trigger {
	return Trigger{
		Cluster:       "main",
		Group:         "orders-flink",
		LagThreshold:  DefaultLagThreshold,
		PersistentLag: DefaultPersistentLag,
	}
}

func TestParseMetadataValid(t *testing.T) {
	tests := []struct {
		name     string
		md       map[string]string
		clusters []Cluster
		want     func(*Trigger)
	}{
		{
			name:     "defaults with one cluster",
			md:       map[string]string{"consumerGroup": "orders-flink"},
			clusters: []Cluster{mainCluster},
			want:     func(*Trigger) {},
		},
		{
			name:     "cluster by name",
			md:       map[string]string{"consumerGroup": "orders-flink", "cluster": "backup"},
			clusters: []Cluster{mainCluster, backupCluster},
			want:     func(t *Trigger) { t.Cluster = "backup" },
		},
		{
			name: "cluster by bootstrap servers in any order and case",
			md: map[string]string{
				"consumerGroup":    "orders-flink",
				"bootstrapServers": " KAFKA-1:9092 , kafka-0:9092",
			},
			clusters: []Cluster{backupCluster, mainCluster},
			want:     func(*Trigger) {},
		},
		{
			name: "bootstrap servers subset of named cluster",
			md: map[string]string{
				"consumerGroup":    "orders-flink",
				"cluster":          "main",
				"bootstrapServers": "kafka-1:9092",
			},
			clusters: []Cluster{mainCluster, backupCluster},
			want:     func(*Trigger) {},
		},
		{
			name: "every key set",
			md: map[string]string{
				"consumerGroup":              " orders-flink ",
				"topic":                      "orders",
				"partitionLimitation":        "10-20, 1,2,3,15-25",
				"lagThreshold":               "2.5",
				"activationLagThreshold":     "7",
				"offsetResetPolicy":          "earliest",
				"isolationLevel":             "read_committed",
				"allowIdleConsumers":         "false",
				"excludePersistentLag":       "true",
				"persistentLagSeconds":       "600",
				"scaleToZeroOnInvalidOffset": "1",
				"limitToPartitionsWithLag":   "TRUE",
				"taskSlotsPerTaskManager":    "4",
			},
			clusters: []Cluster{mainCluster},
			want: func(t *Trigger) {
				t.Topics = []string{"orders"}
				t.Partitions = []PartitionRange{{1, 3}, {10, 25}}
				t.LagThreshold = 2.5
				t.ActivationLagThreshold = 7
				t.Policy = lag.Policy{Reset: lag.Earliest, ScaleToZeroOnInvalidOffset: true}
				t.Isolation = lag.ReadCommitted
				t.ExcludePersistentLag = true
				t.PersistentLag = 600 * time.Second
				t.LimitToPartitionsWithLag = true
				t.TaskSlotsPerTaskManager = 4
			},
		},
		{
			name: "topic list sorted without duplicates",
			md: map[string]string{
				"consumerGroup": "orders-flink",
				"topic":         "payments, orders ,payments",
			},
			clusters: []Cluster{mainCluster},
			want:     func(t *Trigger) { t.Topics = []string{"orders", "payments"} },
		},
		{
			name: "even distribution with one topic",
			md: map[string]string{
				"consumerGroup":                      "orders-flink",
				"topic":                              "orders",
				"ensureEvenDistributionOfPartitions": "true",
			},
			clusters: []Cluster{mainCluster},
			want: func(t *Trigger) {
				t.Topics = []string{"orders"}
				t.EnsureEvenDistributionOfPartitions = true
			},
		},
		{
			name: "values at their limits",
			md: map[string]string{
				"consumerGroup":          strings.Repeat("g", 1024),
				"topic":                  strings.Repeat("t", 249) + ",Orders.v2_eu-1",
				"lagThreshold":           "1e15",
				"activationLagThreshold": "1000000000000000",
			},
			clusters: []Cluster{mainCluster},
			want: func(t *Trigger) {
				t.Group = strings.Repeat("g", 1024)
				t.Topics = []string{"Orders.v2_eu-1", strings.Repeat("t", 249)}
				t.LagThreshold = 1e15
				t.ActivationLagThreshold = 1e15
			},
		},
		{
			name: "empty values count as unset",
			md: map[string]string{
				"consumerGroup":       "orders-flink",
				"lagThreshold":        " ",
				"partitionLimitation": "",
				"allowIdleConsumers":  "",
			},
			clusters: []Cluster{mainCluster},
			want:     func(*Trigger) {},
		},
		{
			name: "value from FromEnv key",
			md: map[string]string{
				"consumerGroupFromEnv": "orders-flink",
				"lagThresholdFromEnv":  "50",
				"lagThreshold":         "20",
			},
			clusters: []Cluster{mainCluster},
			want:     func(t *Trigger) { t.LagThreshold = 20 },
		},
		{
			name: "KEDA connection keys and other FromEnv keys ignored",
			md: map[string]string{
				"consumerGroup":    "orders-flink",
				"scalerAddress":    "lagscaler.keda:6000",
				"enableTLS":        "true",
				"unsafeSsl":        "false",
				"caCert":           "pem",
				"tlsClientCert":    "pem",
				"tlsClientKey":     "pem",
				"somethingFromEnv": "x",
			},
			clusters: []Cluster{mainCluster},
			want:     func(*Trigger) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMetadata(tt.md, tt.clusters...)
			if err != nil {
				t.Fatalf("ParseMetadata(%v) error: %v", tt.md, err)
			}
			want := defaultTrigger()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseMetadata(%v) mismatch (-want +got):\n%s", tt.md, diff)
			}
		})
	}
}

func TestParseMetadataInvalid(t *testing.T) {
	tests := []struct {
		name     string
		md       map[string]string
		clusters []Cluster
		// want lists the key and a fragment of the message of each problem,
		// in the order ParseMetadata reports them.
		want [][2]string
	}{
		{
			name: "consumerGroup missing",
			md:   map[string]string{},
			want: [][2]string{{"consumerGroup", "required"}},
		},
		{
			name:     "no cluster configured",
			md:       map[string]string{"consumerGroup": "g"},
			clusters: []Cluster{},
			want:     [][2]string{{"cluster", "no Kafka cluster configured"}},
		},
		{
			name:     "cluster needed with two clusters",
			md:       map[string]string{"consumerGroup": "g"},
			clusters: []Cluster{mainCluster, backupCluster},
			want:     [][2]string{{"cluster", "configured clusters are main, backup"}},
		},
		{
			name:     "unknown cluster",
			md:       map[string]string{"consumerGroup": "g", "cluster": "other"},
			clusters: []Cluster{mainCluster, backupCluster},
			want:     [][2]string{{"cluster", `"other": unknown cluster; configured clusters are main, backup`}},
		},
		{
			name: "bootstrap servers of no cluster",
			md:   map[string]string{"consumerGroup": "g", "bootstrapServers": "evil:9092"},
			want: [][2]string{{"bootstrapServers", "matches no configured cluster"}},
		},
		{
			name:     "bootstrap servers of another cluster",
			md:       map[string]string{"consumerGroup": "g", "cluster": "backup", "bootstrapServers": "kafka-0:9092"},
			clusters: []Cluster{mainCluster, backupCluster},
			want:     [][2]string{{"bootstrapServers", `not among the bootstrap servers of cluster "backup"`}},
		},
		{
			name: "empty bootstrap server",
			md:   map[string]string{"consumerGroup": "g", "bootstrapServers": "kafka-0:9092,"},
			want: [][2]string{{"bootstrapServers", "empty item"}},
		},
		{
			name: "empty topic item",
			md:   map[string]string{"consumerGroup": "g", "topic": "orders,,payments"},
			want: [][2]string{{"topic", "empty item"}},
		},
		{
			name: "illegal topic name",
			md:   map[string]string{"consumerGroup": "g", "topic": "orders/eu"},
			want: [][2]string{{"topic", `contains '/'`}},
		},
		{
			name: "topic name too long",
			md:   map[string]string{"consumerGroup": "g", "topic": strings.Repeat("t", 250)},
			want: [][2]string{{"topic", "above Kafka's maximum of 249"}},
		},
		{
			name: "consumerGroup too long",
			md:   map[string]string{"consumerGroup": strings.Repeat("g", 1025)},
			want: [][2]string{{"consumerGroup", "longer than 1024 bytes"}},
		},
		{
			name: "lagThreshold too large",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "1.000001e15"},
			want: [][2]string{{"lagThreshold", "must be at most 1e+15"}},
		},
		{
			name: "activationLagThreshold too large",
			md:   map[string]string{"consumerGroup": "g", "activationLagThreshold": "9223372036854775807"},
			want: [][2]string{{"activationLagThreshold", "must be at most 1e+15"}},
		},
		{
			name: "partitionLimitation without topic",
			md:   map[string]string{"consumerGroup": "g", "partitionLimitation": "1"},
			want: [][2]string{{"partitionLimitation", "requires topic to name exactly one topic"}},
		},
		{
			name: "partitionLimitation with two topics",
			md:   map[string]string{"consumerGroup": "g", "topic": "a,b", "partitionLimitation": "1"},
			want: [][2]string{{"partitionLimitation", "but it names 2"}},
		},
		{
			name: "partitionLimitation bad items",
			md:   map[string]string{"consumerGroup": "g", "topic": "a", "partitionLimitation": "-1,5-3,x,,1-2-3,2147483648"},
			want: [][2]string{
				{"partitionLimitation", `invalid item "-1"`},
				{"partitionLimitation", `invalid range "5-3"`},
				{"partitionLimitation", `invalid item "x"`},
				{"partitionLimitation", "empty item"},
				{"partitionLimitation", `invalid item "1-2-3"`},
				{"partitionLimitation", `invalid item "2147483648"`},
			},
		},
		{
			name: "lagThreshold zero",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "0"},
			want: [][2]string{{"lagThreshold", "must be at least 0.001"}},
		},
		{
			name: "lagThreshold negative",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "-5"},
			want: [][2]string{{"lagThreshold", "must be at least"}},
		},
		{
			name: "lagThreshold NaN",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "NaN"},
			want: [][2]string{{"lagThreshold", "invalid number"}},
		},
		{
			name: "lagThreshold infinite",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "+Inf"},
			want: [][2]string{{"lagThreshold", "invalid number"}},
		},
		{
			name: "lagThreshold garbage",
			md:   map[string]string{"consumerGroup": "g", "lagThreshold": "ten"},
			want: [][2]string{{"lagThreshold", `"ten": invalid number`}},
		},
		{
			name: "activationLagThreshold negative",
			md:   map[string]string{"consumerGroup": "g", "activationLagThreshold": "-1"},
			want: [][2]string{{"activationLagThreshold", "must be 0 or greater"}},
		},
		{
			name: "offsetResetPolicy unknown",
			md:   map[string]string{"consumerGroup": "g", "offsetResetPolicy": "none"},
			want: [][2]string{{"offsetResetPolicy", "use latest or earliest"}},
		},
		{
			name: "isolationLevel unknown",
			md:   map[string]string{"consumerGroup": "g", "isolationLevel": "committed"},
			want: [][2]string{{"isolationLevel", "use read_uncommitted or read_committed"}},
		},
		{
			name: "boolean invalid",
			md:   map[string]string{"consumerGroup": "g", "allowIdleConsumers": "yes"},
			want: [][2]string{{"allowIdleConsumers", `"yes": invalid boolean`}},
		},
		{
			name: "task slots zero",
			md:   map[string]string{"consumerGroup": "g", "taskSlotsPerTaskManager": "0"},
			want: [][2]string{{"taskSlotsPerTaskManager", "from 1 to 2147483647"}},
		},
		{
			name: "persistentLagSeconds fractional",
			md:   map[string]string{"consumerGroup": "g", "excludePersistentLag": "true", "persistentLagSeconds": "1.5"},
			want: [][2]string{{"persistentLagSeconds", "whole number of seconds"}},
		},
		{
			name: "persistentLagSeconds without excludePersistentLag",
			md:   map[string]string{"consumerGroup": "g", "persistentLagSeconds": "60"},
			want: [][2]string{{"persistentLagSeconds", "unless excludePersistentLag=true"}},
		},
		{
			name: "limitToPartitionsWithLag with allowIdleConsumers",
			md: map[string]string{"consumerGroup": "g", "topic": "a",
				"limitToPartitionsWithLag": "true", "allowIdleConsumers": "true"},
			want: [][2]string{{"limitToPartitionsWithLag", "allowIdleConsumers=true"}},
		},
		{
			name: "limitToPartitionsWithLag with even distribution",
			md: map[string]string{"consumerGroup": "g", "topic": "a",
				"limitToPartitionsWithLag": "true", "ensureEvenDistributionOfPartitions": "true"},
			want: [][2]string{{"limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions=true"}},
		},
		{
			name: "limitToPartitionsWithLag without topic",
			md:   map[string]string{"consumerGroup": "g", "limitToPartitionsWithLag": "true"},
			want: [][2]string{{"limitToPartitionsWithLag", "requires topic"}},
		},
		{
			name: "even distribution without topic",
			md:   map[string]string{"consumerGroup": "g", "ensureEvenDistributionOfPartitions": "true"},
			want: [][2]string{{"ensureEvenDistributionOfPartitions", "requires topic"}},
		},
		{
			name: "even distribution with allowIdleConsumers",
			md: map[string]string{"consumerGroup": "g", "topic": "a",
				"ensureEvenDistributionOfPartitions": "true", "allowIdleConsumers": "true"},
			want: [][2]string{{"ensureEvenDistributionOfPartitions", "allowIdleConsumers=true"}},
		},
		{
			name: "credentials",
			md:   map[string]string{"consumerGroup": "g", "sasl": "plaintext", "password": "hunter2", "passwordFromEnv": "hunter2"},
			want: [][2]string{
				{"password", "Kafka credentials are not read from trigger metadata"},
				{"passwordFromEnv", "Kafka credentials"},
				{"sasl", "Kafka credentials"},
			},
		},
		{
			name: "unused kafka trigger key",
			md:   map[string]string{"consumerGroup": "g", "version": "1.0.0"},
			want: [][2]string{{"version", "negotiates protocol versions"}},
		},
		{
			name: "unknown key",
			md:   map[string]string{"consumerGroup": "g", "threshold": "5"},
			want: [][2]string{{"threshold", "unknown key; allowed keys are cluster, bootstrapServers"}},
		},
		{
			name: "key in wrong case",
			md:   map[string]string{"consumerGroup": "g", "lagthreshold": "5"},
			want: [][2]string{{"lagthreshold", "did you mean lagThreshold?"}},
		},
		{
			name: "FromEnv value invalid",
			md:   map[string]string{"consumerGroup": "g", "lagThresholdFromEnv": "x"},
			want: [][2]string{{"lagThresholdFromEnv", "invalid number"}},
		},
		{
			name: "every problem at once",
			md: map[string]string{"topic": "a,b", "partitionLimitation": "1",
				"lagThreshold": "0", "allowIdleConsumers": "maybe", "bogus": "1"},
			want: [][2]string{
				{"bogus", "unknown key"},
				{"consumerGroup", "required"},
				{"lagThreshold", "must be at least"},
				{"allowIdleConsumers", "invalid boolean"},
				{"partitionLimitation", "exactly one topic"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clusters := tt.clusters
			if clusters == nil {
				clusters = []Cluster{mainCluster}
			}
			got, err := ParseMetadata(tt.md, clusters...)
			if err == nil {
				t.Fatalf("ParseMetadata(%v) = %+v, want error", tt.md, got)
			}
			problems := metadataErrors(t, err)
			if len(problems) != len(tt.want) {
				t.Fatalf("ParseMetadata(%v) returned %d problems, want %d:\n%v", tt.md, len(problems), len(tt.want), err)
			}
			for i, w := range tt.want {
				if problems[i].Key != w[0] {
					t.Errorf("problem %d key = %q, want %q (%v)", i, problems[i].Key, w[0], problems[i])
				}
				if !strings.Contains(problems[i].Error(), w[1]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, problems[i].Error(), w[1])
				}
			}
			if diff := cmp.Diff(Trigger{}, got); diff != "" {
				t.Errorf("ParseMetadata returned a trigger with its error (-want +got):\n%s", diff)
			}
		})
	}
}

// metadataErrors unpacks the joined error of ParseMetadata.
func metadataErrors(t *testing.T, err error) []*MetadataError {
	t.Helper()
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("error %v is not joined", err)
	}
	var problems []*MetadataError
	for _, e := range joined.Unwrap() {
		var me *MetadataError
		if !errors.As(e, &me) {
			t.Fatalf("problem %v is a %T, want *MetadataError", e, e)
		}
		problems = append(problems, me)
	}
	return problems
}

func TestParseMetadataHidesSecrets(t *testing.T) {
	md := map[string]string{"consumerGroup": "g", "password": "hunter2", "saslPassword": "hunter3"}
	_, err := ParseMetadata(md, mainCluster)
	if err == nil {
		t.Fatal("ParseMetadata accepted a password")
	}
	for _, secret := range []string{"hunter2", "hunter3"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("ParseMetadata error %q repeats the value %q", err, secret)
		}
	}
}

func TestParseMetadataTruncatesLongValues(t *testing.T) {
	md := map[string]string{"consumerGroup": "g", "lagThreshold": strings.Repeat("9", 1000) + "x"}
	_, err := ParseMetadata(md, mainCluster)
	if err == nil {
		t.Fatal("ParseMetadata accepted an invalid lagThreshold")
	}
	if len(err.Error()) > 300 {
		t.Errorf("ParseMetadata error is %d bytes long, want the value truncated: %v", len(err.Error()), err)
	}
}

func TestTriggerMetadataRoundTrip(t *testing.T) {
	md := map[string]string{
		"cluster":                "backup",
		"consumerGroup":          "orders-flink",
		"topic":                  "orders",
		"partitionLimitation":    "3,1,2,7-9",
		"lagThreshold":           "0.1",
		"activationLagThreshold": "1e3",
		"excludePersistentLag":   "true",
		"isolationLevel":         "read_committed",
	}
	clusters := []Cluster{mainCluster, backupCluster}
	first, err := ParseMetadata(md, clusters...)
	if err != nil {
		t.Fatal(err)
	}
	canonical := first.Metadata()
	if got, want := canonical[KeyPartitionLimitation], "1-3,7-9"; got != want {
		t.Errorf("canonical partitionLimitation = %q, want %q", got, want)
	}
	if got, want := canonical[KeyPersistentLagSeconds], "300"; got != want {
		t.Errorf("canonical persistentLagSeconds = %q, want %q", got, want)
	}
	second, err := ParseMetadata(canonical, clusters...)
	if err != nil {
		t.Fatalf("ParseMetadata(%v) error: %v", canonical, err)
	}
	if diff := cmp.Diff(first, second); diff != "" {
		t.Errorf("reparsed trigger differs (-first +second):\n%s", diff)
	}
}

func TestTriggerSelectsPartition(t *testing.T) {
	tr := Trigger{Partitions: []PartitionRange{{1, 3}, {10, 10}}}
	for p, want := range map[int32]bool{0: false, 1: true, 3: true, 4: false, 10: true, 11: false} {
		if got := tr.SelectsPartition(p); got != want {
			t.Errorf("SelectsPartition(%d) = %t, want %t", p, got, want)
		}
	}
	if !(Trigger{}).SelectsPartition(12345) {
		t.Error("SelectsPartition without partitionLimitation = false, want true")
	}
}

func TestTriggerQuery(t *testing.T) {
	tr := Trigger{Cluster: "main", Group: "g", Topics: []string{"a", "b"}, Isolation: lag.ReadCommitted}
	want := lag.Query{Cluster: "main", Group: "g", Topics: []string{"a", "b"}, Isolation: lag.ReadCommitted}
	if diff := cmp.Diff(want, tr.Query()); diff != "" {
		t.Errorf("Query() mismatch (-want +got):\n%s", diff)
	}
}
