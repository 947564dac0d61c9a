package lag

import (
	"errors"
	"testing"
)

func TestEffectiveLag(t *testing.T) {
	latest := Policy{Reset: Latest}
	earliest := Policy{Reset: Earliest}
	zeroLatest := Policy{Reset: Latest, ScaleToZeroOnInvalidOffset: true}
	zeroEarliest := Policy{Reset: Earliest, ScaleToZeroOnInvalidOffset: true}

	part := func(committed, start, end int64) Partition {
		p := Partition{Topic: "t", Committed: committed, LogStart: start, LogEnd: end, StableEnd: end}
		Classify(&p)
		return p
	}
	stable := func(p Partition, lso int64) Partition {
		p.StableEnd = lso
		return p
	}

	tests := []struct {
		name   string
		p      Partition
		policy Policy
		want   int64
	}{
		{"inside log", part(40, 0, 100), latest, 60},
		{"caught up", part(100, 0, 100), latest, 0},
		{"commit ahead of end is zero, not negative", part(60, 0, 50), latest, 0},
		{"commit ahead of end under earliest", part(60, 0, 50), earliest, 0},
		{"below log start, latest", part(2, 6, 10), latest, 0},
		{"below log start, earliest counts from log start", part(2, 6, 10), earliest, 4},
		{"no commit, latest counts one", part(-1, 0, 0), latest, 1},
		{"no commit, latest on a full log counts one", part(-1, 0, 500), latest, 1},
		{"no commit, earliest counts retained records", part(-1, 30, 500), earliest, 470},
		{"no commit, scale to zero, latest", part(-1, 30, 500), zeroLatest, 0},
		{"no commit, scale to zero, earliest", part(-1, 30, 500), zeroEarliest, 0},
		{"read committed stops at the last stable offset", stable(part(40, 0, 100), 70), latest, 30},
		{"commit inside an open transaction", stable(part(80, 0, 100), 70), latest, 0},
		{"transaction open since offset 0", stable(part(0, 0, 7), 0), latest, 0},
		{"stable end unset", stable(part(40, 0, 100), -1), latest, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EffectiveLag(tt.p, tt.policy)
			if err != nil {
				t.Fatalf("EffectiveLag: %v", err)
			}
			if got != tt.want {
				t.Errorf("EffectiveLag(commit %d, start %d, end %d, %v) = %d, want %d",
					tt.p.Committed, tt.p.LogStart, tt.p.LogEnd, tt.policy.Reset, got, tt.want)
			}
		})
	}
}

func TestEffectiveLagControlRecords(t *testing.T) {
	p := Partition{Topic: "t", Committed: 99, LogStart: 0, LogEnd: 100, StableEnd: 100, Anomaly: ControlRecordsOnly}
	if got, err := EffectiveLag(p, Policy{}); err != nil || got != 0 {
		t.Errorf("EffectiveLag(control records only) = %d, %v, want 0, nil", got, err)
	}
}

func TestEffectiveLagUnknown(t *testing.T) {
	tests := []struct {
		name string
		p    Partition
	}{
		{"partition error", Partition{Committed: 5, LogStart: 0, LogEnd: 10, Err: errors.New("NOT_LEADER_OR_FOLLOWER")}},
		{"end unknown", Partition{Committed: 5, LogStart: 0, LogEnd: -1}},
		{"start unknown", Partition{Committed: 5, LogStart: -1, LogEnd: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Classify(&tt.p)
			got, err := EffectiveLag(tt.p, Policy{})
			if err == nil {
				t.Fatalf("EffectiveLag = %d, nil error; want an error for unknown offsets", got)
			}
		})
	}
}

func TestClassifyOffsetLag(t *testing.T) {
	tests := []struct {
		name      string
		p         Partition
		wantLag   int64
		wantValid bool
		want      Anomaly
	}{
		{"normal", Partition{Committed: 5, LogStart: 0, LogEnd: 10}, 5, true, NoAnomaly},
		{"ahead prints negative", Partition{Committed: 60, LogStart: 0, LogEnd: 50}, -10, true, CommitAheadOfEnd},
		{"no commit prints dash", Partition{Committed: -1, LogStart: 0, LogEnd: 50}, 0, false, NoCommit},
		{"end unknown prints dash", Partition{Committed: 3, LogStart: 0, LogEnd: -1}, 0, false, Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Classify(&tt.p)
			if tt.p.HasOffsetLag != tt.wantValid || (tt.wantValid && tt.p.OffsetLag != tt.wantLag) {
				t.Errorf("offset lag = %d (valid %v), want %d (valid %v)", tt.p.OffsetLag, tt.p.HasOffsetLag, tt.wantLag, tt.wantValid)
			}
			if tt.p.Anomaly != tt.want {
				t.Errorf("anomaly = %v, want %v", tt.p.Anomaly, tt.want)
			}
		})
	}
}
