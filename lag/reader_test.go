package lag

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testCluster is an in-process kfake broker with an admin client.
type testCluster struct {
	fake   *kfake.Cluster
	client *kgo.Client
	admin  *kadm.Client
}

func newTestCluster(t *testing.T) *testCluster {
	t.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(fake.Close)
	client, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(client.Close)
	return &testCluster{fake: fake, client: client, admin: kadm.NewClient(client)}
}

// createTopic creates topic with one partition per entry of records and
// produces that many records to each partition.
func (tc *testCluster) createTopic(t *testing.T, topic string, records []int) {
	t.Helper()
	ctx := context.Background()
	if _, err := tc.admin.CreateTopic(ctx, int32(len(records)), 1, nil, topic); err != nil {
		t.Fatalf("CreateTopic(%s): %v", topic, err)
	}
	tc.produce(t, topic, records)
}

func (tc *testCluster) produce(t *testing.T, topic string, records []int) {
	t.Helper()
	var batch []*kgo.Record
	for partition, n := range records {
		for i := range n {
			batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(partition), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	if err := tc.client.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// commit commits offsets per partition of topic for group; a negative offset
// leaves that partition uncommitted.
func (tc *testCluster) commit(t *testing.T, group, topic string, offsets []int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for partition, at := range offsets {
		if at >= 0 {
			os.Add(kadm.Offset{Topic: topic, Partition: int32(partition), At: at, LeaderEpoch: -1})
		}
	}
	if err := tc.admin.CommitAllOffsets(context.Background(), group, os); err != nil {
		t.Fatalf("CommitAllOffsets(%s): %v", group, err)
	}
}

func (tc *testCluster) read(t *testing.T, q Query) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return NewReader("test", tc.client).Read(ctx, []Query{q})[0]
}

// row is the comparable part of a Partition.
type row struct {
	Topic     string
	Partition int32
	Committed int64
	LogEnd    int64
	OffsetLag any
	Anomaly   Anomaly
}

func rows(s *Snapshot) []row {
	var out []row
	for _, p := range s.Partitions {
		r := row{Topic: p.Topic, Partition: p.Partition, Committed: p.Committed, LogEnd: p.LogEnd, OffsetLag: "-", Anomaly: p.Anomaly}
		if p.HasOffsetLag {
			r.OffsetLag = p.OffsetLag
		}
		out = append(out, r)
	}
	return out
}

func TestReadMixedPartitions(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "orders", []int{100, 200, 0, 50, 10, 10})
	tc.commit(t, "flink", "orders", []int64{50, 200, -1, 60, 2, 10})

	res := tc.read(t, Query{Cluster: "test", Group: "flink", Topics: []string{"orders"}})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	want := []row{
		{"orders", 0, 50, 100, int64(50), NoAnomaly},
		{"orders", 1, 200, 200, int64(0), NoAnomaly},
		{"orders", 2, -1, 0, "-", NoCommit},
		{"orders", 3, 60, 50, int64(-10), CommitAheadOfEnd},
		{"orders", 4, 2, 10, int64(8), NoAnomaly},
		{"orders", 5, 10, 10, int64(0), NoAnomaly},
	}
	if diff := cmp.Diff(want, rows(res.Snapshot)); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}

	var total int64
	for _, p := range res.Snapshot.Partitions {
		n, err := EffectiveLag(p, Policy{})
		if err != nil {
			t.Fatalf("EffectiveLag(%d): %v", p.Partition, err)
		}
		total += n
	}
	if total != 59 {
		t.Errorf("total effective lag = %d, want 59 (50+0+1+0+8+0)", total)
	}
}

func TestReadAllCommittedTopics(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{5, 5})
	tc.createTopic(t, "b", []int{7})
	tc.createTopic(t, "unrelated", []int{1000})
	tc.commit(t, "g", "a", []int64{1, -1})
	tc.commit(t, "g", "b", []int64{7})

	res := tc.read(t, Query{Cluster: "test", Group: "g"})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	if got, want := res.Snapshot.Topics(), []string{"a", "b"}; !cmp.Equal(got, want) {
		t.Errorf("Topics() = %v, want %v (only topics with commits)", got, want)
	}
	// Partition a[1] has no commit but belongs to a committed topic, as a
	// partition added after the group started would.
	if got := res.Snapshot.Partitions[1].Anomaly; got != NoCommit {
		t.Errorf("a[1] anomaly = %v, want no_commit", got)
	}
}

