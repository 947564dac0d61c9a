package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// noCommit in a list of commits leaves that partition without a committed
// offset.
const noCommit int64 = -1

// newClient returns a client for the test cluster with opts added, closed
// when the test ends. franz-go v1.22 refreshes metadata at most once per
// MetadataMinAge, 5s by default. With that default, a producer that starts
// before the broker's metadata lists the leaders of a new topic stalls for 5s.
func newClient(t *testing.T, bootstrap string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(bootstrap),
		kgo.MetadataMinAge(100 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient(%s): %v", bootstrap, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns an admin client for the test cluster that is closed when
// the test ends.
func newAdmin(t *testing.T, bootstrap string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, bootstrap))
}

var (
	nameCounter atomic.Int64
	nonAlnum    = regexp.MustCompile(`[^a-zA-Z0-9]+`)
)

// uniqueName returns a topic or group name derived from the test name. The
// time and a counter keep names unique across runs against a long-lived
// external cluster.
func uniqueName(t *testing.T, kind string) string {
	base := nonAlnum.ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("%s-%s-%d-%d", strings.ToLower(strings.Trim(base, "-")), kind,
		time.Now().UnixMilli(), nameCounter.Add(1))
}

// createTopic creates a topic with the given partition count and replication
// factor 1.
func createTopic(ctx context.Context, t *testing.T, adm *kadm.Client, topic string,
	partitions int,
) {
	t.Helper()
	if _, err := adm.CreateTopic(ctx, int32(partitions), 1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// produceCounts produces exactly counts[p] records to partition p of topic.
// The producer is idempotent but not transactional, so the log-end offset of
// partition p grows by exactly counts[p].
func produceCounts(ctx context.Context, t *testing.T, bootstrap, topic string, counts []int) {
	t.Helper()
	cl := newClient(t, bootstrap, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	var records []*kgo.Record
	for p, n := range counts {
		for i := range n {
			records = append(records, &kgo.Record{
				Topic:     topic,
				Partition: int32(p),
				Value:     fmt.Appendf(nil, "p%d-r%d", p, i),
			})
		}
	}
	if err := cl.ProduceSync(ctx, records...).FirstErr(); err != nil {
		t.Fatalf("produce %d records to %s: %v", len(records), topic, err)
	}
}

// commitOffsets commits commits[p] for partition p of topic in group, and
// skips partitions whose entry is noCommit. Kafka accepts a commit past the
// log-end offset, which is how tests create a commit ahead of the end.
// Committing this way needs a group without members.
func commitOffsets(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string,
	commits []int64,
) {
	t.Helper()
	offsets := make(kadm.Offsets)
	for p, at := range commits {
		if at == noCommit {
			continue
		}
		offsets.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	resp, err := adm.CommitOffsets(ctx, group, offsets)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatalf("commit offsets %v for group %s on %s: %v", commits, group, topic, err)
	}
}

// joinGroup starts a consumer group member that is assigned every partition
// of topic, commits commits[p] for partition p (skipping noCommit) through
// the group protocol and stays in the group until the test ends. It never
// polls and never commits on its own, so nothing else moves the commits.
func joinGroup(ctx context.Context, t *testing.T, bootstrap, group, topic string, commits []int64) {
	t.Helper()
	assigned := make(chan struct{}, 1)
	cl := newClient(t, bootstrap,
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}),
	)

	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatalf("member of group %s got no assignment: %v", group, ctx.Err())
	}

	toCommit := map[string]map[int32]kgo.EpochOffset{topic: {}}
	for p, at := range commits {
		if at != noCommit {
			toCommit[topic][int32(p)] = kgo.EpochOffset{Epoch: -1, Offset: at}
		}
	}
	var commitErr error
	onDone := func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse,
		err error,
	) {
		if err != nil {
			commitErr = err
			return
		}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("partition %d: %w", rp.Partition, err)
				}
			}
		}
	}
	cl.CommitOffsetsSync(ctx, toCommit, onDone)
	if commitErr != nil {
		t.Fatalf("member commit %v for group %s on %s: %v", commits, group, topic, commitErr)
	}
}
