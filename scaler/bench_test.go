package scaler

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
	"github.com/lagscaler/lagscaler/lag"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
)

// requestCounter counts the requests a kgo client writes to brokers.
type requestCounter struct {
	mu    sync.Mutex
	total int
}

func (c *requestCounter) OnBrokerWrite(kgo.BrokerMetadata, int16, int, time.Duration, time.Duration, error) {
	c.mu.Lock()
	c.total++
	c.mu.Unlock()
}

func (c *requestCounter) load() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// BenchmarkGetMetricsIsActive100ScaledObjects measures what KEDA's HPA path
// costs when 100 ScaledObjects scale on the same group. Each operation is one
// GetMetrics followed by one IsActive, as KEDA calls them. 100 concurrent
// callers make these calls to a Server backed by a real lag.Cache over an
// in-process Kafka broker. It reports latency percentiles of the pair and
// the Kafka requests the whole run caused.
func BenchmarkGetMetricsIsActive100ScaledObjects(b *testing.B) {
	kafka := kafkatest.New(b, kfake.NumBrokers(3), kfake.SeedTopics(12, "orders"))
	seedCommits(b, kafka)

	counter := &requestCounter{}
	client := kafka.NewClient(b, kgo.WithHooks(counter))
	cache := lag.NewCache([]*lag.Reader{lag.NewReader("main", client)}, lag.CacheOptions{RefreshInterval: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		cache.Run(ctx)
		close(ran)
	}()
	defer func() {
		cancel()
		<-ran
	}()
	ts := startServer(b, cache, Options{Clusters: []Cluster{{Name: "main", BootstrapServers: kafka.Addrs()}}})

	const scaledObjects = 100
	refs := make([]*pb.ScaledObjectRef, scaledObjects)
	for i := range refs {
		refs[i] = &pb.ScaledObjectRef{Name: fmt.Sprintf("so-%d", i), Namespace: "flink",
			ScalerMetadata: map[string]string{KeyConsumerGroup: "flink", KeyTopic: "orders"}}
	}
	if _, err := ts.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: refs[0]}); err != nil {
		b.Fatalf("warm-up GetMetrics: %v", err)
	}
	before := counter.load()

	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range scaledObjects {
		calls := b.N / scaledObjects
		if i < b.N%scaledObjects {
			calls++
		}
		wg.Go(func() {
			own := make([]time.Duration, 0, calls)
			for range calls {
				callCtx, done := context.WithTimeout(ctx, 3*time.Second)
				t0 := time.Now()
				_, err := ts.client.GetMetrics(callCtx, &pb.GetMetricsRequest{ScaledObjectRef: refs[i]})
				if err == nil {
					_, err = ts.client.IsActive(callCtx, refs[i])
				}
				own = append(own, time.Since(t0))
				done()
				if err != nil {
					b.Errorf("so-%d: %v", i, err)
					return
				}
			}
			mu.Lock()
			latencies = append(latencies, own...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	elapsed := time.Since(start)

	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds()), "p99-µs")
	}
	requests := counter.load() - before
	b.ReportMetric(float64(requests), "kafka-requests")
	b.ReportMetric(float64(requests)/elapsed.Seconds(), "kafka-requests/s")
}

// seedCommits produces to and commits half of every partition of "orders".
func seedCommits(b *testing.B, kafka *kafkatest.Cluster) {
	b.Helper()
	records := make([]int, 12)
	commits := make([]int64, 12)
	for p := range records {
		records[p] = 100
		commits[p] = 50
	}
	kafka.Produce(b, "orders", records)
	kafka.Commit(b, "flink", "orders", commits)
}

// manyRanges returns n merged ranges of two partitions each, with a gap of
// one partition between ranges: {0,1}, {3,4}, {6,7} and so on.
func manyRanges(n int) []PartitionRange {
	ranges := make([]PartitionRange, n)
	for i := range ranges {
		first := int32(3 * i)
		ranges[i] = PartitionRange{First: first, Last: first + 1}
	}
	return ranges
}

// BenchmarkSelectsPartition measures one partitionLimitation lookup among
// 500,000 ranges.
func BenchmarkSelectsPartition(b *testing.B) {
	tr := Trigger{Partitions: manyRanges(500_000)}
	last := tr.Partitions[len(tr.Partitions)-1].Last
	var selected int
	p := int32(0)
	for b.Loop() {
		if tr.SelectsPartition(p) {
			selected++
		}
		p = (p + 7919) % (last + 2)
	}
	if selected == 0 {
		b.Fatal("SelectsPartition selected nothing")
	}
}