func TestReadGroupWithoutCommits(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{5})

	res := tc.read(t, Query{Cluster: "test", Group: "never-ran"})
	if !errors.Is(res.Err, ErrGroupNotFound) {
		t.Fatalf("Read without topics: err = %v, want ErrGroupNotFound", res.Err)
	}

	res = tc.read(t, Query{Cluster: "test", Group: "never-ran", Topics: []string{"a"}})
	if res.Err != nil {
		t.Fatalf("Read with topic: %v", res.Err)
	}
	if got := res.Snapshot.Partitions[0].Anomaly; got != NoCommit {
		t.Errorf("anomaly = %v, want no_commit", got)
	}
}

func TestReadMissingTopic(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{5})
	tc.commit(t, "g", "a", []int64{5})

	res := tc.read(t, Query{Cluster: "test", Group: "g", Topics: []string{"a", "gone"}})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	if diff := cmp.Diff([]string{"gone"}, res.Snapshot.MissingTopics); diff != "" {
		t.Errorf("MissingTopics (-want +got):\n%s", diff)
	}
}

func TestReadDeletedTopicKeepsCommits(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{5})
	tc.createTopic(t, "old", []int{5})
	tc.commit(t, "g", "a", []int64{2})
	tc.commit(t, "g", "old", []int64{1})
	if _, err := tc.admin.DeleteTopic(context.Background(), "old"); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}

	res := tc.read(t, Query{Cluster: "test", Group: "g"})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	if got := res.Snapshot.Topics(); !cmp.Equal(got, []string{"a"}) {
		t.Errorf("Topics() = %v, want [a]", got)
	}
	// Apache Kafka drops a deleted topic's commits; a broker that keeps them
	// must still not make the deleted topic count.
	for _, topic := range res.Snapshot.DeletedTopics {
		if topic != "old" {
			t.Errorf("DeletedTopics contains %q, want only old", topic)
		}
	}
}

func TestReadCommitBelowLogStart(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{10})
	tc.commit(t, "g", "a", []int64{2})
	deletes := make(kadm.Offsets)
	deletes.Add(kadm.Offset{Topic: "a", Partition: 0, At: 6})
	if _, err := tc.admin.DeleteRecords(context.Background(), deletes); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}

	res := tc.read(t, Query{Cluster: "test", Group: "g", Topics: []string{"a"}})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	p := res.Snapshot.Partitions[0]
	if p.LogStart != 6 || p.Anomaly != CommitBelowLogStart {
		t.Fatalf("partition = start %d anomaly %v, want start 6 anomaly commit_below_log_start", p.LogStart, p.Anomaly)
	}
	if !p.HasOffsetLag || p.OffsetLag != 8 {
		t.Errorf("offset lag = %d (%v), want 8 as kafka-consumer-groups prints it", p.OffsetLag, p.HasOffsetLag)
	}
	if n, _ := EffectiveLag(p, Policy{Reset: Earliest}); n != 4 {
		t.Errorf("EffectiveLag(earliest) = %d, want 4 (end 10 - log start 6)", n)
	}
	if n, _ := EffectiveLag(p, Policy{Reset: Latest}); n != 0 {
		t.Errorf("EffectiveLag(latest) = %d, want 0", n)
	}
}

func TestReadUnreachableCluster(t *testing.T) {
	client, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"), kgo.RequestRetries(0))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	res := NewReader("down", client).Read(ctx, []Query{{Cluster: "down", Group: "g", Topics: []string{"a"}}})[0]
	var unavailable *UnavailableError
	if !errors.As(res.Err, &unavailable) {
		t.Fatalf("Read: err = %v, want *UnavailableError", res.Err)
	}
	if unavailable.Cluster != "down" || unavailable.Group != "g" {
		t.Errorf("UnavailableError names cluster %q group %q, want down and g", unavailable.Cluster, unavailable.Group)
	}
	if res.Snapshot != nil {
		t.Errorf("Read returned a snapshot with an error: %+v", res.Snapshot)
	}
}

func TestReadBatchesGroups(t *testing.T) {
	tc := newTestCluster(t)
	tc.createTopic(t, "a", []int{3, 3})
	tc.commit(t, "g1", "a", []int64{1, 1})
	tc.commit(t, "g2", "a", []int64{3, 2})

	ctx := context.Background()
	results := NewReader("test", tc.client).Read(ctx, []Query{
		{Cluster: "test", Group: "g1", Topics: []string{"a"}},
		{Cluster: "test", Group: "g2"},
	})
	for i, want := range []int64{4, 1} {
		if results[i].Err != nil {
			t.Fatalf("query %d: %v", i, results[i].Err)
		}
		var got int64
		for _, p := range results[i].Snapshot.Partitions {
			got += p.OffsetLag
		}
		if got != want {
			t.Errorf("query %d: lag = %d, want %d", i, got, want)
		}
	}
}

