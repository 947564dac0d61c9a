package lag

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// CacheOptions configures a Cache. Zero fields take the defaults below.
type CacheOptions struct {
	// RefreshInterval is how often snapshots in use are read again.
	// Default 5s.
	RefreshInterval time.Duration
	// IdleExpiry drops a query that no caller requested for this long. KEDA
	// does not report that a ScaledObject was deleted, so state expires by time.
	// Default 10m.
	IdleExpiry time.Duration
	// MaxStaleness is the oldest snapshot Get returns; an older one is an
	// error. Default 30s.
	MaxStaleness time.Duration
	// Timeout bounds one refresh of one cluster. Default 10s.
	Timeout time.Duration
	// MaxQueries bounds the queries held at once on each cluster, so that
	// clients that invent group names cannot grow memory and broker load
	// without limit. Get and Pin return ErrTooManyQueries for a new query
	// beyond it. Default 10,000.
	MaxQueries int
	// Logger receives refresh failures and recoveries. Nil discards.
	Logger *slog.Logger
	// OnRefresh, when set, is called after every refresh of a cluster with
	// the number of queries read, the time it took and the error that
	// affected the whole refresh, if any.
	OnRefresh func(cluster string, queries int, took time.Duration, err error)
}

func (o *CacheOptions) setDefaults() {
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 5 * time.Second
	}
	if o.IdleExpiry <= 0 {
		o.IdleExpiry = 10 * time.Minute
	}
	if o.MaxStaleness <= 0 {
		o.MaxStaleness = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxQueries <= 0 {
		o.MaxQueries = 10_000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Cache shares lag snapshots between callers. It keeps one snapshot per
// query, refreshes every query in use in the background with one batched
// Read per cluster, makes concurrent callers of a new query wait on one
// computation, and drops queries after IdleExpiry without calls.
//
// A Cache is safe for concurrent use. Run must be called for snapshots to be
// read; Get blocks until the first read of a query finishes or ctx ends.
type Cache struct {
	opts     CacheOptions
	clusters map[string]*clusterCache
	now      func() time.Time

	// stopped is closed when Run returns, so that callers waiting for a
	// first read do not wait for one that will never come.
	stopped  chan struct{}
	stopOnce sync.Once
}

type clusterCache struct {
	reader *Reader
	wake   chan struct{}

	mu      sync.Mutex
	entries map[string]*entry
	// failing is true from a refresh that failed until one that succeeds.
	failing bool
	lastOK  time.Time
}

type entry struct {
	query    Query
	pinned   bool
	lastUsed time.Time

	// ready is closed once the first read of the query has finished.
	ready  chan struct{}
	loaded bool
	// snap is the newest successful snapshot; err is the error of the
	// newest read, nil when it succeeded.
	snap *Snapshot
	err  error
	// readStarted is when the read that set snap or err started.
	readStarted time.Time
}

// NewCache returns a Cache over readers, one per cluster.
func NewCache(readers []*Reader, opts CacheOptions) *Cache {
	opts.setDefaults()
	c := &Cache{opts: opts, clusters: make(map[string]*clusterCache), now: time.Now, stopped: make(chan struct{})}
	for _, r := range readers {
		c.clusters[r.Cluster()] = &clusterCache{
			reader:  r,
			wake:    make(chan struct{}, 1),
			entries: make(map[string]*entry),
		}
	}
	return c
}

// Run refreshes snapshots until ctx ends. It returns after every refresh it
// started has finished, and Get calls still waiting for a first read then
// fail. Start one Run per Cache, because a second one would refresh every
// query twice.
func (c *Cache) Run(ctx context.Context) {
	defer c.stopOnce.Do(func() { close(c.stopped) })
	var wg sync.WaitGroup
	for name, cc := range c.clusters {
		wg.Go(func() { c.refreshPeriodically(ctx, name, cc) })
		wg.Go(func() { c.readNewQueries(ctx, name, cc) })
	}
	wg.Wait()
}

// refreshPeriodically reads every query of cc once per RefreshInterval.
func (c *Cache) refreshPeriodically(ctx context.Context, name string, cc *clusterCache) {
	ticker := time.NewTicker(c.opts.RefreshInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			c.refresh(ctx, name, cc, true)
		}
	}
}

// readNewQueries reads queries that were never read as soon as they appear.
// It runs beside refreshPeriodically, so that a new query does not wait
// behind a periodic refresh that a slow broker holds up.
func (c *Cache) readNewQueries(ctx context.Context, name string, cc *clusterCache) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-cc.wake:
			c.refresh(ctx, name, cc, false)
		}
	}
}

