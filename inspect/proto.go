package inspect

import (
	"fmt"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

// GroupToProto converts g to its wire form. MissingTopics and DeletedTopics
// travel too, although the JSON document leaves them out.
func GroupToProto(g GroupReport) *inspectv1.GroupReport {
	out := &inspectv1.GroupReport{
		Cluster:       g.Cluster,
		Group:         g.Group,
		State:         g.State,
		Members:       int32(g.Members),
		TakenAt:       timestamppb.New(g.TakenAt),
		Lag:           g.Lag,
		EffectiveLag:  g.EffectiveLag,
		MissingTopics: g.MissingTopics,
		DeletedTopics: g.DeletedTopics,
	}
	for _, p := range g.Partitions {
		out.Partitions = append(out.Partitions, &inspectv1.PartitionReport{
			Topic:          p.Topic,
			Partition:      p.Partition,
			CurrentOffset:  p.CurrentOffset,
			LogStartOffset: p.LogStartOffset,
			LogEndOffset:   p.LogEndOffset,
			Lag:            p.Lag,
			EffectiveLag:   p.EffectiveLag,
			Note:           p.Note,
			Error:          p.Error,
		})
	}
	for _, t := range g.Topics {
		out.Topics = append(out.Topics, &inspectv1.TopicReport{
			Topic: t.Topic, Lag: t.Lag, EffectiveLag: t.EffectiveLag,
		})
	}
	return out
}

// GroupFromProto converts the wire form back. A nil message gives a zero
// report.
func GroupFromProto(g *inspectv1.GroupReport) GroupReport {
	out := GroupReport{
		Cluster:       g.GetCluster(),
		Group:         g.GetGroup(),
		State:         g.GetState(),
		Members:       int(g.GetMembers()),
		Partitions:    make([]PartitionReport, 0, len(g.GetPartitions())),
		Topics:        make([]TopicReport, 0, len(g.GetTopics())),
		Lag:           g.Lag,
		EffectiveLag:  g.EffectiveLag,
		MissingTopics: g.GetMissingTopics(),
		DeletedTopics: g.GetDeletedTopics(),
	}
	if g.GetTakenAt() != nil {
		out.TakenAt = g.GetTakenAt().AsTime()
	}
	for _, p := range g.GetPartitions() {
		out.Partitions = append(out.Partitions, PartitionReport{
			Topic:          p.GetTopic(),
			Partition:      p.GetPartition(),
			CurrentOffset:  p.CurrentOffset,
			LogStartOffset: p.LogStartOffset,
			LogEndOffset:   p.LogEndOffset,
			Lag:            p.Lag,
			EffectiveLag:   p.EffectiveLag,
			Note:           p.GetNote(),
			Error:          p.GetError(),
		})
	}
	for _, t := range g.GetTopics() {
		out.Topics = append(out.Topics, TopicReport{Topic: t.GetTopic(), Lag: t.Lag, EffectiveLag: t.EffectiveLag})
	}
	return out
}

// IsolationToProto converts an isolation level to its wire form.
func IsolationToProto(i lag.Isolation) inspectv1.Isolation {
	if i == lag.ReadCommitted {
		return inspectv1.Isolation_ISOLATION_READ_COMMITTED
	}
	return inspectv1.Isolation_ISOLATION_READ_UNCOMMITTED
}

// IsolationFromProto converts the wire form of an isolation level.
// Unspecified reads as read_uncommitted, and an unknown value is an error.
func IsolationFromProto(i inspectv1.Isolation) (lag.Isolation, error) {
	switch i {
	case inspectv1.Isolation_ISOLATION_UNSPECIFIED, inspectv1.Isolation_ISOLATION_READ_UNCOMMITTED:
		return lag.ReadUncommitted, nil
	case inspectv1.Isolation_ISOLATION_READ_COMMITTED:
		return lag.ReadCommitted, nil
	}
	return 0, fmt.Errorf("invalid isolation %d: use ISOLATION_READ_UNCOMMITTED or ISOLATION_READ_COMMITTED", i)
}

// ResetPolicyToProto converts a reset policy to its wire form.
func ResetPolicyToProto(p lag.ResetPolicy) inspectv1.OffsetResetPolicy {
	if p == lag.Earliest {
		return inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_EARLIEST
	}
	return inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_LATEST
}

// ResetPolicyFromProto converts the wire form of a reset policy.
// Unspecified reads as latest, and an unknown value is an error.
func ResetPolicyFromProto(p inspectv1.OffsetResetPolicy) (lag.ResetPolicy, error) {
	switch p {
	case inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_UNSPECIFIED, inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_LATEST:
		return lag.Latest, nil
	case inspectv1.OffsetResetPolicy_OFFSET_RESET_POLICY_EARLIEST:
		return lag.Earliest, nil
	}
	return 0, fmt.Errorf("invalid offset reset policy %d: use OFFSET_RESET_POLICY_LATEST or OFFSET_RESET_POLICY_EARLIEST", p)
}
