package inspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lagscaler/lagscaler/lag"
)

// SchemaVersion is the version of the Report document. It changes whenever
// a field is added, removed or changes meaning.
const SchemaVersion = 1

// Report is the document printed by `lagscaler lag --output json`.
type Report struct {
	SchemaVersion int           `json:"schemaVersion"`
	Groups        []GroupReport `json:"groups"`
}

// GroupReport is the lag of one consumer group at one time.
type GroupReport struct {
	Cluster string `json:"cluster"`
	Group   string `json:"group"`
	// State is the group state from the coordinator (Stable, Empty, Dead,
	// ...), or "" when the group could not be described.
	State   string `json:"state"`
	Members int    `json:"members"`
	// TakenAt is when the committed offsets were read.
	TakenAt time.Time `json:"takenAt"`
	// Partitions are sorted by topic, then partition, unless a caller
	// reorders them for display.
	Partitions []PartitionReport `json:"partitions"`
	// Topics are the per-topic sums, sorted by topic.
	Topics []TopicReport `json:"topics"`
	// Lag is the sum of the partitions' Lag, or nil when no partition has
	// one.
	Lag *int64 `json:"lag"`
	// EffectiveLag is the sum of the partitions' EffectiveLag, or nil when
	// any of them is unknown.
	EffectiveLag *int64 `json:"effectiveLag"`

	// MissingTopics are requested topics that do not exist. They are not
	// part of the JSON document.
	MissingTopics []string `json:"-"`
	// DeletedTopics are topics the group has commits for that no longer
	// exist. They are not part of the JSON document.
	DeletedTopics []string `json:"-"`
}

// PartitionReport is one partition of a GroupReport. A nil offset is
// unknown, or for CurrentOffset, not committed.
type PartitionReport struct {
	Topic string `json:"topic"`
	// Partition is -1 in the single row of a topic whose metadata could not
	// be read.
	Partition      int32  `json:"partition"`
	CurrentOffset  *int64 `json:"currentOffset"`
	LogStartOffset *int64 `json:"logStartOffset"`
	// LogEndOffset is the high watermark.
	LogEndOffset *int64 `json:"logEndOffset"`
	// Lag is LogEndOffset − CurrentOffset, unclamped, as
	// kafka-consumer-groups prints it. It is nil where that tool prints "-":
	// no commit, or an unknown end offset.
	Lag *int64 `json:"lag"`
	// EffectiveLag is the number of records the group still has to read
	// under the report's reset policy, or nil when unknown.
	EffectiveLag *int64 `json:"effectiveLag"`
	// Note is the lag.Anomaly name (no_commit, commit_ahead_of_end, ...), or
	// "" when the commit is inside the log.
	Note string `json:"note"`
	// Error is the reason the partition's offsets are unknown, or "".
	Error string `json:"error"`
}

// TopicReport is the sum over the partitions of one topic, with the same nil
// rules as the GroupReport sums.
type TopicReport struct {
	Topic        string `json:"topic"`
	Lag          *int64 `json:"lag"`
	EffectiveLag *int64 `json:"effectiveLag"`
}

// NewGroupReport converts s into a report, computing effective lag under
// policy. The partitions keep the snapshot's order.
func NewGroupReport(s *lag.Snapshot, policy lag.Policy) GroupReport {
	g := GroupReport{
		Cluster:       s.Query.Cluster,
		Group:         s.Query.Group,
		State:         s.State,
		Members:       s.Members,
		TakenAt:       s.TakenAt.UTC(),
		Partitions:    make([]PartitionReport, 0, len(s.Partitions)),
		MissingTopics: s.MissingTopics,
		DeletedTopics: s.DeletedTopics,
	}
	for _, p := range s.Partitions {
		g.Partitions = append(g.Partitions, newPartitionReport(p, policy))
	}
	g.Sum()
	return g
}

func newPartitionReport(p lag.Partition, policy lag.Policy) PartitionReport {
	r := PartitionReport{
		Topic:          p.Topic,
		Partition:      p.Partition,
		CurrentOffset:  offsetOrNil(p.Committed),
		LogStartOffset: offsetOrNil(p.LogStart),
		LogEndOffset:   offsetOrNil(p.LogEnd),
		Note:           p.Anomaly.String(),
	}
	if p.HasOffsetLag {
		r.Lag = ptr(p.OffsetLag)
	}
	if p.Err != nil {
		r.Error = p.Err.Error()
	}
	// EffectiveLag fails exactly when the offsets are unknown, and its error
	// repeats p.Err, which is already in r.Error.
	if n, err := lag.EffectiveLag(p, policy); err == nil {
		r.EffectiveLag = ptr(n)
	}
	return r
}

