package inspect

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

var takenAt = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// partition returns a lag row with OffsetLag set the way the lag reader
// sets it.
func partition(topic string, p int32, committed, start, end int64, anomaly lag.Anomaly) lag.Partition {
	row := lag.Partition{Topic: topic, Partition: p, Committed: committed, LogStart: start, LogEnd: end, StableEnd: end, Anomaly: anomaly}
	if committed >= 0 && end >= 0 {
		row.OffsetLag, row.HasOffsetLag = end-committed, true
	}
	return row
}

// mixedSnapshot has one partition of every kind: inside the log, no commit,
// commit ahead of end, commit below log start, control records only and
// unknown offsets.
func mixedSnapshot() *lag.Snapshot {
	unknown := partition("payments", 1, 7, -1, -1, lag.Unknown)
	unknown.Err = errors.New("NOT_LEADER_OR_FOLLOWER")
	return &lag.Snapshot{
		Query:   lag.Query{Cluster: "main", Group: "orders-flink"},
		TakenAt: takenAt,
		State:   "Stable",
		Members: 2,
		Partitions: []lag.Partition{
			partition("orders", 0, 50, 0, 100, lag.NoAnomaly),
			partition("orders", 1, -1, 0, 10, lag.NoCommit),
			partition("orders", 2, 60, 0, 50, lag.CommitAheadOfEnd),
			partition("orders", 3, 5, 20, 30, lag.CommitBelowLogStart),
			partition("payments", 0, 9, 0, 10, lag.ControlRecordsOnly),
			unknown,
		},
		DeletedTopics: []string{"old"},
	}
}

