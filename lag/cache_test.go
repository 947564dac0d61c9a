package lag

import (
	"cmp"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
)

// requestCounter counts requests sent to brokers by Kafka API key.
type requestCounter struct {
	mu     sync.Mutex
	counts map[int16]int
}

func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[int16]int)
	}
	c.counts[key]++
}

func (c *requestCounter) count(key int16) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

const (
	keyListOffsets = 2
	keyOffsetFetch = 9
)

func startCache(t *testing.T, r *Reader, opts CacheOptions) *Cache {
	t.Helper()
	c := NewCache([]*Reader{r}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		c.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return c
}

func TestCacheCoalescesCallers(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "orders", []int{10, 10})
	tc.Commit(t, "flink", "orders", []int64{5, 5})

	counter := &requestCounter{}
	client := tc.NewClient(t, kgo.WithHooks(counter))
	cache := startCache(t, NewReader("test", client), CacheOptions{RefreshInterval: time.Hour})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failures atomic.Int32
	for range 100 {
		wg.Go(func() {
			// The same selection spelled two ways shares one snapshot.
			snap, err := cache.Get(ctx, Query{Cluster: "test", Group: "flink", Topics: []string{"orders", "orders"}})
			if err != nil || len(snap.Partitions) != 2 {
				failures.Add(1)
			}
		})
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of 100 Get calls failed", n)
	}
	if got := counter.count(keyOffsetFetch); got != 1 {
		t.Errorf("OffsetFetch requests = %d, want 1 for 100 callers", got)
	}
	// One round for log-start and one for end offsets on one broker.
	if got := counter.count(keyListOffsets); got != 2 {
		t.Errorf("ListOffsets requests = %d, want 2", got)
	}
}

func TestCacheStaleAndExpired(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "orders", []int{10})
	tc.Commit(t, "g", "orders", []int64{5})

	cache := startCache(t, NewReader("test", tc.Client), CacheOptions{
		RefreshInterval: time.Hour, MaxStaleness: time.Minute, IdleExpiry: 10 * time.Minute,
	})
	q := Query{Cluster: "test", Group: "g", Topics: []string{"orders"}}
	ctx := context.Background()
	if _, err := cache.Get(ctx, q); err != nil {
		t.Fatalf("Get: %v", err)
	}

	var clock atomic.Int64
	clock.Store(int64(2 * time.Minute))
	cache.now = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	_, err := cache.Get(ctx, q)
	if !errors.Is(err, ErrStale) {
		t.Errorf("Get two minutes later: err = %v, want ErrStale", err)
	}

	// The query was used just now at +2m. Twenty minutes later the refresh
	// drops it.
	clock.Store(int64(22 * time.Minute))
	cache.refresh(ctx, "test", cache.clusters["test"], true)
	if got := len(cache.Entries()); got != 0 {
		t.Errorf("Entries() after idle expiry = %d entries, want 0", got)
	}
}

func TestCacheUnknownCluster(t *testing.T) {
	cache := NewCache(nil, CacheOptions{})
	_, err := cache.Get(context.Background(), Query{Cluster: "nope", Group: "g"})
	if err == nil {
		t.Fatal("Get on an unknown cluster returned no error")
	}
}

func TestCacheRecoversAfterBrokerRestart(t *testing.T) {
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	addr := fake.ListenAddrs()[0]
	client, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RetryTimeout(500*time.Millisecond))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer client.Close()

	cache := startCache(t, NewReader("test", client), CacheOptions{
		RefreshInterval: 100 * time.Millisecond, Timeout: time.Second,
	})
	q := Query{Cluster: "test", Group: "g", Topics: []string{"orders"}}
	ctx := context.Background()
	if _, err := cache.Get(ctx, q); err != nil {
		t.Fatalf("Get before the outage: %v", err)
	}

	fake.Close()
	if err := waitFor(10*time.Second, func() bool {
		_, err := cache.Get(ctx, q)
		var unavailable *UnavailableError
		return errors.As(err, &unavailable)
	}); err != nil {
		t.Fatalf("Get never reported the outage: %v", err)
	}

	_, portText, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatalf("port of %s: %v", addr, err)
	}
	restarted, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(1, "orders"))
	if err != nil {
		t.Fatalf("restart kfake on %s: %v", addr, err)
	}
	defer restarted.Close()
	if err := waitFor(15*time.Second, func() bool {
		_, err := cache.Get(ctx, q)
		return err == nil
	}); err != nil {
		t.Fatalf("Get never recovered after the restart: %v", err)
	}
}

