package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/explain")

// explainCases maps each ScaledObject under testdata/explain to the flags
// it is explained with, besides -f and --snapshot.
var explainCases = map[string][]string{
	"basic":                {"--current-replicas", "2"},
	"capped":               {"--current-replicas", "4"},
	"partition-limitation": nil,
	"scale-from-zero":      {"--current-replicas", "0"},
	"inactive":             {"--current-replicas", "3"},
	"earliest-even":        {"--current-replicas", "1"},
	"read-committed":       {"--current-replicas", "2"},
	"unknown-partition":    {"--current-replicas", "2"},
	"missing-group":        nil,
}

// TestExplainGolden explains every ScaledObject under testdata/explain
// against the saved snapshot.json and compares the output and exit code with
// NAME.golden. Run with -update to rewrite the golden files.
func TestExplainGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/explain/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no ScaledObjects under testdata/explain: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			extra, ok := explainCases[name]
			if !ok {
				t.Fatalf("%s has no entry in explainCases", file)
			}
			args := append([]string{"explain", "-f", file, "--snapshot", "testdata/explain/snapshot.json"}, extra...)
			r := runCLI(t, args...)
			got := r.stdout + fmt.Sprintf("--- exit code %d\n", r.code)
			if r.err != nil {
				got += r.err.Error() + "\n"
			}

			golden := filepath.Join("testdata/explain", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("explain %s mismatch (-%s +got):\n%s", strings.Join(extra, " "), golden, diff)
			}
		})
	}
}

func TestExplainMetadataFromKafka(t *testing.T) {
	k := newOrdersKafka(t)
	r := runCLI(t, "explain", "--bootstrap-server", k.bootstrap,
		"--metadata", "consumerGroup=flink", "--metadata", "topic=orders", "--metadata", "lagThreshold=20",
		"--metadata", "excludePersistentLag=true", "--current-replicas", "2", "--max-replicas", "5")
	if r.code != exitOK {
		t.Fatalf("explain exit code = %d (%v), want 0\n%s", r.code, r.err, r.stdout)
	}
	// Effective lag 50 + 1 + 8 = 59 over 6 partitions: ceil(59 / 20) = 3.
	for _, want := range []string{
		"trigger 0 (external): ",
		"cluster default, group flink, topic orders, read_uncommitted",
		"no commit: counts 1, so that a group that never ran gets a consumer (offsetResetPolicy latest)",
		"commit ahead of log end: counts 0",
		"excludePersistentLag: a single read cannot tell how long a commit has been unchanged",
		"value 59, target 20 per replica",
		"at 2 replicas now, the HPA picks 3 replicas",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain output does not contain %q:\n%s", want, r.stdout)
		}
	}
}

