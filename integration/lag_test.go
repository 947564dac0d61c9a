package integration

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLagMatchesConsumerGroups compares `lagscaler lag` with Apache Kafka's
// kafka-consumer-groups --describe on the columns both print: the current
// offset, the log-end offset and the offset lag, where "-" in Kafka's table
// is null in lagscaler's JSON.
func TestLagMatchesConsumerGroups(t *testing.T) {
	bootstrap := needCluster(t)
	needBinary(t)

	tests := []struct {
		name    string
		records []int   // records produced to each partition
		commits []int64 // committed offset of each partition, or noCommit
		// member makes a consumer group member join and commit, so the
		// group is Stable instead of Empty.
		member    bool
		wantState string
	}{
		{
			name:      "empty group",
			records:   []int{10, 20, 0},
			commits:   []int64{5, 20, 0},
			wantState: "Empty",
		},
		{
			name:      "uncommitted partition",
			records:   []int{10, 10, 10},
			commits:   []int64{3, noCommit, 10},
			wantState: "Empty",
		},
		{
			// Kafka prints a negative lag here and does not clamp it.
			name:      "commit ahead of end",
			records:   []int{10, 5},
			commits:   []int64{4, 9},
			wantState: "Empty",
		},
		{
			name:      "active member",
			records:   []int{30, 40, 5},
			commits:   []int64{10, 40, noCommit},
			member:    true,
			wantState: "Stable",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Each case has its own topic and group. Most of a case's time
			// is the JVM start of kafka-consumer-groups, so cases overlap.
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			_, group := setUpGroup(ctx, t, bootstrap, tt.records, tt.commits, tt.member)

			oracle, err := describeGroup(ctx, bootstrap, group)
			if err != nil {
				t.Fatal(err)
			}
			checkOracleCommits(t, oracle, tt.commits, tt.member)

			report := lagJSON(ctx, t, bootstrap, group)
			if report.State != tt.wantState {
				t.Errorf("lag JSON state = %q, want %q", report.State, tt.wantState)
			}
			wantMembers := 0
			if tt.member {
				wantMembers = 1
			}
			if report.Members != wantMembers {
				t.Errorf("lag JSON members = %d, want %d", report.Members, wantMembers)
			}
			jsonRows := make(map[partitionKey]offsetColumns)
			for _, p := range report.Partitions {
				jsonRows[p.key()] = p.offsets()
			}
			compareWithOracle(t, "JSON", oracle.Offsets, jsonRows)

			compareWithOracle(t, "table", oracle.Offsets, lagTable(ctx, t, bootstrap, group))
		})
	}
}

// setUpGroup creates a topic with len(records) partitions, produces
// records[p] records to partition p and commits commits[p] for a new group,
// through a member that stays in the group when member is set. It returns
// the topic and the group.
func setUpGroup(ctx context.Context, t *testing.T, bootstrap string, records []int, commits []int64,
	member bool,
) (topic, group string) {
	t.Helper()
	topic, group = uniqueName(t, "topic"), uniqueName(t, "group")
	adm := newAdmin(t, bootstrap)
	createTopic(ctx, t, adm, topic, len(records))
	produceCounts(ctx, t, bootstrap, topic, records)
	if member {
		joinGroup(ctx, t, bootstrap, group, topic, commits)
	} else {
		commitOffsets(ctx, t, adm, group, topic, commits)
	}
	return topic, group
}

// checkOracleCommits checks that kafka-consumer-groups shows the commits the
// test made, so a mistake in the test data cannot pass as agreement.
func checkOracleCommits(t *testing.T, oracle groupDescription, commits []int64, member bool) {
	t.Helper()
	for key, row := range oracle.Offsets {
		want := unknown
		if c := commits[key.Partition]; c != noCommit {
			want = strconv.FormatInt(c, 10)
		}
		if row.CurrentOffset != want {
			t.Errorf("kafka-consumer-groups: partition %d CURRENT-OFFSET = %s, want %s",
				key.Partition, row.CurrentOffset, want)
		}
		if member && oracle.ConsumerIDs[key] == unknown {
			t.Errorf("kafka-consumer-groups: partition %d has no CONSUMER-ID, want the test's member",
				key.Partition)
		}
	}
	if len(oracle.Offsets) == 0 {
		t.Fatal("kafka-consumer-groups listed no partitions")
	}
}

// compareWithOracle checks that lagscaler lists every partition that
// kafka-consumer-groups lists, with the same values. Kafka omits partitions
// that have neither a commit nor an assigned member, which lagscaler may
// list, so a partition only lagscaler lists must have no commit.
func compareWithOracle(t *testing.T, output string, oracle, got map[partitionKey]offsetColumns) {
	t.Helper()
	shared := make(map[partitionKey]offsetColumns)
	for key, row := range got {
		if _, ok := oracle[key]; ok {
			shared[key] = row
			continue
		}
		if row.CurrentOffset != unknown {
			t.Errorf("lag %s lists %s/%d with current offset %s, which kafka-consumer-groups does not list",
				output, key.Topic, key.Partition, row.CurrentOffset)
		}
	}
	if diff := cmp.Diff(oracle, shared); diff != "" {
		t.Errorf("lag %s differs from kafka-consumer-groups (-kafka +lagscaler):\n%s", output, diff)
	}
}

// TestLagExitCodes checks the exit codes that scripts branch on: 1 when
// Kafka cannot be read, 2 for invalid flags and 3 for a group that does not
// exist.
func TestLagExitCodes(t *testing.T) {
	bootstrap := needCluster(t)
	ports, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	// freePorts closed its listener, so nothing listens on this port unless
	// another process took it since.
	closedAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	missingGroup := uniqueName(t, "group")

	tests := []struct {
		name string
		args []string
		want int
	}{
		{
			name: "unreachable kafka",
			args: []string{"--bootstrap-server", closedAddr, "--group", "g", "--timeout", "3s"},
			want: 1,
		},
		{
			name: "invalid output",
			args: []string{"--bootstrap-server", bootstrap, "--group", "g", "--output", "xml"},
			want: 2,
		},
		{
			name: "missing group",
			args: []string{"--bootstrap-server", bootstrap, "--group", missingGroup},
			want: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			args := append([]string{"lag"}, tt.args...)
			stdout, stderr, err := execLagscaler(ctx, t, args...)
			if got := exitCode(err); got != tt.want {
				t.Errorf("lagscaler %v exit code = %d, want %d\nstdout:\n%s\nstderr:\n%s",
					args, got, tt.want, stdout, stderr)
			}
		})
	}

	// Kafka's own tool agrees that the group does not exist.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = describeGroup(ctx, bootstrap, missingGroup)
	if err == nil || !strings.Contains(err.Error(), "GroupIdNotFoundException") {
		t.Errorf("kafka-consumer-groups --describe --group %s: error = %v, want GroupIdNotFoundException",
			missingGroup, err)
	}
}
