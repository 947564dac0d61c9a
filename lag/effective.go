package lag

import "fmt"

// Policy is the counting rule for partitions whose commit is missing or
// outside the log. It mirrors the keys of KEDA's kafka trigger.
type Policy struct {
	// Reset is the consumer's auto.offset.reset.
	Reset ResetPolicy
	// ScaleToZeroOnInvalidOffset counts a partition without a commit as 0
	// instead of 1 (Latest) or the whole log (Earliest).
	ScaleToZeroOnInvalidOffset bool
}

// EffectiveLag returns the number of records the group still has to read on
// p under policy. It returns an error when p's offsets are unknown, so that an
// unknown partition is never counted as zero.
//
// The rules:
//   - log-start ≤ commit ≤ end: end − commit, where end is the last stable
//     offset for read_committed queries;
//   - commit past the log end: 0;
//   - commit below log start: end − log start under Earliest, 0 under Latest;
//   - no commit: end − log start under Earliest and 1 under Latest, so that a
//     group that never ran still gets a consumer; 0 for both when
//     ScaleToZeroOnInvalidOffset is set;
//   - only transaction markers left to read: 0.
func EffectiveLag(p Partition, policy Policy) (int64, error) {
	if p.Err != nil {
		return 0, fmt.Errorf("%s[%d]: offsets unknown: %w", p.Topic, p.Partition, p.Err)
	}
	if p.LogEnd < 0 || p.LogStart < 0 {
		return 0, fmt.Errorf("%s[%d]: log offsets unknown", p.Topic, p.Partition)
	}
	// StableEnd is 0, not unset, when a transaction open since offset 0
	// holds back a read_committed consumer; only a negative value is unset.
	end := p.StableEnd
	if end < 0 || end > p.LogEnd {
		end = p.LogEnd
	}

	switch p.Anomaly {
	case NoCommit:
		switch {
		case policy.ScaleToZeroOnInvalidOffset:
			return 0, nil
		case policy.Reset == Earliest:
			return nonNegative(end - p.LogStart), nil
		default:
			return 1, nil
		}
	case CommitAheadOfEnd, ControlRecordsOnly:
		return 0, nil
	case CommitBelowLogStart:
		if policy.Reset == Earliest {
			return nonNegative(end - p.LogStart), nil
		}
		return 0, nil
	case Unknown:
		return 0, fmt.Errorf("%s[%d]: offsets unknown", p.Topic, p.Partition)
	}
	// A read_committed consumer can have committed past the last stable
	// offset of an open transaction but not past the high watermark.
	return nonNegative(end - p.Committed), nil
}

func nonNegative(n int64) int64 {
	return max(n, 0)
}

// Classify sets OffsetLag, HasOffsetLag and Anomaly from the offsets of p.
// Committed, LogStart, LogEnd and StableEnd must already be set.
func Classify(p *Partition) {
	if p.Err != nil || p.LogEnd < 0 {
		p.Anomaly = Unknown
		p.HasOffsetLag = false
		return
	}
	if p.Committed < 0 {
		p.Anomaly = NoCommit
		return
	}

	// kafka-consumer-groups prints log-end − commit without clamping.
	p.OffsetLag = p.LogEnd - p.Committed
	p.HasOffsetLag = true

	switch {
	case p.Committed > p.LogEnd:
		p.Anomaly = CommitAheadOfEnd
	case p.LogStart >= 0 && p.Committed < p.LogStart:
		p.Anomaly = CommitBelowLogStart
	default:
		p.Anomaly = NoAnomaly
	}
}