func TestExplainScaledObjectFromKafka(t *testing.T) {
	k := newOrdersKafka(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "so.yaml")
	// A multi-document file: the Deployment is skipped.
	data := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: flink
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: flink
spec:
  maxReplicaCount: 3
  triggers:
    - type: external
      metadata:
        consumerGroup: flink
        lagThreshold: "10"
`
	if err := os.WriteFile(so, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "explain", "-f", so, "--bootstrap-server", k.bootstrap)
	if r.code != exitOK {
		t.Fatalf("explain exit code = %d (%v), want 0\n%s", r.code, r.err, r.stdout)
	}
	// ceil(59 / 10) = 6 replicas, clamped to maxReplicaCount 3.
	for _, want := range []string{"ScaledObject flink\n", "every topic the group has commits for", "the HPA picks 3 replicas"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("explain output does not contain %q:\n%s", want, r.stdout)
		}
	}
}

func TestExplainMissingGroupFromKafka(t *testing.T) {
	k := newOrdersKafka(t)
	r := runCLI(t, "explain", "--bootstrap-server", k.bootstrap, "--metadata", "consumerGroup=nope")
	if r.code != exitNotFound {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitNotFound)
	}
	if !strings.Contains(r.stdout, "no decision: ") {
		t.Errorf("explain output does not say there is no decision:\n%s", r.stdout)
	}
}

func TestExplainUnreachable(t *testing.T) {
	r := runCLI(t, "explain", "--bootstrap-server", "127.0.0.1:1", "--timeout", "2s", "--metadata", "consumerGroup=flink")
	if r.code != exitFailure {
		t.Errorf("exit code = %d (%v), want %d", r.code, r.err, exitFailure)
	}
	if r.err == nil || !strings.Contains(r.err.Error(), "127.0.0.1:1") {
		t.Errorf("error = %v, want it to name the broker", r.err)
	}
}

func TestExplainFlagErrors(t *testing.T) {
	dir := t.TempDir()
	noTrigger := filepath.Join(dir, "cpu.yaml")
	os.WriteFile(noTrigger, []byte("kind: ScaledObject\nmetadata: {name: cpu}\nspec:\n  triggers:\n    - type: cpu\n      metadata: {value: \"80\"}\n"), 0o644)
	list := filepath.Join(dir, "list.yaml")
	os.WriteFile(list, []byte("kind: ScaledObject\nspec:\n  triggers:\n    - type: external\n      metadata: {consumerGroup: g, topic: [a, b]}\n"), 0o644)
	inverted := filepath.Join(dir, "inverted.yaml")
	os.WriteFile(inverted, []byte("kind: ScaledObject\nmetadata: {name: x}\nspec:\n  minReplicaCount: 5\n  maxReplicaCount: 2\n  triggers:\n    - type: external\n      metadata: {consumerGroup: g}\n"), 0o644)
	snapshot := "testdata/explain/snapshot.json"

	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"no trigger", []string{"--snapshot", snapshot}, []string{"-f", "--metadata"}},
		{"file and metadata", []string{"-f", "x.yaml", "--metadata", "consumerGroup=g", "--snapshot", snapshot}, []string{"exclusive"}},
		{"metadata without =", []string{"--metadata", "consumerGroup", "--snapshot", snapshot}, []string{`--metadata "consumerGroup"`, "key=value"}},
		{"metadata key twice", []string{"--metadata", "topic=a", "--metadata", "topic=b", "--snapshot", snapshot}, []string{"set twice"}},
		{"invalid metadata", []string{"--metadata", "consumerGroup=orders-flink", "--metadata", "lagThreshold=-1", "--snapshot", snapshot},
			[]string{"lagThreshold", "-1"}},
		{"unknown metadata key", []string{"--metadata", "consumerGroup=orders-flink", "--metadata", "lagthreshold=5", "--snapshot", snapshot},
			[]string{"did you mean lagThreshold"}},
		{"credentials in metadata", []string{"--metadata", "consumerGroup=orders-flink", "--metadata", "password=x", "--snapshot", snapshot},
			[]string{"password", "credentials"}},
		{"no lagscaler trigger", []string{"-f", noTrigger, "--snapshot", snapshot}, []string{"no trigger of type external"}},
		{"list as metadata value", []string{"-f", list, "--snapshot", snapshot}, []string{"decoding document 1 of", "list.yaml"}},
		{"min above max", []string{"-f", inverted, "--snapshot", snapshot}, []string{"minReplicaCount 5 is above maxReplicaCount 2"}},
		{"missing file", []string{"-f", filepath.Join(dir, "none.yaml"), "--snapshot", snapshot}, []string{"none.yaml"}},
		{"bad snapshot", []string{"--metadata", "consumerGroup=g", "--snapshot", noTrigger}, []string{"--snapshot"}},
		{"snapshot and bootstrap", []string{"--metadata", "consumerGroup=g", "--snapshot", snapshot, "--bootstrap-server", "127.0.0.1:1"},
			[]string{"exclusive"}},
		{"negative current", []string{"--metadata", "consumerGroup=g", "--snapshot", snapshot, "--current-replicas", "-2"},
			[]string{"--current-replicas -2"}},
		{"zero max", []string{"--metadata", "consumerGroup=g", "--snapshot", snapshot, "--max-replicas", "0"},
			[]string{"--max-replicas 0"}},
		{"metadata min above max", []string{"--metadata", "consumerGroup=orders-flink", "--snapshot", snapshot,
			"--min-replicas", "5", "--max-replicas", "2"}, []string{"--min-replicas 5", "--max-replicas 2"}},
		{"metadata min above default max", []string{"--metadata", "consumerGroup=orders-flink", "--snapshot", snapshot,
			"--min-replicas", "101"}, []string{"--min-replicas 101", "--max-replicas 100"}},
		{"file min above max flags", []string{"-f", "testdata/explain/basic.yaml", "--snapshot", snapshot,
			"--min-replicas", "5", "--max-replicas", "2"}, []string{"--min-replicas 5", "--max-replicas 2"}},
		{"file min above max flag", []string{"-f", "testdata/explain/basic.yaml", "--snapshot", snapshot,
			"--min-replicas", "11"}, []string{"minReplicaCount 11 is above maxReplicaCount 10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"explain"}, tc.args...)...)
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

func TestExplainMetadataOverridesReplicas(t *testing.T) {
	r := runCLI(t, "explain", "-f", "testdata/explain/basic.yaml", "--snapshot", "testdata/explain/snapshot.json",
		"--min-replicas", "3", "--max-replicas", "4", "--current-replicas", "3")
	if r.code != exitOK {
		t.Fatalf("exit code = %d (%v), want 0", r.code, r.err)
	}
	if !strings.Contains(r.stdout, "minReplicaCount 3, maxReplicaCount 4, so the HPA ranges over 3..4") {
		t.Errorf("--min-replicas and --max-replicas did not override the ScaledObject:\n%s", r.stdout)
	}
}