// Get returns the current snapshot for q. The first Get of a query waits for
// its first read. It returns an error when the newest read failed, when the
// newest snapshot is older than MaxStaleness, or when ctx ends first.
func (c *Cache) Get(ctx context.Context, q Query) (*Snapshot, error) {
	cc, e, err := c.use(q, false)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the first lag read of group %q on cluster %q: %w", q.Group, q.Cluster, ctx.Err())
	case <-c.stopped:
		return nil, &UnavailableError{Cluster: q.Cluster, Group: q.Group, Err: errors.New("lag cache stopped before the first read")}
	}

	cc.mu.Lock()
	snap, err := e.snap, e.err
	cc.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if age := c.now().Sub(snap.TakenAt); age > c.opts.MaxStaleness {
		return nil, &UnavailableError{Cluster: q.Cluster, Group: q.Group,
			Err: fmt.Errorf("%w: newest snapshot is %s old, the limit is %s", ErrStale, age.Round(time.Second), c.opts.MaxStaleness)}
	}
	return snap, nil
}

// Pin keeps q refreshed without calls, for groups exported as metrics.
func (c *Cache) Pin(q Query) error {
	_, _, err := c.use(q, true)
	return err
}

// Unpin ends what Pin started: q is dropped after IdleExpiry unless a
// caller requests it. Unpinning a query that is not held does nothing.
func (c *Cache) Unpin(q Query) {
	q = q.Normalize()
	cc, ok := c.clusters[q.Cluster]
	if !ok {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if e, ok := cc.entries[q.Key()]; ok {
		e.pinned = false
	}
}

// use returns the cluster and the entry of q after normalizing it. A new
// entry is created, and the cluster's refresher is woken to read it.
func (c *Cache) use(q Query, pin bool) (*clusterCache, *entry, error) {
	q = q.Normalize()
	cc, ok := c.clusters[q.Cluster]
	if !ok {
		return nil, nil, fmt.Errorf("kafka cluster %q is %w", q.Cluster, ErrUnknownCluster)
	}

	key := q.Key()
	cc.mu.Lock()
	defer cc.mu.Unlock()
	e, ok := cc.entries[key]
	if !ok {
		if len(cc.entries) >= c.opts.MaxQueries {
			return nil, nil, fmt.Errorf("%w on cluster %q: the limit is %d; unused ones expire after %s",
				ErrTooManyQueries, q.Cluster, c.opts.MaxQueries, c.opts.IdleExpiry)
		}
		e = &entry{query: q, ready: make(chan struct{})}
		cc.entries[key] = e
		select {
		case cc.wake <- struct{}{}:
		default:
		}
	}
	e.lastUsed = c.now()
	e.pinned = e.pinned || pin
	return cc, e, nil
}

// refresh reads every query of cc, or only the ones never read when all is
// false, and drops idle queries.
func (c *Cache) refresh(ctx context.Context, name string, cc *clusterCache, all bool) {
	now := c.now()
	cc.mu.Lock()
	var batch []*entry
	for key, e := range cc.entries {
		if !e.pinned && now.Sub(e.lastUsed) > c.opts.IdleExpiry {
			delete(cc.entries, key)
			continue
		}
		if all || !e.loaded {
			batch = append(batch, e)
		}
	}
	cc.mu.Unlock()
	if len(batch) == 0 {
		return
	}

	queries := make([]Query, len(batch))
	for i, e := range batch {
		queries[i] = e.query
	}
	readCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	start := c.now()
	results := cc.reader.Read(readCtx, queries)
	cancel()
	took := c.now().Sub(start)
	if ctx.Err() != nil {
		// Run is stopping, so the errors of this read are not Kafka failures.
		return
	}

	clusterErr := c.store(cc, batch, results, start)
	c.logTransition(name, cc, clusterErr)
	if c.opts.OnRefresh != nil {
		c.opts.OnRefresh(name, len(batch), took, clusterErr)
	}
}

// store saves results into their entries. It returns an error for the
// cluster only when every query of the batch was unavailable: one group
// that fails, for example with an invalid ID, is no failure of the
// cluster.
func (c *Cache) store(cc *clusterCache, batch []*entry, results []Result, started time.Time) error {
	var clusterErr error
	unavailable := 0
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for i, e := range batch {
		res := results[i]
		if started.Before(e.readStarted) {
			// The periodic and the new-query readers can overlap, and a
			// read that started later has already stored its result.
			continue
		}
		if res.Err != nil {
			e.err = res.Err
			var unavailableErr *UnavailableError
			if errors.As(res.Err, &unavailableErr) {
				unavailable++
				if clusterErr == nil {
					clusterErr = res.Err
				}
			}
		} else {
			carryCommitSeenAt(res.Snapshot, e.snap)
			e.snap, e.err = res.Snapshot, nil
		}
		e.readStarted = started
		if !e.loaded {
			e.loaded = true
			close(e.ready)
		}
	}
	if unavailable < len(batch) {
		cc.lastOK = c.now()
		return nil
	}
	return clusterErr
}

func (c *Cache) logTransition(name string, cc *clusterCache, err error) {
	cc.mu.Lock()
	wasFailing := cc.failing
	cc.failing = err != nil
	cc.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		c.opts.Logger.Warn("kafka lag refresh failed", "cluster", name, "err", err)
	case err != nil:
		c.opts.Logger.Debug("kafka lag refresh failed again", "cluster", name, "err", err)
	case wasFailing:
		c.opts.Logger.Info("kafka lag refresh recovered", "cluster", name)
	}
}