func TestNewGroupReportMixed(t *testing.T) {
	got := NewGroupReport(mixedSnapshot(), lag.Policy{Reset: lag.Latest})
	want := GroupReport{
		Cluster: "main", Group: "orders-flink", State: "Stable", Members: 2, TakenAt: takenAt,
		Partitions: []PartitionReport{
			{Topic: "orders", Partition: 0, CurrentOffset: ptr[int64](50), LogStartOffset: ptr[int64](0), LogEndOffset: ptr[int64](100),
				Lag: ptr[int64](50), EffectiveLag: ptr[int64](50)},
			{Topic: "orders", Partition: 1, LogStartOffset: ptr[int64](0), LogEndOffset: ptr[int64](10),
				EffectiveLag: ptr[int64](1), Note: "no_commit"},
			{Topic: "orders", Partition: 2, CurrentOffset: ptr[int64](60), LogStartOffset: ptr[int64](0), LogEndOffset: ptr[int64](50),
				Lag: ptr[int64](-10), EffectiveLag: ptr[int64](0), Note: "commit_ahead_of_end"},
			{Topic: "orders", Partition: 3, CurrentOffset: ptr[int64](5), LogStartOffset: ptr[int64](20), LogEndOffset: ptr[int64](30),
				Lag: ptr[int64](25), EffectiveLag: ptr[int64](0), Note: "commit_below_log_start"},
			{Topic: "payments", Partition: 0, CurrentOffset: ptr[int64](9), LogStartOffset: ptr[int64](0), LogEndOffset: ptr[int64](10),
				Lag: ptr[int64](1), EffectiveLag: ptr[int64](0), Note: "control_records_only"},
			{Topic: "payments", Partition: 1, CurrentOffset: ptr[int64](7), Note: "unknown", Error: "NOT_LEADER_OR_FOLLOWER"},
		},
		// The orders lag is 50 − 10 + 25 and its effective lag 50 + 1. The
		// payments lag is 1 from partition 0 alone, and its effective lag is
		// unknown because that of partition 1 is.
		Topics: []TopicReport{
			{Topic: "orders", Lag: ptr[int64](65), EffectiveLag: ptr[int64](51)},
			{Topic: "payments", Lag: ptr[int64](1)},
		},
		Lag:           ptr[int64](66),
		DeletedTopics: []string{"old"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NewGroupReport mismatch (-want +got):\n%s", diff)
	}
}

func TestNewGroupReportEarliest(t *testing.T) {
	got := NewGroupReport(mixedSnapshot(), lag.Policy{Reset: lag.Earliest})
	// Under earliest, no commit counts end − start (10) and a commit below
	// log start counts end − start (10).
	for _, tc := range []struct {
		partition int
		want      int64
	}{{1, 10}, {3, 10}} {
		p := got.Partitions[tc.partition]
		if p.EffectiveLag == nil || *p.EffectiveLag != tc.want {
			t.Errorf("orders[%d] effective lag = %v, want %d", p.Partition, p.EffectiveLag, tc.want)
		}
	}
	if got.Topics[0].EffectiveLag == nil || *got.Topics[0].EffectiveLag != 70 {
		t.Errorf("orders effective lag = %v, want 70 (50 + 10 + 0 + 10)", got.Topics[0].EffectiveLag)
	}
}

func TestNewGroupReportEmpty(t *testing.T) {
	got := NewGroupReport(&lag.Snapshot{Query: lag.Query{Cluster: "main", Group: "g"}, TakenAt: takenAt}, lag.Policy{})
	if got.Partitions == nil || got.Topics == nil {
		t.Errorf("NewGroupReport(empty): Partitions = %#v, Topics = %#v, want empty non-nil slices so JSON prints []",
			got.Partitions, got.Topics)
	}
	if got.Lag != nil {
		t.Errorf("NewGroupReport(empty).Lag = %d, want nil", *got.Lag)
	}
	if got.EffectiveLag == nil || *got.EffectiveLag != 0 {
		t.Errorf("NewGroupReport(empty).EffectiveLag = %v, want 0", got.EffectiveLag)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	committed := partition("txn", 0, 90, 0, 100, lag.NoAnomaly)
	committed.StableEnd = 95 // an open transaction
	snap := mixedSnapshot()
	snap.Query.Isolation = lag.ReadCommitted
	snap.Partitions = append(snap.Partitions, committed)

	for _, policy := range []lag.Policy{{Reset: lag.Latest}, {Reset: lag.Earliest}, {ScaleToZeroOnInvalidOffset: true}} {
		report := NewGroupReport(snap, policy)
		again := NewGroupReport(report.Snapshot(), policy)
		if diff := cmp.Diff(report, again); diff != "" {
			t.Errorf("policy %+v: report of the rebuilt snapshot differs (-original +rebuilt):\n%s", policy, diff)
		}
	}

	rebuilt := NewGroupReport(snap, lag.Policy{}).Snapshot()
	last := rebuilt.Partitions[len(rebuilt.Partitions)-1]
	if last.StableEnd != 95 {
		t.Errorf("rebuilt txn[0].StableEnd = %d, want 95 (commit 90 + effective lag 5)", last.StableEnd)
	}
	if p := rebuilt.Partitions[5]; p.Err == nil || p.Err.Error() != "NOT_LEADER_OR_FOLLOWER" || p.Anomaly != lag.Unknown {
		t.Errorf("rebuilt payments[1] = Err %v, Anomaly %v; want the error text and Unknown", p.Err, p.Anomaly)
	}
}

func TestAnomalyNamedUnknownNote(t *testing.T) {
	if got := anomalyNamed("from_a_newer_version"); got != lag.Unknown {
		t.Errorf("anomalyNamed(unrecognised) = %v, want Unknown", got)
	}
}

func TestDecodeReport(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		wantErr string
	}{
		{"valid", `{"schemaVersion": 1, "groups": []}`, ""},
		{"other version", `{"schemaVersion": 2, "groups": []}`, "schemaVersion 2"},
		{"missing version", `{"groups": []}`, "schemaVersion 0"},
		{"unknown field", `{"schemaVersion": 1, "groups": [], "extra": 1}`, `unknown field "extra"`},
		{"not json", `groups:`, "decoding lag report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeReport([]byte(tc.json))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("DecodeReport = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("DecodeReport = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestProtoRoundTrip(t *testing.T) {
	want := NewGroupReport(mixedSnapshot(), lag.Policy{})
	want.MissingTopics = []string{"gone"}
	got := GroupFromProto(GroupToProto(want))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GroupFromProto(GroupToProto(r)) mismatch (-want +got):\n%s", diff)
	}
}

func TestEnumsFromProto(t *testing.T) {
	if got, err := IsolationFromProto(inspectv1.Isolation_ISOLATION_UNSPECIFIED); err != nil || got != lag.ReadUncommitted {
		t.Errorf("IsolationFromProto(UNSPECIFIED) = %v, %v; want read_uncommitted", got, err)
	}
	if got, err := IsolationFromProto(inspectv1.Isolation_ISOLATION_READ_COMMITTED); err != nil || got != lag.ReadCommitted {
		t.Errorf("IsolationFromProto(READ_COMMITTED) = %v, %v; want read_committed", got, err)
	}
	if _, err := IsolationFromProto(inspectv1.Isolation(42)); err == nil {
		t.Error("IsolationFromProto(42) = nil error, want an error")
	}
	if got, err := ResetPolicyFromProto(inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_EARLIEST); err != nil || got != lag.Earliest {
		t.Errorf("ResetPolicyFromProto(EARLIEST) = %v, %v; want earliest", got, err)
	}
	if _, err := ResetPolicyFromProto(inspectv1.OffsetResetPolicy(42)); err == nil {
		t.Error("ResetPolicyFromProto(42) = nil error, want an error")
	}
}
