package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/lag"
)

var testTakenAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testPartition returns a lag row with OffsetLag set the way the lag reader
// sets it.
func testPartition(topic string, p int32, committed, start, end int64, anomaly lag.Anomaly) lag.Partition {
	row := lag.Partition{Topic: topic, Partition: p, Committed: committed, LogStart: start, LogEnd: end, StableEnd: end, Anomaly: anomaly}
	if committed >= 0 && end >= 0 {
		row.OffsetLag, row.HasOffsetLag = end-committed, true
	}
	return row
}

// mixedReport has one partition of every kind under the latest policy.
func mixedReport() inspect.GroupReport {
	unknown := testPartition("payments", 1, 7, -1, -1, lag.Unknown)
	unknown.Err = errors.New("NOT_LEADER_OR_FOLLOWER")
	snap := &lag.Snapshot{
		Query:   lag.Query{Cluster: "main", Group: "orders-flink"},
		TakenAt: testTakenAt,
		State:   "Stable",
		Members: 2,
		Partitions: []lag.Partition{
			testPartition("orders", 0, 50, 0, 100, lag.NoAnomaly),
			testPartition("orders", 1, -1, 0, 10, lag.NoCommit),
			testPartition("orders", 2, 60, 0, 50, lag.CommitAheadOfEnd),
			testPartition("orders", 3, 5, 20, 30, lag.CommitBelowLogStart),
			testPartition("payments", 0, 9, 0, 10, lag.ControlRecordsOnly),
			unknown,
		},
	}
	return inspect.NewGroupReport(snap, lag.Policy{Reset: lag.Latest})
}

func TestWriteGroupTablesMixed(t *testing.T) {
	var out bytes.Buffer
	if err := writeGroupTables(&out, []inspect.GroupReport{mixedReport()}, nil); err != nil {
		t.Fatalf("writeGroupTables: %v", err)
	}
	// "-" appears where kafka-consumer-groups prints it: no commit, or an
	// unknown end offset. LAG is unclamped, so the commit ahead of the end
	// shows -10, and the per-topic and group sums add it as printed.
	want := `GROUP orders-flink (cluster main): state Stable, 2 members
TOPIC     PARTITION  CURRENT-OFFSET  LOG-START-OFFSET  LOG-END-OFFSET  LAG  EFFECTIVE-LAG  NOTE
orders    0          50              0                 100             50   50
orders    1          -               0                 10              -    1              no commit
orders    2          60              0                 50              -10  0              commit ahead of end
orders    3          5               20                30              25   0              commit below log start
payments  0          9               0                 10              1    0              control records only
payments  1          7               -                 -               -    -              offsets unknown: NOT_LEADER_OR_FOLLOWER
orders    total                                                        65   51
payments  total                                                        1    -
TOTAL                                                                  66   -
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteGroupTablesSeveralGroups(t *testing.T) {
	empty := inspect.NewGroupReport(&lag.Snapshot{
		Query: lag.Query{Cluster: "main", Group: "idle"}, TakenAt: testTakenAt, Members: 1,
		DeletedTopics: []string{"old"},
	}, lag.Policy{})
	var out bytes.Buffer
	if err := writeGroupTables(&out, []inspect.GroupReport{empty, empty}, nil); err != nil {
		t.Fatalf("writeGroupTables: %v", err)
	}
	groupTable := `GROUP idle (cluster main): state unknown, 1 member
not shown: the group has commits for deleted topics old
no partitions to show
`
	if diff := cmp.Diff(groupTable+"\n"+groupTable, out.String()); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteGroupTablesWatchColumns(t *testing.T) {
	before := mixedReport()
	after := mixedReport()
	after.TakenAt = before.TakenAt.Add(10 * time.Second)
	// orders[0]: the commit moves 50 → 150 and the end 100 → 170, so the
	// group consumes 10/s and producers add 7/s. 20 offsets of lag then take
	// 20 / 3 ≈ 6.7s, shown rounded up to 7s.
	*after.Partitions[0].CurrentOffset = 150
	*after.Partitions[0].LogEndOffset = 170
	*after.Partitions[0].Lag = 20
	*after.Partitions[0].EffectiveLag = 20
	// orders[3]: producers outpace the consumer, so the orders topic as a
	// whole never catches up.
	*after.Partitions[3].LogEndOffset = 130
	*after.Partitions[3].Lag = 125
	after.Sum()

	var out bytes.Buffer
	rates := map[groupKey]*groupRates{keyOf(after): measureRates(before, after)}
	if err := writeGroupTables(&out, []inspect.GroupReport{after}, rates); err != nil {
		t.Fatalf("writeGroupTables: %v", err)
	}
	want := `GROUP orders-flink (cluster main): state Stable, 2 members
TOPIC     PARTITION  CURRENT-OFFSET  LOG-START-OFFSET  LOG-END-OFFSET  LAG  EFFECTIVE-LAG  CONSUME/S  PRODUCE/S  CATCH-UP  NOTE
orders    0          150             0                 170             20   20             10.0       7.0        7s
orders    1          -               0                 10              -    1              -          0.0        -         no commit
orders    2          60              0                 50              -10  0              0.0        0.0        0s        commit ahead of end
orders    3          5               20                130             125  0              0.0        10.0       0s        commit below log start
payments  0          9               0                 10              1    0              0.0        0.0        0s        control records only
payments  1          7               -                 -               -    -              0.0        -          -         offsets unknown: NOT_LEADER_OR_FOLLOWER
orders    total                                                        135  21             10.0       17.0       never
payments  total                                                        1    -              0.0        0.0        -
TOTAL                                                                  136  -              10.0       17.0       -
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}
}

