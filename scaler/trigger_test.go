package scaler

import (
	"regexp"
	"strings"
	"testing"
)

// metricNamePattern is "lag-", an optional group part and 8 hex digits.
var metricNamePattern = regexp.MustCompile(`^lag-([a-z0-9]+(-[a-z0-9]+)*-)?[0-9a-f]{8}$`)

func TestMetricName(t *testing.T) {
	tests := []struct {
		name    string
		trigger Trigger
		prefix  string
	}{
		{"plain group", Trigger{Cluster: "main", Group: "orders-flink"}, "lag-orders-flink-"},
		{"upper case and symbols", Trigger{Cluster: "main", Group: "Orders_Flink.v2"}, "lag-orders-flink-v2-"},
		{"leading and trailing symbols", Trigger{Cluster: "main", Group: "__orders__"}, "lag-orders-"},
		{"nothing left of the group", Trigger{Cluster: "main", Group: "日本"}, "lag-"},
		{"long group", Trigger{Cluster: "main", Group: strings.Repeat("abcdefghij", 10)}, "lag-abcdefghij"},
		{"long group cut at a dash", Trigger{Cluster: "main", Group: strings.Repeat("a", 45) + "_b"}, "lag-" + strings.Repeat("a", 45) + "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.trigger.MetricName()
			if !metricNamePattern.MatchString(got) {
				t.Errorf("MetricName() = %q, want a match for %s", got, metricNamePattern)
			}
			if len(got) > MaxMetricNameLength {
				t.Errorf("MetricName() = %q is %d characters, want at most %d", got, len(got), MaxMetricNameLength)
			}
			if !strings.HasPrefix(got, tt.prefix) {
				t.Errorf("MetricName() = %q, want prefix %q", got, tt.prefix)
			}
			if got != tt.trigger.MetricName() {
				t.Errorf("MetricName() is not stable")
			}
		})
	}
}

// KEDA prefixes "s<index>-", and the result must still be a DNS label.
func TestMetricNameFitsKEDAPrefix(t *testing.T) {
	name := Trigger{Cluster: "main", Group: strings.Repeat("g", 300)}.MetricName()
	if got := len("s99-" + name); got > 63 {
		t.Errorf("len(s99-%s) = %d, want at most 63", name, got)
	}
}

func TestMetricNameDistinguishes(t *testing.T) {
	base := Trigger{Cluster: "main", Group: "orders", Topics: []string{"a"}}
	variants := map[string]Trigger{
		"cluster":          {Cluster: "backup", Group: "orders", Topics: []string{"a"}},
		"group":            {Cluster: "main", Group: "Orders", Topics: []string{"a"}},
		"topics":           {Cluster: "main", Group: "orders", Topics: []string{"a", "b"}},
		"no topics":        {Cluster: "main", Group: "orders"},
		"separator moved":  {Cluster: "main", Group: "orders\x00a"},
		"same after clean": {Cluster: "main", Group: "orders!", Topics: []string{"a"}},
	}
	for name, v := range variants {
		if v.MetricName() == base.MetricName() {
			t.Errorf("MetricName() of %s variant = %q, same as base", name, v.MetricName())
		}
	}
	settings := base
	settings.LagThreshold = 99
	settings.Partitions = []PartitionRange{{0, 1}}
	if settings.MetricName() != base.MetricName() {
		t.Errorf("MetricName() changed with threshold and partitions: %q, want %q", settings.MetricName(), base.MetricName())
	}
}

func TestSelectsPartitionManyRanges(t *testing.T) {
	tr := Trigger{Partitions: manyRanges(1000)}
	for p := int32(-1); p <= 3001; p++ {
		want := p >= 0 && p < 3000 && p%3 != 2
		if got := tr.SelectsPartition(p); got != want {
			t.Errorf("SelectsPartition(%d) = %t, want %t", p, got, want)
		}
	}
}
