package lag

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListOffsets timestamps and isolation levels as the Kafka protocol defines
// them.
const (
	timestampLatest   = -1
	timestampEarliest = -2

	isolationUncommitted = 0
	isolationCommitted   = 1
)

// offsetMap contains one listed offset or error per partition.
type offsetMap map[string]map[int32]offsetOrErr

type offsetOrErr struct {
	offset int64
	err    error
}

func (m offsetMap) set(topic string, partition int32, v offsetOrErr) {
	ps := m[topic]
	if ps == nil {
		ps = make(map[int32]offsetOrErr)
		m[topic] = ps
	}
	ps[partition] = v
}

// get returns the offset of a partition, or -1 and an error when it is
// missing or failed.
func (m offsetMap) get(topic string, partition int32) (int64, error) {
	v, ok := m[topic][partition]
	if !ok {
		return -1, errors.New("no offset listed")
	}
	if v.err != nil {
		return -1, v.err
	}
	return v.offset, nil
}

// listedOffsets is the result of one metadata request and the ListOffsets
// rounds that follow it.
type listedOffsets struct {
	topics kadm.TopicDetails
	start  offsetMap
	end    offsetMap
	stable offsetMap
}

// listOffsets reads metadata for topics, then their log-start offsets, high
// watermarks and, when stable is set, last stable offsets. It returns an
// error only when metadata cannot be read; failures of single partitions or
// brokers are recorded per partition.
func (r *Reader) listOffsets(ctx context.Context, topics []string, stable bool) (*listedOffsets, error) {
	out := &listedOffsets{topics: kadm.TopicDetails{}, start: offsetMap{}, end: offsetMap{}, stable: offsetMap{}}
	if len(topics) == 0 {
		// kadm lists every topic for an empty list, which a Read never
		// needs.
		return out, nil
	}
	details, err := r.admin.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("reading topic metadata: %w", err)
	}
	out.topics = details

	// The rounds share no state, but they run one after another to keep the
	// load on each broker at one request at a time.
	r.listRound(ctx, details, timestampEarliest, isolationUncommitted, out.start)
	r.listRound(ctx, details, timestampLatest, isolationUncommitted, out.end)
	if stable {
		r.listRound(ctx, details, timestampLatest, isolationCommitted, out.stable)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if allFailed(details, out.end) {
		// Every partition failed: report the cluster as unavailable instead
		// of a snapshot made only of unknown partitions.
		return nil, fmt.Errorf("listing end offsets: %w", firstErr(out.end))
	}
	return out, nil
}

// listRound sends one ListOffsets request per partition leader.
func (r *Reader) listRound(ctx context.Context, details kadm.TopicDetails, timestamp int64, isolation int8, into offsetMap) {
	req := kmsg.NewPtrListOffsetsRequest()
	req.IsolationLevel = isolation
	for _, td := range details.Sorted() {
		if td.Err != nil {
			continue
		}
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = td.Topic
		for _, p := range td.Partitions.Numbers() {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = timestamp
			rp.CurrentLeaderEpoch = -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return
	}

	for _, shard := range r.client.RequestSharded(ctx, req) {
		sent := shard.Req.(*kmsg.ListOffsetsRequest)
		if shard.Err != nil {
			for _, t := range sent.Topics {
				for _, p := range t.Partitions {
					into.set(t.Topic, p.Partition, offsetOrErr{offset: -1, err: shard.Err})
				}
			}
			continue
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				v := offsetOrErr{offset: p.Offset, err: kerr.ErrorForCode(p.ErrorCode)}
				if v.err == nil && p.Offset < 0 {
					v.err = fmt.Errorf("broker %d listed offset %d", shard.Meta.NodeID, p.Offset)
				}
				into.set(t.Topic, p.Partition, v)
			}
		}
	}
}

// allFailed reports whether m has an error for every partition of details
// and details has at least one partition.
func allFailed(details kadm.TopicDetails, m offsetMap) bool {
	listed := false
	for _, td := range details {
		if td.Err != nil {
			continue
		}
		for _, p := range td.Partitions.Numbers() {
			listed = true
			if _, err := m.get(td.Topic, p); err == nil {
				return false
			}
		}
	}
	return listed
}

func firstErr(m offsetMap) error {
	for _, ps := range m {
		for _, v := range ps {
			if v.err != nil {
				return v.err
			}
		}
	}
	return errors.New("no offsets listed")
}
