package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kgo"
	"sigs.k8s.io/yaml"

	"github.com/lagscaler/lagscaler/inspect"
)

// newOrdersKafka returns kfake with topic "orders" and group "flink" in
// every state a partition can be in that kfake can produce: behind, caught
// up, no commit, commit ahead of end.
func newOrdersKafka(t *testing.T) *testKafka {
	t.Helper()
	k := newTestKafka(t, 1)
	k.CreateTopic(t, "orders", []int{100, 200, 0, 50, 10, 10})
	k.Commit(t, "flink", "orders", []int64{50, 200, -1, 60, 2, 10})
	return k
}

func TestLagTable(t *testing.T) {
	k := newOrdersKafka(t)
	r := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "flink")
	if r.code != exitOK {
		t.Fatalf("lag exit code = %d (%v), want 0", r.code, r.err)
	}
	// Partition 1 is caught up, 2 has no commit (1 under latest), 3 has a
	// commit past the end: LAG -10 as kafka-consumer-groups prints it,
	// EFFECTIVE-LAG 0.
	want := `GROUP flink (cluster default): state Empty, 0 members
TOPIC   PARTITION  CURRENT-OFFSET  LOG-START-OFFSET  LOG-END-OFFSET  LAG  EFFECTIVE-LAG  NOTE
orders  0          50              0                 100             50   50
orders  1          200             0                 200             0    0
orders  2          -               0                 0               -    1              no commit
orders  3          60              0                 50              -10  0              commit ahead of end
orders  4          2               0                 10              8    8
orders  5          10              0                 10              0    0
orders  total                                                        48   59
TOTAL                                                                48   59
`
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("lag output mismatch (-want +got):\n%s", diff)
	}
	if r.stderr != "" {
		t.Errorf("lag stderr = %q, want empty", r.stderr)
	}
}

func TestLagJSON(t *testing.T) {
	k := newOrdersKafka(t)
	before := time.Now().Add(-time.Second)
	r := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "flink", "--output", "json",
		"--offset-reset-policy", "earliest", "--sort", "effective-lag")
	if r.code != exitOK {
		t.Fatalf("lag exit code = %d (%v), want 0", r.code, r.err)
	}
	got, err := inspect.DecodeReport([]byte(r.stdout))
	if err != nil {
		t.Fatalf("DecodeReport: %v\n%s", err, r.stdout)
	}
	if len(got.Groups) != 1 {
		t.Fatalf("groups = %d, want 1", len(got.Groups))
	}
	if takenAt := got.Groups[0].TakenAt; takenAt.Before(before) || takenAt.After(time.Now()) {
		t.Errorf("takenAt = %s, want the time of the run", takenAt)
	}

	n := func(v int64) *int64 { return &v }
	// Under earliest the uncommitted partition counts its whole (empty)
	// log, so its effective lag is 0 and it sorts by partition number
	// among the zeros.
	want := inspect.GroupReport{
		Cluster: "default", Group: "flink", State: "Empty",
		Partitions: []inspect.PartitionReport{
			{Topic: "orders", Partition: 0, CurrentOffset: n(50), LogStartOffset: n(0), LogEndOffset: n(100), Lag: n(50), EffectiveLag: n(50)},
			{Topic: "orders", Partition: 4, CurrentOffset: n(2), LogStartOffset: n(0), LogEndOffset: n(10), Lag: n(8), EffectiveLag: n(8)},
			{Topic: "orders", Partition: 1, CurrentOffset: n(200), LogStartOffset: n(0), LogEndOffset: n(200), Lag: n(0), EffectiveLag: n(0)},
			{Topic: "orders", Partition: 2, LogStartOffset: n(0), LogEndOffset: n(0), EffectiveLag: n(0), Note: "no_commit"},
			{Topic: "orders", Partition: 3, CurrentOffset: n(60), LogStartOffset: n(0), LogEndOffset: n(50), Lag: n(-10), EffectiveLag: n(0),
				Note: "commit_ahead_of_end"},
			{Topic: "orders", Partition: 5, CurrentOffset: n(10), LogStartOffset: n(0), LogEndOffset: n(10), Lag: n(0), EffectiveLag: n(0)},
		},
		Topics:       []inspect.TopicReport{{Topic: "orders", Lag: n(48), EffectiveLag: n(58)}},
		Lag:          n(48),
		EffectiveLag: n(58),
	}
	if diff := cmp.Diff(want, got.Groups[0], cmpopts.IgnoreFields(inspect.GroupReport{}, "TakenAt")); diff != "" {
		t.Errorf("lag --output json mismatch (-want +got):\n%s", diff)
	}
}