// Sum recomputes Topics, Lag and EffectiveLag from Partitions. A sum of lag
// counts the partitions that have one, negative values included, the way a
// reader adds up the LAG column. A sum of effective lag is nil when any of
// its partitions is unknown, because a partial sum would understate it.
func (g *GroupReport) Sum() {
	g.Topics = make([]TopicReport, 0)
	var total sum
	topics := map[string]*sum{}
	var order []string
	for _, p := range g.Partitions {
		s, ok := topics[p.Topic]
		if !ok {
			s = &sum{}
			topics[p.Topic] = s
			order = append(order, p.Topic)
		}
		s.add(p)
		total.add(p)
	}
	slices.Sort(order)
	for _, topic := range order {
		s := topics[topic]
		g.Topics = append(g.Topics, TopicReport{Topic: topic, Lag: s.lag(), EffectiveLag: s.effectiveLag()})
	}
	g.Lag, g.EffectiveLag = total.lag(), total.effectiveLag()
}

// sum accumulates lag over partitions.
type sum struct {
	offsetLag, effective int64
	hasOffsetLag         bool
	unknown              bool
}

func (s *sum) add(p PartitionReport) {
	if p.Lag != nil {
		s.offsetLag += *p.Lag
		s.hasOffsetLag = true
	}
	if p.EffectiveLag == nil {
		s.unknown = true
	} else {
		s.effective += *p.EffectiveLag
	}
}

func (s *sum) lag() *int64 {
	if !s.hasOffsetLag {
		return nil
	}
	return ptr(s.offsetLag)
}

func (s *sum) effectiveLag() *int64 {
	if s.unknown {
		return nil
	}
	return ptr(s.effective)
}

// Snapshot rebuilds the lag snapshot that g was made from, for computing a
// scaling decision from a saved report. Unknown offsets become -1 and the
// partition error becomes an opaque error with the same text.
//
// A report does not carry the last stable offset. Snapshot derives it from
// the effective lag of rows whose commit is inside the log, which reproduces
// those rows' effective lag exactly. For every other row it uses the high
// watermark, so a read_committed report explained under the earliest policy
// can overstate the lag of partitions without a usable commit. The time each
// commit was first seen is not in a report either and stays zero, so
// persistent-lag exclusion never applies to a rebuilt snapshot.
func (g GroupReport) Snapshot() *lag.Snapshot {
	s := &lag.Snapshot{
		Query:         lag.Query{Cluster: g.Cluster, Group: g.Group},
		TakenAt:       g.TakenAt,
		State:         g.State,
		Members:       g.Members,
		MissingTopics: g.MissingTopics,
		DeletedTopics: g.DeletedTopics,
	}
	for _, r := range g.Partitions {
		s.Partitions = append(s.Partitions, r.partition())
	}
	return s
}

func (r PartitionReport) partition() lag.Partition {
	p := lag.Partition{
		Topic:     r.Topic,
		Partition: r.Partition,
		Committed: valueOr(r.CurrentOffset, -1),
		LogStart:  valueOr(r.LogStartOffset, -1),
		LogEnd:    valueOr(r.LogEndOffset, -1),
		Anomaly:   anomalyNamed(r.Note),
	}
	p.StableEnd = p.LogEnd
	if p.Anomaly == lag.NoAnomaly && r.CurrentOffset != nil && r.EffectiveLag != nil {
		p.StableEnd = p.Committed + *r.EffectiveLag
	}
	if r.Lag != nil {
		p.OffsetLag, p.HasOffsetLag = *r.Lag, true
	}
	if r.Error != "" {
		p.Err = errors.New(r.Error)
		p.Anomaly = lag.Unknown
	}
	return p
}

// anomalyNamed returns the anomaly whose name is note. An unrecognised
// note, from a newer lagscaler, counts as Unknown so that its lag is never
// taken as valid.
func anomalyNamed(note string) lag.Anomaly {
	if note == "" {
		return lag.NoAnomaly
	}
	for _, a := range lag.Anomalies() {
		if a.String() == note {
			return a
		}
	}
	return lag.Unknown
}

// DecodeReport parses a Report from JSON and checks its schema version.
// Unknown fields are errors, so that a document of another schema is not
// half read.
func DecodeReport(data []byte) (*Report, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decoding lag report: %w", err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("lag report has schemaVersion %d; this lagscaler reads schemaVersion %d",
			r.SchemaVersion, SchemaVersion)
	}
	return &r, nil
}

// offsetOrNil returns nil for the -1 that lag uses for an unknown offset.
func offsetOrNil(offset int64) *int64 {
	if offset < 0 {
		return nil
	}
	return ptr(offset)
}

func valueOr(v *int64, fallback int64) int64 {
	if v == nil {
		return fallback
	}
	return *v
}

func ptr[T any](v T) *T { return &v }
