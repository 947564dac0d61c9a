package lag

import (
	"context"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// maxControlGap is the largest end − commit gap that is probed for
// transaction markers. A caught-up consumer of a transactional topic sits one
// marker behind the end per transaction since its last commit, so markers
// show up as small gaps. Larger gaps are real lag in practice.
const maxControlGap = 16

// controlBatchAttribute is the record batch attribute bit that marks a batch
// of control records (transaction commit or abort markers).
const controlBatchAttribute = 0x20

// maxProbeResults bounds the cached probe results. Past it the cache starts
// over, because results are useless once the commit moves.
const maxProbeResults = 100_000

// controlProbe finds partitions whose only unread offsets are transaction
// markers. It fetches the few offsets between commit and end from the
// partition leader and caches the result for each (commit, end) pair, so a
// steady caught-up group costs one small Fetch per partition per change.
type controlProbe struct {
	client *kgo.Client

	mu    sync.Mutex
	known map[probeKey]bool
}

type probeKey struct {
	topic      string
	partition  int32
	start, end int64
}

func newControlProbe(client *kgo.Client) *controlProbe {
	return &controlProbe{client: client, known: make(map[probeKey]bool)}
}

// apply marks the partitions of snap whose unread offsets are all control
// records as ControlRecordsOnly. A probe that fails leaves the partition as
// it was, which can only overstate lag.
func (c *controlProbe) apply(ctx context.Context, snap *Snapshot, topics kadm.TopicDetails) {
	for i := range snap.Partitions {
		p := &snap.Partitions[i]
		if p.Anomaly != NoAnomaly || p.Err != nil {
			continue
		}
		// A read_committed consumer reads up to the last stable offset, so
		// the records of an open transaction after it do not count here.
		end := p.LogEnd
		if snap.Query.Isolation == ReadCommitted && p.StableEnd >= p.Committed && p.StableEnd < end {
			end = p.StableEnd
		}
		gap := end - p.Committed
		if gap <= 0 || gap > maxControlGap {
			continue
		}
		if c.onlyControl(ctx, p, end, topics) {
			p.Anomaly = ControlRecordsOnly
		}
	}
}

func (c *controlProbe) onlyControl(ctx context.Context, p *Partition, end int64, topics kadm.TopicDetails) bool {
	key := probeKey{topic: p.Topic, partition: p.Partition, start: p.Committed, end: end}
	c.mu.Lock()
	v, ok := c.known[key]
	c.mu.Unlock()
	if ok {
		return v
	}

	td, ok := topics[p.Topic]
	if !ok {
		return false
	}
	pd, ok := td.Partitions[p.Partition]
	if !ok || pd.Leader < 0 {
		return false
	}
	only, err := c.fetch(ctx, pd.Leader, td.ID, p, end)
	if err != nil {
		return false
	}

	c.mu.Lock()
	if len(c.known) > maxProbeResults {
		c.known = make(map[probeKey]bool)
	}
	c.known[key] = only
	c.mu.Unlock()
	return only
}

// fetch reads from the commit up to end and reports whether every batch
// in that range is a control batch. Aborted data batches count as data, which
// overstates the lag of a read_committed consumer but never understates it.
func (c *controlProbe) fetch(ctx context.Context, leader int32, topicID kadm.TopicID, p *Partition, end int64) (bool, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	req.IsolationLevel = isolationUncommitted
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = p.Topic
	rt.TopicID = topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = p.Partition
	rp.FetchOffset = p.Committed
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = 1 << 20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	resp, err := req.RequestWith(ctx, c.client.Broker(int(leader)))
	if err != nil {
		return false, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return false, nil
	}
	fp := resp.Topics[0].Partitions[0]
	if fp.ErrorCode != 0 {
		return false, nil
	}
	return batchesOnlyControl(fp.RecordBatches, p.Committed, end), nil
}

// batchesOnlyControl reports whether raw record batches cover [from, to)
// with control batches only.
func batchesOnlyControl(raw []byte, from, to int64) bool {
	covered := from
	for len(raw) > 0 && covered < to {
		var batch kmsg.RecordBatch
		if err := batch.ReadFrom(raw); err != nil {
			return false
		}
		size := 12 + int(batch.Length) // FirstOffset (8) and Length (4) precede Length's bytes.
		if size > len(raw) || size <= 12 {
			return false
		}
		raw = raw[size:]

		last := batch.FirstOffset + int64(batch.LastOffsetDelta)
		if last < covered {
			continue
		}
		if batch.Attributes&controlBatchAttribute == 0 {
			return false
		}
		covered = last + 1
	}
	return covered >= to
}