func TestLagYAML(t *testing.T) {
	k := newOrdersKafka(t)
	r := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "flink", "-o", "yaml")
	if r.code != exitOK {
		t.Fatalf("lag exit code = %d (%v), want 0", r.code, r.err)
	}
	data, err := yaml.YAMLToJSON([]byte(r.stdout))
	if err != nil {
		t.Fatalf("output is not YAML: %v\n%s", err, r.stdout)
	}
	got, err := inspect.DecodeReport(data)
	if err != nil {
		t.Fatalf("DecodeReport(YAML as JSON): %v", err)
	}
	if len(got.Groups) != 1 || len(got.Groups[0].Partitions) != 6 {
		t.Fatalf("YAML report has %d groups, want 1 with 6 partitions", len(got.Groups))
	}
	if e := got.Groups[0].EffectiveLag; e == nil || *e != 59 {
		t.Errorf("YAML effectiveLag = %v, want 59", e)
	}
}

func TestLagSeveralGroupsOneRead(t *testing.T) {
	k := newOrdersKafka(t)
	k.CreateTopic(t, "payments", []int{30})
	k.Commit(t, "payments-app", "payments", []int64{10})
	k.Commit(t, "other", "payments", []int64{30})

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"repeated --group", []string{"--group", "payments-app", "--group", "flink"}, []string{"payments-app", "flink"}},
		{"same group twice", []string{"--group", "flink", "--group", "flink"}, []string{"flink"}},
		{"pattern", []string{"--group-pattern", "flink|pay.*"}, []string{"flink", "payments-app"}},
		{"pattern matches whole ID", []string{"--group-pattern", "pay"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"lag", "--bootstrap-server", k.bootstrap, "-o", "json"}, tc.args...)...)
			report, err := inspect.DecodeReport([]byte(r.stdout))
			if err != nil {
				t.Fatalf("DecodeReport: %v\n%s", err, r.stdout)
			}
			var got []string
			for _, g := range report.Groups {
				got = append(got, g.Group)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("groups mismatch (-want +got):\n%s", diff)
			}
			wantCode := exitOK
			if tc.want == nil {
				wantCode = exitNotFound
			}
			if r.code != wantCode {
				t.Errorf("exit code = %d (%v), want %d", r.code, r.err, wantCode)
			}
		})
	}
}

func TestLagTopicFilter(t *testing.T) {
	k := newOrdersKafka(t)
	k.CreateTopic(t, "payments", []int{30})
	k.Commit(t, "flink", "payments", []int64{10})

	r := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", "payments", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit code = %d (%v), want 0", r.code, r.err)
	}
	report, err := inspect.DecodeReport([]byte(r.stdout))
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	if got := report.Groups[0].Topics; len(got) != 1 || got[0].Topic != "payments" {
		t.Errorf("topics = %+v, want payments only", got)
	}
}