func waitFor(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if ok() {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("condition not met within " + limit.String())
}

func TestCacheMaxQueries(t *testing.T) {
	tc := kafkatest.New(t)
	tc.CreateTopic(t, "orders", []int{10})
	cache := startCache(t, NewReader("test", tc.Client), CacheOptions{RefreshInterval: time.Hour, MaxQueries: 2})
	ctx := context.Background()
	for _, group := range []string{"a", "b"} {
		if _, err := cache.Get(ctx, Query{Cluster: "test", Group: group, Topics: []string{"orders"}}); err != nil {
			t.Fatalf("Get(%s): %v", group, err)
		}
	}
	_, err := cache.Get(ctx, Query{Cluster: "test", Group: "c", Topics: []string{"orders"}})
	if !errors.Is(err, ErrTooManyQueries) {
		t.Errorf("third query: err = %v, want ErrTooManyQueries", err)
	}
	if _, err := cache.Get(ctx, Query{Cluster: "test", Group: "a", Topics: []string{"orders"}}); err != nil {
		t.Errorf("query already held after the limit: %v", err)
	}
}

func TestCacheOneFailingGroupKeepsClusterHealthy(t *testing.T) {
	cache := NewCache(nil, CacheOptions{})
	cc := &clusterCache{entries: map[string]*entry{}}
	batch := []*entry{{ready: make(chan struct{})}, {ready: make(chan struct{})}}
	ok := &Snapshot{TakenAt: time.Now()}
	down := &UnavailableError{Cluster: "c", Group: "bad", Err: errors.New("invalid group id")}

	if err := cache.store(cc, batch, []Result{{Snapshot: ok}, {Err: down}}, time.Now()); err != nil {
		t.Errorf("store(one ok, one unavailable) = %v, want nil", err)
	}
	batch = []*entry{{ready: make(chan struct{})}, {ready: make(chan struct{})}}
	if err := cache.store(cc, batch, []Result{{Err: down}, {Err: down}}, time.Now()); err == nil {
		t.Error("store(all unavailable) = nil, want the cluster error")
	}
}

func TestCacheStopEndsWaitingGet(t *testing.T) {
	// A listener that accepts connections and never responds holds the first
	// read until its timeout.
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listener.Close()
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	client, err := kgo.NewClient(kgo.SeedBrokers(listener.Addr().String()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	defer client.Close()

	cache := NewCache([]*Reader{NewReader("hung", client)}, CacheOptions{Timeout: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		cache.Run(ctx)
		close(ran)
	}()

	got := make(chan error, 1)
	go func() {
		_, err := cache.Get(context.Background(), Query{Cluster: "hung", Group: "g", Topics: []string{"t"}})
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-ran

	select {
	case err := <-got:
		var unavailable *UnavailableError
		if !errors.As(err, &unavailable) {
			t.Errorf("Get after Run stopped: err = %v, want *UnavailableError", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get still waiting 10s after Run stopped")
	}
}

func TestCompareQueriesOrdersByField(t *testing.T) {
	// Ordered by Query.Key, "g!" would come before "g", because the quote
	// that ends "g" sorts after '!'.
	sorted := []Query{
		{Cluster: "a", Group: "g"},
		{Cluster: "a", Group: "g", Topics: []string{"t"}},
		{Cluster: "a", Group: "g", Topics: []string{"t"}, Isolation: ReadCommitted},
		{Cluster: "a", Group: "g", Topics: []string{"t", "u"}},
		{Cluster: "a", Group: "g!"},
		{Cluster: "b", Group: "a"},
	}
	for i, a := range sorted {
		for j, b := range sorted {
			got := compareQueries(a, b)
			if want := cmp.Compare(i, j); got != want {
				t.Errorf("compareQueries(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestCacheStoreKeepsNewerRead(t *testing.T) {
	cache := NewCache(nil, CacheOptions{})
	cc := &clusterCache{entries: map[string]*entry{}}
	e := &entry{ready: make(chan struct{})}
	older := time.Now()
	newer := older.Add(time.Second)
	down := &UnavailableError{Cluster: "c", Group: "g", Err: errors.New("connection refused")}

	// The newer read failed and landed first; the older read's success
	// lands afterwards and must not hide the failure.
	cache.store(cc, []*entry{e}, []Result{{Err: down}}, newer)
	cache.store(cc, []*entry{e}, []Result{{Snapshot: &Snapshot{TakenAt: older}}}, older)
	if e.err == nil {
		t.Error("an older successful read replaced the error of a newer read")
	}
	if e.snap != nil {
		t.Errorf("snapshot = %+v, want none from the older read", e.snap)
	}
}

func TestCacheUnpinLetsQueryExpire(t *testing.T) {
	cache := NewCache([]*Reader{NewReader("test", nil)}, CacheOptions{IdleExpiry: time.Minute})
	pinned := Query{Cluster: "test", Group: "kept"}
	unpinned := Query{Cluster: "test", Group: "dropped"}
	for _, q := range []Query{pinned, unpinned} {
		if err := cache.Pin(q); err != nil {
			t.Fatalf("Pin(%s): %v", q.Group, err)
		}
	}
	cache.Unpin(unpinned)

	// Two idle minutes later, only the pinned query is still held. The
	// refresh reads nothing because no entry is new and all is false.
	cache.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	cc := cache.clusters["test"]
	for _, e := range cc.entries {
		e.loaded = true
	}
	cache.refresh(context.Background(), "test", cc, false)
	if _, ok := cc.entries[pinned.Normalize().Key()]; !ok {
		t.Error("the pinned query was dropped")
	}
	if _, ok := cc.entries[unpinned.Normalize().Key()]; ok {
		t.Error("the unpinned query was kept after its idle expiry")
	}
}
