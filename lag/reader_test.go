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
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
)

func read(t *testing.T, tc *kafkatest.Cluster, q Query) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return NewReader("test", tc.Client).Read(ctx, []Query{q})[0]
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "orders", []int{100, 200, 0, 50, 10, 10})
	tc.Commit(t, "flink", "orders", []int64{50, 200, -1, 60, 2, 10})

	res := read(t, tc, Query{Cluster: "test", Group: "flink", Topics: []string{"orders"}})
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{5, 5})
	tc.CreateTopic(t, "b", []int{7})
	tc.CreateTopic(t, "unrelated", []int{1000})
	tc.Commit(t, "g", "a", []int64{1, -1})
	tc.Commit(t, "g", "b", []int64{7})

	res := read(t, tc, Query{Cluster: "test", Group: "g"})
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{5})

	res := read(t, tc, Query{Cluster: "test", Group: "never-ran"})
	if !errors.Is(res.Err, ErrGroupNotFound) {
		t.Fatalf("Read without topics: err = %v, want ErrGroupNotFound", res.Err)
	}

	res = read(t, tc, Query{Cluster: "test", Group: "never-ran", Topics: []string{"a"}})
	if res.Err != nil {
		t.Fatalf("Read with topic: %v", res.Err)
	}
	if got := res.Snapshot.Partitions[0].Anomaly; got != NoCommit {
		t.Errorf("anomaly = %v, want no_commit", got)
	}
}

func TestReadMissingTopic(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{5})
	tc.Commit(t, "g", "a", []int64{5})

	res := read(t, tc, Query{Cluster: "test", Group: "g", Topics: []string{"a", "gone"}})
	if res.Err != nil {
		t.Fatalf("Read: %v", res.Err)
	}
	if diff := cmp.Diff([]string{"gone"}, res.Snapshot.MissingTopics); diff != "" {
		t.Errorf("MissingTopics (-want +got):\n%s", diff)
	}
}

func TestReadDeletedTopicKeepsCommits(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{5})
	tc.CreateTopic(t, "old", []int{5})
	tc.Commit(t, "g", "a", []int64{2})
	tc.Commit(t, "g", "old", []int64{1})
	if _, err := tc.Admin.DeleteTopic(context.Background(), "old"); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}

	res := read(t, tc, Query{Cluster: "test", Group: "g"})
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{10})
	tc.Commit(t, "g", "a", []int64{2})
	deletes := make(kadm.Offsets)
	deletes.Add(kadm.Offset{Topic: "a", Partition: 0, At: 6})
	if _, err := tc.Admin.DeleteRecords(context.Background(), deletes); err != nil {
		t.Fatalf("DeleteRecords: %v", err)
	}

	res := read(t, tc, Query{Cluster: "test", Group: "g", Topics: []string{"a"}})
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
	if n, err := EffectiveLag(p, Policy{Reset: Earliest}); err != nil || n != 4 {
		t.Errorf("EffectiveLag(earliest) = %d, %v, want 4 (end 10 - log start 6), nil", n, err)
	}
	if n, err := EffectiveLag(p, Policy{Reset: Latest}); err != nil || n != 0 {
		t.Errorf("EffectiveLag(latest) = %d, %v, want 0, nil", n, err)
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "a", []int{3, 3})
	tc.Commit(t, "g1", "a", []int64{1, 1})
	tc.Commit(t, "g2", "a", []int64{3, 2})

	ctx := context.Background()
	results := NewReader("test", tc.Client).Read(ctx, []Query{
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
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "txn", []int{0})
	ctx := context.Background()
	producer := tc.NewClient(t, kgo.TransactionalID("lag-test"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
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
	tc.Commit(t, "caught-up", "txn", []int64{7})
	tc.Commit(t, "behind", "txn", []int64{3})

	for _, tt := range []struct {
		group       string
		wantAnomaly Anomaly
		wantLag     int64
	}{
		{"caught-up", ControlRecordsOnly, 0},
		{"behind", NoAnomaly, 5},
	} {
		res := read(t, tc, Query{Cluster: "test", Group: tt.group, Topics: []string{"txn"}})
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
		got, err := EffectiveLag(p, Policy{})
		if err != nil {
			t.Fatalf("%s: EffectiveLag: %v", tt.group, err)
		}
		if got != tt.wantLag {
			t.Errorf("%s: EffectiveLag = %d, want %d", tt.group, got, tt.wantLag)
		}
	}
}

func TestQueryKeyDistinguishesTopicLists(t *testing.T) {
	commaTopic := Query{Cluster: "c", Group: "g", Topics: []string{"a,b"}}.Key()
	twoTopics := Query{Cluster: "c", Group: "g", Topics: []string{"a", "b"}}.Key()
	if commaTopic == twoTopics {
		t.Errorf("Key() of topic %q equals Key() of topics a and b: %s", "a,b", commaTopic)
	}
}

func TestReadCommittedOpenTransaction(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "txn", []int{0})
	ctx := context.Background()
	producer := tc.NewClient(t, kgo.TransactionalID("open-txn"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
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
	tc.Commit(t, "exactly-once", "txn", []int64{3})

	res := read(t, tc, Query{Cluster: "test", Group: "exactly-once", Topics: []string{"txn"}, Isolation: ReadCommitted})
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
	got, err := EffectiveLag(p, Policy{})
	if err != nil {
		t.Fatalf("EffectiveLag: %v", err)
	}
	if got != 0 {
		t.Errorf("EffectiveLag = %d, want 0", got)
	}
}