func TestQueryNormalize(t *testing.T) {
	a := Query{Cluster: "c", Group: "g", Topics: []string{"b", "a", "b"}}.Normalize()
	b := Query{Cluster: "c", Group: "g", Topics: []string{"a", "b"}}.Normalize()
	if a.Key() != b.Key() {
		t.Errorf("keys differ for equal selections: %q vs %q", a.Key(), b.Key())
	}
	if diff := cmp.Diff([]string{"a", "b"}, a.Topics, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("Normalize topics (-want +got):\n%s", diff)
	}
}

func TestReadTransactionMarkersOnly(t *testing.T) {
	tc := newTestCluster(t)
	ctx := context.Background()
	if _, err := tc.admin.CreateTopic(ctx, 1, 1, nil, "txn"); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(tc.fake.ListenAddrs()...),
		kgo.TransactionalID("lag-test"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer producer.Close()
	for range 2 {
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("BeginTransaction: %v", err)
		}
		for i := range 3 {
			producer.Produce(ctx, &kgo.Record{Topic: "txn", Value: fmt.Appendf(nil, "%d", i)}, nil)
		}
		if err := producer.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("EndTransaction: %v", err)
		}
	}

	// Two transactions of 3 records and a marker each: offsets 0-2, marker
	// 3, records 4-6, marker 7, end 8. A consumer that read everything
	// commits 7, one offset short of the end.
	tc.commit(t, "caught-up", "txn", []int64{7})
	tc.commit(t, "behind", "txn", []int64{3})

	for _, tt := range []struct {
		group       string
		wantAnomaly Anomaly
		wantLag     int64
	}{
		{"caught-up", ControlRecordsOnly, 0},
		{"behind", NoAnomaly, 5},
	} {
		res := tc.read(t, Query{Cluster: "test", Group: tt.group, Topics: []string{"txn"}})
		if res.Err != nil {
			t.Fatalf("Read(%s): %v", tt.group, res.Err)
		}
		p := res.Snapshot.Partitions[0]
		if p.LogEnd != 8 {
			t.Fatalf("log end = %d, want 8 (6 records and 2 markers)", p.LogEnd)
		}
		if p.Anomaly != tt.wantAnomaly {
			t.Errorf("%s: anomaly = %v, want %v", tt.group, p.Anomaly, tt.wantAnomaly)
		}
		if got, _ := EffectiveLag(p, Policy{}); got != tt.wantLag {
			t.Errorf("%s: EffectiveLag = %d, want %d", tt.group, got, tt.wantLag)
		}
	}
}

func TestQueryKeyDistinguishesTopicLists(t *testing.T) {
	one := Query{Cluster: "c", Group: "g", Topics: []string{"a,b"}}.Key()
	two := Query{Cluster: "c", Group: "g", Topics: []string{"a", "b"}}.Key()
	if one == two {
		t.Errorf("Key() of topic %q equals Key() of topics a and b: %s", "a,b", one)
	}
}

func TestReadCommittedOpenTransaction(t *testing.T) {
	tc := newTestCluster(t)
	ctx := context.Background()
	if _, err := tc.admin.CreateTopic(ctx, 1, 1, nil, "txn"); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	producer, err := kgo.NewClient(
		kgo.SeedBrokers(tc.fake.ListenAddrs()...),
		kgo.TransactionalID("open-txn"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer producer.Close()
	produce := func() {
		for i := range 3 {
			producer.Produce(ctx, &kgo.Record{Topic: "txn", Value: fmt.Appendf(nil, "%d", i)}, nil)
		}
		if err := producer.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}

	// A committed transaction (records 0-2, marker 3), then an open one
	// (records 4-6): the high watermark is 7 and the last stable offset 4.
	if err := producer.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	produce()
	if err := producer.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("EndTransaction: %v", err)
	}
	if err := producer.BeginTransaction(); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	produce()
	tc.commit(t, "exactly-once", "txn", []int64{3})

	res := tc.read(t, Query{Cluster: "test", Group: "exactly-once", Topics: []string{"txn"}, Isolation: ReadCommitted})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	p := res.Snapshot.Partitions[0]
	if p.LogEnd != 7 || p.StableEnd != 4 {
		t.Fatalf("log end %d, stable end %d; want 7 and 4", p.LogEnd, p.StableEnd)
	}
	if p.Anomaly != ControlRecordsOnly {
		t.Errorf("anomaly = %v, want control_records_only: only the marker lies below the last stable offset", p.Anomaly)
	}
	if got, _ := EffectiveLag(p, Policy{}); got != 0 {
		t.Errorf("EffectiveLag = %d, want 0", got)
	}
}
