package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// lagReport is the JSON that `lagscaler lag --output json` prints, schema
// version 1.
type lagReport struct {
	SchemaVersion int        `json:"schemaVersion"`
	Groups        []lagGroup `json:"groups"`
}

type lagGroup struct {
	Cluster      string         `json:"cluster"`
	Group        string         `json:"group"`
	State        string         `json:"state"`
	Members      int            `json:"members"`
	TakenAt      string         `json:"takenAt"`
	Partitions   []lagPartition `json:"partitions"`
	Lag          *int64         `json:"lag"`
	EffectiveLag *int64         `json:"effectiveLag"`
}

// lagPartition is one partition row. A nil offset or lag is JSON null: the
// value is unknown, or (for lag) kafka-consumer-groups would print "-".
type lagPartition struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	CurrentOffset  *int64 `json:"currentOffset"`
	LogStartOffset *int64 `json:"logStartOffset"`
	LogEndOffset   *int64 `json:"logEndOffset"`
	Lag            *int64 `json:"lag"`
	EffectiveLag   *int64 `json:"effectiveLag"`
	Note           string `json:"note"`
	Error          string `json:"error"`
}

func (p lagPartition) key() partitionKey {
	return partitionKey{Topic: p.Topic, Partition: p.Partition}
}

// offsets returns the row in kafka-consumer-groups notation.
func (p lagPartition) offsets() offsetColumns {
	return offsetColumns{
		CurrentOffset: formatOffset(p.CurrentOffset),
		LogEndOffset:  formatOffset(p.LogEndOffset),
		Lag:           formatOffset(p.Lag),
	}
}

func formatOffset(v *int64) string {
	if v == nil {
		return unknown
	}
	return strconv.FormatInt(*v, 10)
}

// runLagscaler runs the lagscaler binary and returns its standard output.
// A non-zero exit fails the test with standard error.
func runLagscaler(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, err := execLagscaler(ctx, t, args...)
	if err != nil {
		t.Fatalf("lagscaler %s: %v\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout
}

// execLagscaler runs the lagscaler binary. The error is an *exec.ExitError
// for a non-zero exit code.
func execLagscaler(ctx context.Context, t *testing.T, args ...string,
) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, needBinary(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// exitCode returns the exit code in err from execLagscaler, 0 for nil and -1
// when the command did not exit normally.
func exitCode(err error) int {
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	default:
		return -1
	}
}

// lagJSON runs `lagscaler lag --output json` for one group and returns that
// group's report.
func lagJSON(ctx context.Context, t *testing.T, bootstrap, group string) lagGroup {
	t.Helper()
	out := runLagscaler(ctx, t, "lag", "--bootstrap-server", bootstrap, "--group", group,
		"--output", "json")
	var report lagReport
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("lagscaler lag --output json: invalid JSON: %v\n%s", err, out)
	}
	if report.SchemaVersion != 1 {
		t.Errorf("lagscaler lag --output json: schemaVersion = %d, want 1", report.SchemaVersion)
	}
	if len(report.Groups) != 1 || report.Groups[0].Group != group {
		t.Fatalf("lagscaler lag --output json: groups = %+v, want exactly group %s", report.Groups, group)
	}
	return report.Groups[0]
}

// lagTable runs `lagscaler lag --output table` for one group and returns
// the columns that it shares with kafka-consumer-groups, keyed by partition.
func lagTable(ctx context.Context, t *testing.T, bootstrap, group string) map[partitionKey]offsetColumns {
	t.Helper()
	out := runLagscaler(ctx, t, "lag", "--bootstrap-server", bootstrap, "--group", group,
		"--output", "table")
	table, err := parseTable(out, "TOPIC")
	if err != nil {
		t.Fatalf("lagscaler lag --output table: %v\n%s", err, out)
	}
	if len(table) == 0 {
		t.Fatalf("lagscaler lag --output table: no rows\n%s", out)
	}
	for _, name := range []string{"CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"} {
		if _, ok := table[0][name]; !ok {
			t.Fatalf("lagscaler lag --output table: no %s column\n%s", name, out)
		}
	}

	rows := make(map[partitionKey]offsetColumns)
	for _, row := range table {
		// Summary lines, such as a total, have no partition number.
		key, err := row.key()
		if err != nil {
			continue
		}
		rows[key] = row.offsets()
	}
	return rows
}