func TestSortPartitions(t *testing.T) {
	order := func(g inspect.GroupReport) []string {
		var out []string
		for _, p := range g.Partitions {
			out = append(out, p.Topic+"/"+partitionText(p.Partition))
		}
		return out
	}
	tests := []struct {
		by   string
		want []string
	}{
		{sortTopic, []string{"orders/0", "orders/1", "orders/2", "orders/3", "payments/0", "payments/1"}},
		// Lag 50, -, -10, 25: highest first, "-" last.
		{sortLag, []string{"orders/0", "orders/3", "orders/2", "orders/1", "payments/0", "payments/1"}},
		// Effective lag 50, 1, 0, 0: ties by partition number.
		{sortEffectiveLag, []string{"orders/0", "orders/1", "orders/2", "orders/3", "payments/0", "payments/1"}},
	}
	for _, tc := range tests {
		t.Run(tc.by, func(t *testing.T) {
			g := mixedReport()
			// Start from a scrambled order so that the sort has work to do.
			g.Partitions[0], g.Partitions[5] = g.Partitions[5], g.Partitions[0]
			g.Partitions[1], g.Partitions[3] = g.Partitions[3], g.Partitions[1]
			sortPartitions(&g, tc.by)
			if diff := cmp.Diff(tc.want, order(g)); diff != "" {
				t.Errorf("sortPartitions(%s) mismatch (-want +got):\n%s", tc.by, diff)
			}
		})
	}
}

func TestWriteDocumentJSON(t *testing.T) {
	var out bytes.Buffer
	if err := writeDocument(&out, outputJSON, newReport([]inspect.GroupReport{mixedReport()})); err != nil {
		t.Fatalf("writeDocument: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	group := got["groups"].([]any)[0].(map[string]any)
	wantGroup := map[string]any{
		"cluster": "main", "group": "orders-flink", "state": "Stable", "members": float64(2),
		"takenAt": "2026-03-01T12:00:00Z", "lag": float64(66), "effectiveLag": nil,
	}
	for key, want := range wantGroup {
		if diff := cmp.Diff(want, group[key]); diff != "" {
			t.Errorf("groups[0].%s mismatch (-want +got):\n%s", key, diff)
		}
	}
	if got["schemaVersion"] != float64(1) {
		t.Errorf("schemaVersion = %v, want 1", got["schemaVersion"])
	}

	partitions := group["partitions"].([]any)
	noCommit := map[string]any{
		"topic": "orders", "partition": float64(1), "currentOffset": nil, "logStartOffset": float64(0),
		"logEndOffset": float64(10), "lag": nil, "effectiveLag": float64(1), "note": "no_commit", "error": "",
	}
	if diff := cmp.Diff(noCommit, partitions[1]); diff != "" {
		t.Errorf("partitions[1] mismatch (-want +got):\n%s", diff)
	}
	unknown := map[string]any{
		"topic": "payments", "partition": float64(1), "currentOffset": float64(7), "logStartOffset": nil,
		"logEndOffset": nil, "lag": nil, "effectiveLag": nil, "note": "unknown", "error": "NOT_LEADER_OR_FOLLOWER",
	}
	if diff := cmp.Diff(unknown, partitions[5]); diff != "" {
		t.Errorf("partitions[5] mismatch (-want +got):\n%s", diff)
	}
	topics := []any{
		map[string]any{"topic": "orders", "lag": float64(65), "effectiveLag": float64(51)},
		map[string]any{"topic": "payments", "lag": float64(1), "effectiveLag": nil},
	}
	if diff := cmp.Diff(topics, group["topics"]); diff != "" {
		t.Errorf("topics mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteDocumentEmptyJSON(t *testing.T) {
	var out bytes.Buffer
	if err := writeDocument(&out, outputJSON, newReport(nil)); err != nil {
		t.Fatalf("writeDocument: %v", err)
	}
	want := "{\n  \"schemaVersion\": 1,\n  \"groups\": []\n}\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("empty report mismatch (-want +got):\n%s", diff)
	}
}

func TestWriteDocumentYAMLMatchesJSON(t *testing.T) {
	report := newReport([]inspect.GroupReport{mixedReport()})
	var jsonOut, yamlOut bytes.Buffer
	if err := writeDocument(&jsonOut, outputJSON, report); err != nil {
		t.Fatalf("writeDocument(json): %v", err)
	}
	if err := writeDocument(&yamlOut, outputYAML, report); err != nil {
		t.Fatalf("writeDocument(yaml): %v", err)
	}
	converted, err := yaml.YAMLToJSON(yamlOut.Bytes())
	if err != nil {
		t.Fatalf("YAML output does not parse: %v\n%s", err, yamlOut.String())
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal(jsonOut.Bytes(), &fromJSON); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(converted, &fromYAML); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fromJSON, fromYAML); diff != "" {
		t.Errorf("YAML and JSON structures differ (-json +yaml):\n%s", diff)
	}
	if !strings.Contains(yamlOut.String(), "currentOffset: null") {
		t.Errorf("YAML output has no explicit null for a missing commit:\n%s", yamlOut.String())
	}
}

func TestJoinChoices(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a"}, "a"},
		{[]string{"a", "b"}, "a or b"},
		{[]string{"a", "b", "c"}, "a, b or c"},
	}
	for _, tc := range tests {
		if got := joinChoices(tc.in); got != tc.want {
			t.Errorf("joinChoices(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
