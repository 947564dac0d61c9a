package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newGroupsKafka returns kfake with three groups: flink (Empty, commits on
// orders), payments-app (Empty, commits on orders and payments) and joined
// (Stable, one member, no commits).
func newGroupsKafka(t *testing.T) *testKafka {
	t.Helper()
	k := newOrdersKafka(t)
	k.CreateTopic(t, "payments", []int{30})
	k.Commit(t, "payments-app", "payments", []int64{10})
	k.Commit(t, "payments-app", "orders", []int64{100, 200, 0, 50, 10, 10})

	consumer, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(k.bootstrap, ",")...),
		kgo.ConsumerGroup("joined"), kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(consumer.Close)
	waitForMembers(t, k, consumer, "joined")
	return k
}

func TestGroupsTable(t *testing.T) {
	k := newGroupsKafka(t)
	r := runCLI(t, "groups", "--bootstrap-server", k.bootstrap)
	if r.code != exitOK {
		t.Fatalf("groups exit code = %d (%v), want 0", r.code, r.err)
	}
	want := `GROUP         STATE   MEMBERS  TOPICS           LAG  EFFECTIVE-LAG  NOTE
flink         Empty   0        orders           48   59
joined        Stable  1        -                -    -              no commits
payments-app  Empty   0        orders,payments  20   20
`
	if diff := cmp.Diff(want, r.stdout); diff != "" {
		t.Errorf("groups output mismatch (-want +got):\n%s", diff)
	}
}

func TestGroupsFilters(t *testing.T) {
	k := newGroupsKafka(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"all", nil, []string{"flink", "joined", "payments-app"}},
		{"state, any case", []string{"--state", "empty"}, []string{"flink", "payments-app"}},
		{"two states", []string{"--state", "Stable", "--state", "Dead"}, []string{"joined"}},
		{"pattern", []string{"--pattern", "pay.*|joined"}, []string{"joined", "payments-app"}},
		{"pattern matches whole ID", []string{"--pattern", "pay"}, []string{}},
		{"state and pattern", []string{"--state", "Empty", "--pattern", "f.*"}, []string{"flink"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"groups", "--bootstrap-server", k.bootstrap, "-o", "json"}, tc.args...)...)
			if r.code != exitOK {
				t.Fatalf("exit code = %d (%v), want 0", r.code, r.err)
			}
			var report groupsReport
			if err := json.Unmarshal([]byte(r.stdout), &report); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, r.stdout)
			}
			got := []string{}
			for _, g := range report.Groups {
				got = append(got, g.Group)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("groups mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGroupsJSON(t *testing.T) {
	k := newGroupsKafka(t)
	r := runCLI(t, "groups", "--bootstrap-server", k.bootstrap, "-o", "json", "--pattern", "joined|payments-app")
	if r.code != exitOK {
		t.Fatalf("exit code = %d (%v), want 0", r.code, r.err)
	}
	var got groupsReport
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("output is not JSON: %v", err)
	}
	n := func(v int64) *int64 { return &v }
	want := groupsReport{SchemaVersion: 1, Groups: []groupSummary{
		{Cluster: "default", Group: "joined", State: "Stable", Members: 1, Topics: []string{}, Note: "no_commits"},
		// Every orders partition is committed at its end, and payments lags
		// 30 − 10.
		{Cluster: "default", Group: "payments-app", State: "Empty", Topics: []string{"orders", "payments"},
			Lag: n(20), EffectiveLag: n(20)},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groups --output json mismatch (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.stdout, `"topics": []`) {
		t.Errorf("a group without commits should print \"topics\": [], got:\n%s", r.stdout)
	}
}

func TestGroupsSkipsOtherGroupTypes(t *testing.T) {
	listed := kadm.ListedGroups{
		"flink":   {Group: "flink"},
		"classic": {Group: "classic", GroupType: "classic", ProtocolType: "consumer"},
		"new":     {Group: "new", GroupType: "consumer", ProtocolType: "consumer"},
		"connect": {Group: "connect", GroupType: "classic", ProtocolType: "connect"},
		"share":   {Group: "share", GroupType: "share", ProtocolType: "share"},
	}
	want := []string{"classic", "flink", "new"}
	if diff := cmp.Diff(want, consumerGroupNames(listed)); diff != "" {
		t.Errorf("consumerGroupNames mismatch (-want +got):\n%s", diff)
	}
}

func TestGroupsFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"bad state", []string{"--bootstrap-server", "127.0.0.1:1", "--state", "Running"},
			[]string{`--state "Running"`, "Stable, Empty"}},
		{"bad pattern", []string{"--bootstrap-server", "127.0.0.1:1", "--pattern", "("}, []string{`--pattern "("`}},
		{"bad output", []string{"--bootstrap-server", "127.0.0.1:1", "-o", "csv"}, []string{`--output "csv"`}},
		{"no cluster", nil, []string{"--bootstrap-server"}},
		{"config file missing", []string{"--config", "/nonexistent/lagscaler.yaml"}, []string{"--config", "/nonexistent/lagscaler.yaml"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"groups"}, tc.args...)...)
			if r.code != exitUsage {
				t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitUsage)
			}
			for _, want := range tc.wantErr {
				if r.err == nil || !strings.Contains(r.err.Error(), want) {
					t.Errorf("error = %v, want it to contain %q", r.err, want)
				}
			}
		})
	}
}

func TestGroupsUnreachable(t *testing.T) {
	r := runCLI(t, "groups", "--bootstrap-server", "127.0.0.1:1", "--timeout", "2s")
	if r.code != exitFailure {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitFailure)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "127.0.0.1:1") {
		t.Errorf("error = %v, want it to name the broker", r.err)
	}
}
