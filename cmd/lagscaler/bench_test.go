package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/lagscaler/lagscaler/internal/config"
)

// BenchmarkLagCommand1000Partitions runs `lagscaler lag` in-process, from
// flag parsing to the printed table, for one group over a 1,000-partition
// topic on kfake. Every partition lags 20 records, more than the gap that
// makes the lag reader probe for transaction markers. Each run is therefore
// the batched read alone: connect, OffsetFetch, DescribeGroups, Metadata and
// two ListOffsets.
func BenchmarkLagCommand1000Partitions(b *testing.B) {
	const partitions, records = 1000, 20
	k := newTestKafka(b, 1)
	perPartition := make([]int, partitions)
	commits := make([]int64, partitions)
	for i := range perPartition {
		perPartition[i] = records
	}
	k.CreateTopic(b, "orders", perPartition)
	k.Commit(b, "flink", "orders", commits)

	args := []string{"lag", "--bootstrap-server", k.bootstrap, "--group", "flink"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		root := newRootCommand()
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		root.SetArgs(args)
		if err := root.ExecuteContext(ctx); err != nil {
			b.Fatalf("lag: %v", err)
		}
	}
}

// requestCounter counts the requests a client writes, by API key.
type requestCounter struct {
	mu     sync.Mutex
	counts map[int16]int
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	c.mu.Lock()
	c.counts[key]++
	c.mu.Unlock()
}

func (c *requestCounter) reset() map[int16]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := c.counts
	c.counts = map[int16]int{}
	return counts
}

// BenchmarkRefresh200Groups measures one refresh of `lagscaler lag`, the
// work --watch repeats. It reads 200 groups on a 3-broker kfake cluster with
// 10 topics of 12 partitions each and reports the Kafka requests it sends
// per refresh by API key.
//
// The lag reader batches every group into one OffsetFetch and one
// DescribeGroups per group coordinator and one Metadata request. Each
// partition leader then gets one ListOffsets request for log-start offsets
// and one for log-end offsets, so the ListOffsets count does not grow with
// groups or partitions. franz-go serves a Metadata request from its cache
// when the last one is younger than kgo.MetadataMinAge (1s in
// config.Cluster.ClientOptions). Back-to-back refreshes here therefore show
// a fraction of a Metadata request each, and a --watch refresh sends one.
func BenchmarkRefresh200Groups(b *testing.B) {
	const brokers, topics, partitions, groups = 3, 10, 12, 200
	k := newTestKafka(b, brokers)
	perPartition := make([]int, partitions)
	for i := range perPartition {
		perPartition[i] = 30
	}
	commits := make([]int64, partitions) // 30 behind: no transaction-marker probe
	names := make([]string, groups)
	for t := range topics {
		k.CreateTopic(b, fmt.Sprintf("topic-%02d", t), perPartition)
	}
	for g := range groups {
		names[g] = fmt.Sprintf("group-%03d", g)
		// Each group reads two topics, so the groups overlap on topics.
		k.Commit(b, names[g], fmt.Sprintf("topic-%02d", g%topics), commits)
		k.Commit(b, names[g], fmt.Sprintf("topic-%02d", (g+1)%topics), commits)
	}

	counter := &requestCounter{counts: map[int16]int{}}
	cluster := config.Cluster{Name: "default", BootstrapServers: strings.Split(k.bootstrap, ",")}
	reader, err := newKafkaReader(cluster, 10*time.Second, kgo.WithHooks(counter))
	if err != nil {
		b.Fatal(err)
	}
	src := &kafkaLagSource{lagRequest: lagRequest{groups: names}, kafka: reader}
	defer src.close()

	ctx := context.Background()
	// The first refresh also connects and finds coordinators, which --watch
	// does not repeat.
	if res, err := src.fetch(ctx); err != nil || len(res.groups) != groups {
		b.Fatalf("warm-up refresh: %d groups, %v", len(res.groups), err)
	}
	counter.reset()

	for b.Loop() {
		res, err := src.fetch(ctx)
		if err != nil || len(res.groups) != groups {
			b.Fatalf("refresh: %d groups, %v", len(res.groups), err)
		}
	}

	counts := counter.reset()
	total := 0
	var keys []int16
	for key, n := range counts {
		total += n
		keys = append(keys, key)
	}
	slices.Sort(keys)
	for _, key := range keys {
		b.ReportMetric(float64(counts[key])/float64(b.N), kmsg.NameForKey(key)+"/op")
	}
	b.ReportMetric(float64(total)/float64(b.N), "requests/op")

	listOffsets := float64(counts[kmsg.ListOffsets.Int16()]) / float64(b.N)
	if listOffsets > 2*brokers {
		b.Errorf("ListOffsets requests per refresh = %.1f, want at most 2 per broker (%d)", listOffsets, 2*brokers)
	}
}