func TestLagExitCodes(t *testing.T) {
	k := newOrdersKafka(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		// wantErr are substrings of the error main prints.
		wantErr []string
	}{
		{"group does not exist", []string{"--bootstrap-server", k.bootstrap, "--group", "nope"},
			exitNotFound, []string{`consumer group "nope" does not exist`}},
		{"group does not exist, topic named", []string{"--bootstrap-server", k.bootstrap, "--group", "nope", "--topic", "orders"},
			exitNotFound, []string{`consumer group "nope" does not exist`}},
		{"one of two groups missing", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--group", "nope"},
			exitNotFound, []string{`consumer group "nope" does not exist`}},
		{"topic does not exist", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", "nothere"},
			exitNotFound, []string{`topic "nothere" does not exist`}},
		{"no group", []string{"--bootstrap-server", k.bootstrap},
			exitUsage, []string{"--group", "--group-pattern"}},
		{"no cluster", []string{"--group", "flink"},
			exitUsage, []string{"--bootstrap-server", "--config"}},
		{"bad output", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--output", "xml"},
			exitUsage, []string{`--output "xml"`, "table, json or yaml"}},
		{"bad sort", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--sort", "size"},
			exitUsage, []string{`--sort "size"`, "topic, lag or effective-lag"}},
		{"bad isolation", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--isolation", "committed"},
			exitUsage, []string{`--isolation "committed"`, "read_uncommitted or read_committed"}},
		{"bad policy", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--offset-reset-policy", "none"},
			exitUsage, []string{`--offset-reset-policy "none"`, "latest or earliest"}},
		{"watch too short", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--watch", "10ms"},
			exitUsage, []string{"--watch 10ms", "at least 1s"}},
		{"bad pattern", []string{"--bootstrap-server", k.bootstrap, "--group-pattern", "a)|(b"},
			exitUsage, []string{`--group-pattern "a)|(b"`}},
		{"group and pattern", []string{"--bootstrap-server", k.bootstrap, "--group", "a", "--group-pattern", "b"},
			exitUsage, []string{"exclusive"}},
		{"unparsable duration", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--timeout", "soon"},
			exitUsage, []string{`"soon"`, "--timeout"}},
		{"server and bootstrap", []string{"--bootstrap-server", k.bootstrap, "--server", "127.0.0.1:1", "--group", "flink"},
			exitUsage, []string{"--server", "--bootstrap-server"}},
		{"TLS without server", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--server-tls-ca", "ca.pem"},
			exitUsage, []string{"--server-tls-ca", "need --server"}},
		{"unknown flag", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--colour"},
			exitUsage, []string{"--colour"}},
		{"comma in topic", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", "orders,payments"},
			exitUsage, []string{`invalid --topic "orders,payments"`, "contains ','", "repeat --topic"}},
		{"illegal topic character", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", "orders/eu"},
			exitUsage, []string{`invalid --topic "orders/eu"`, "contains '/'"}},
		{"topic dot", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", ".."},
			exitUsage, []string{`invalid --topic ".."`}},
		{"topic too long", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", strings.Repeat("t", 250)},
			exitUsage, []string{"250 characters", "249"}},
		{"empty topic", []string{"--bootstrap-server", k.bootstrap, "--group", "flink", "--topic", ""},
			exitUsage, []string{`invalid --topic ""`}},
		{"pattern matches nothing", []string{"--bootstrap-server", k.bootstrap, "--group-pattern", "pay"},
			exitNotFound, []string{`--group-pattern "pay"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"lag"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d (%v), want %d", r.code, r.err, tc.wantCode)
			}
			for _, want := range tc.wantErr {
				if r.err == nil || !strings.Contains(r.err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", r.err, want)
				}
			}
		})
	}
}

func TestLagUnreachableBroker(t *testing.T) {
	start := time.Now()
	r := runCLI(t, "lag", "--bootstrap-server", "127.0.0.1:1", "--group", "flink", "--timeout", "3s")
	elapsed := time.Since(start)
	if r.code != exitFailure {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitFailure)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "127.0.0.1:1") {
		t.Errorf("error = %v, want it to name the broker 127.0.0.1:1", r.err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("lag took %s against an unreachable broker, want about --timeout 3s or less", elapsed)
	}
}

func TestLagUnreachableBrokerTimeout(t *testing.T) {
	// A listener that accepts connections and never responds makes the read
	// run into --timeout rather than fail on a refused connection.
	silent := newSilentListener(t)
	start := time.Now()
	r := runCLI(t, "lag", "--bootstrap-server", silent, "--group", "flink", "--timeout", "1s")
	elapsed := time.Since(start)
	if r.code != exitFailure {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitFailure)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), silent) {
		t.Errorf("error = %v, want it to name the broker %s", r.err, silent)
	}
	if elapsed > 3*time.Second {
		t.Errorf("lag took %s against a silent broker, want about --timeout 1s", elapsed)
	}
}

func TestLagGroupWithMembersButNoCommits(t *testing.T) {
	k := newOrdersKafka(t)
	consumer, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.bootstrap, ",")...),
		kgo.ConsumerGroup("joined"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer consumer.Close()
	waitForMembers(t, k, consumer, "joined")

	r := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "joined")
	if r.code != exitNotFound {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitNotFound)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "exists but has no committed offsets") {
		t.Errorf("error = %v, want it to say the group exists without commits", r.err)
	}

	// With a topic named, the group is measured: every partition lacks a
	// commit.
	r = runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--group", "joined", "--topic", "orders", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit code with --topic = %d (%v), want 0", r.code, r.err)
	}
	report, err := inspect.DecodeReport([]byte(r.stdout))
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	g := report.Groups[0]
	if g.State != "Stable" || g.Members != 1 {
		t.Errorf("group state %q with %d members, want Stable with 1", g.State, g.Members)
	}
	for _, p := range g.Partitions {
		if p.Note != "no_commit" {
			t.Errorf("orders[%d] note = %q, want no_commit", p.Partition, p.Note)
		}
	}
}

// waitForMembers polls consumer until group has a member.
func waitForMembers(t *testing.T, k *testKafka, consumer *kgo.Client, group string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		pollCtx, pollCancel := context.WithTimeout(ctx, 100*time.Millisecond)
		consumer.PollFetches(pollCtx)
		pollCancel()
		described, err := k.Admin.DescribeGroups(ctx, group)
		if err == nil && described[group].State == "Stable" && len(described[group].Members) > 0 {
			return
		}
	}
	t.Fatalf("group %s did not become Stable with a member", group)
}
