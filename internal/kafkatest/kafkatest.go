// Package kafkatest starts kfake, franz-go's in-process Kafka broker, on
// 127.0.0.1 and seeds it with topics, records and consumer group commits.
//
// The package is for tests only. Its files are not _test.go files so that
// the tests of other packages can import it, but no product package may
// import it, and a test in this package fails when a non-test file of the
// module does.
package kafkatest

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster is an in-process kfake cluster with a client and an admin client
// connected to it. Client produces with kgo.ManualPartitioner, so each
// record goes to the partition its Partition field names.
type Cluster struct {
	Fake   *kfake.Cluster
	Client *kgo.Client
	Admin  *kadm.Client
}

// New starts a one-broker kfake cluster. It applies opts after that default,
// so kfake.NumBrokers in opts overrides it. The cluster and its clients close
// when the test ends, and New stops the test if either fails to start.
func New(tb testing.TB, opts ...kfake.Opt) *Cluster {
	tb.Helper()
	fake, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		tb.Fatalf("kfake.NewCluster: %v", err)
	}
	tb.Cleanup(fake.Close)
	c := &Cluster{Fake: fake}
	c.Client = c.NewClient(tb, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	c.Admin = kadm.NewClient(c.Client)
	return c
}

// Addrs returns the host:port listen addresses of the brokers.
func (c *Cluster) Addrs() []string {
	return c.Fake.ListenAddrs()
}

// NewClient returns a client seeded with the brokers of c and built with
// opts. The client closes when the test ends.
func (c *Cluster) NewClient(tb testing.TB, opts ...kgo.Opt) *kgo.Client {
	tb.Helper()
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.Addrs()...)}, opts...)...)
	if err != nil {
		tb.Fatalf("kgo.NewClient: %v", err)
	}
	tb.Cleanup(client.Close)
	return client
}

// CreateTopic creates topic with one partition per entry of records and a
// replication factor of 1, then produces records[p] records to partition p.
func (c *Cluster) CreateTopic(tb testing.TB, topic string, records []int) {
	tb.Helper()
	if _, err := c.Admin.CreateTopic(tb.Context(), int32(len(records)), 1, nil, topic); err != nil {
		tb.Fatalf("CreateTopic(%s): %v", topic, err)
	}
	c.Produce(tb, topic, records)
}

// Produce appends records[p] records to partition p of topic.
func (c *Cluster) Produce(tb testing.TB, topic string, records []int) {
	tb.Helper()
	var batch []*kgo.Record
	for partition, n := range records {
		for i := range n {
			batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(partition), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	if len(batch) == 0 {
		return
	}
	if err := c.Client.ProduceSync(tb.Context(), batch...).FirstErr(); err != nil {
		tb.Fatalf("produce to %s: %v", topic, err)
	}
}

// Commit commits offsets[p] on partition p of topic for group. A negative
// offset leaves that partition uncommitted.
func (c *Cluster) Commit(tb testing.TB, group, topic string, offsets []int64) {
	tb.Helper()
	commits := make(kadm.Offsets)
	for partition, at := range offsets {
		if at >= 0 {
			commits.Add(kadm.Offset{Topic: topic, Partition: int32(partition), At: at, LeaderEpoch: -1})
		}
	}
	if err := c.Admin.CommitAllOffsets(tb.Context(), group, commits); err != nil {
		tb.Fatalf("CommitAllOffsets(%s): %v", group, err)
	}
}