// carryCommitSeenAt sets CommitSeenAt on next: the time from prev where the
// commit did not move, the snapshot time otherwise.
func carryCommitSeenAt(next, prev *Snapshot) {
	seen := make(map[partitionKey]Partition)
	if prev != nil {
		for _, p := range prev.Partitions {
			seen[partitionKey{p.Topic, p.Partition}] = p
		}
	}
	for i := range next.Partitions {
		p := &next.Partitions[i]
		old, ok := seen[partitionKey{p.Topic, p.Partition}]
		if ok && old.Committed == p.Committed && !old.CommitSeenAt.IsZero() {
			p.CommitSeenAt = old.CommitSeenAt
		} else {
			p.CommitSeenAt = next.TakenAt
		}
	}
}

type partitionKey struct {
	topic     string
	partition int32
}

// Entry is the cached state of one query, for exporters.
type Entry struct {
	Query Query
	// Snapshot is the newest successful snapshot, nil before the first.
	Snapshot *Snapshot
	// Err is the error of the newest read, nil when it succeeded.
	Err error
}

// Entries returns the state of every query in use, sorted by cluster, group,
// topics and isolation. It does no I/O.
func (c *Cache) Entries() []Entry {
	var out []Entry
	for _, cc := range c.clusters {
		cc.mu.Lock()
		for _, e := range cc.entries {
			if e.loaded {
				out = append(out, Entry{Query: e.query, Snapshot: e.snap, Err: e.err})
			}
		}
		cc.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Entry) int { return compareQueries(a.Query, b.Query) })
	return out
}

// compareQueries orders queries by cluster, group, topics and isolation. It
// compares the fields rather than Query.Key, which formats a string on every
// call, because exporters call Entries on every scrape.
func compareQueries(a, b Query) int {
	return cmp.Or(
		strings.Compare(a.Cluster, b.Cluster),
		strings.Compare(a.Group, b.Group),
		slices.Compare(a.Topics, b.Topics),
		cmp.Compare(a.Isolation, b.Isolation),
	)
}

// Healthy reports whether some cluster has no query in use or had a
// successful refresh within MaxStaleness. A cluster that no query uses counts
// as healthy, so a Cache with no query in use yet is healthy.
func (c *Cache) Healthy() bool {
	now := c.now()
	for _, cc := range c.clusters {
		cc.mu.Lock()
		empty := len(cc.entries) == 0
		ok := !cc.lastOK.IsZero() && now.Sub(cc.lastOK) <= c.opts.MaxStaleness
		cc.mu.Unlock()
		if empty || ok {
			return true
		}
	}
	return len(c.clusters) == 0
}
