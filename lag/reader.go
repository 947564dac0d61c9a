package lag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader computes lag snapshots on one Kafka cluster. It batches the queries
// of one Read call into one round of requests. That round is one OffsetFetch
// and one DescribeGroups per coordinator and one Metadata request. Then each
// partition leader gets one ListOffsets request for log-start offsets and one
// for high watermarks, plus one for last stable offsets when a query reads
// committed.
//
// A Reader is safe for concurrent use.
type Reader struct {
	cluster string
	client  *kgo.Client
	admin   *kadm.Client
	probe   *controlProbe
	now     func() time.Time
}

// NewReader returns a Reader for the cluster named cluster that uses client.
// The caller keeps ownership of client and closes it.
func NewReader(cluster string, client *kgo.Client) *Reader {
	return &Reader{
		cluster: cluster,
		client:  client,
		admin:   kadm.NewClient(client),
		probe:   newControlProbe(client),
		now:     time.Now,
	}
}

// Cluster returns the name of the cluster the Reader reads.
func (r *Reader) Cluster() string { return r.cluster }

// Result is the outcome of one query in a Read.
type Result struct {
	Snapshot *Snapshot
	Err      error
}

// Read computes a snapshot for each query, in order. Queries for another
// cluster get an error. Commits are read before log offsets, because the
// other order reports negative lag when a commit lands in between.
//
// A failure that affects every query (Kafka unreachable, a timeout) is
// returned as an *UnavailableError in each Result. A failure on some
// partitions only is returned as data: those partitions carry Err.
func (r *Reader) Read(ctx context.Context, queries []Query) []Result {
	results := make([]Result, len(queries))
	if len(queries) == 0 {
		return results
	}
	takenAt := r.now()

	// Step 1: commits and group state, batched across groups.
	groups := r.groups(queries)
	commits := r.fetchCommits(ctx, groups)
	described, describeErr := r.admin.DescribeGroups(ctx, groups...)

	// Step 2: the topics each query measures, then one metadata request for
	// their union.
	selections := make([][]string, len(queries))
	var union []string
	for i, q := range queries {
		topics, err := r.selectTopics(q, commits)
		if err != nil {
			results[i].Err = err
			continue
		}
		selections[i] = topics
		union = append(union, topics...)
	}
	slices.Sort(union)
	union = slices.Compact(union)

	offsets, err := r.listOffsets(ctx, union, needsStable(queries))
	if err != nil {
		for i := range results {
			if results[i].Err == nil {
				results[i].Err = r.unavailable(queries[i].Group, err)
			}
		}
		return results
	}

	// Step 3: per-query rows.
	for i, q := range queries {
		if results[i].Err != nil {
			continue
		}
		snap := r.buildSnapshot(q, selections[i], commits[q.Group], offsets)
		snap.TakenAt = takenAt
		if describeErr == nil {
			setGroupState(snap, described[q.Group])
		}
		r.probe.apply(ctx, snap, offsets.topics)
		results[i].Snapshot = snap
	}
	return results
}

// setGroupState copies the state and member count of g into snap. It leaves
// them unset when the group could not be described.
func setGroupState(snap *Snapshot, g kadm.DescribedGroup) {
	switch {
	case g.Err == nil:
		snap.State = g.State
		snap.Members = len(g.Members)
	case errors.Is(g.Err, kerr.GroupIDNotFound):
		// Newer DescribeGroups versions report an unknown group with this
		// error where older ones return state Dead.
		snap.State = "Dead"
	}
}

// commitRetries is how many more times fetchCommits requests the groups
// whose coordinator was not ready.
const commitRetries = 5

// fetchCommits reads the commits of groups. It requests them again, with a
// short backoff, for groups whose coordinator is not ready yet. On a new
// cluster the first such request creates the offsets topic, and a coordinator
// that moved loads its groups before it serves them.
func (r *Reader) fetchCommits(ctx context.Context, groups []string) kadm.FetchOffsetsResponses {
	commits := r.admin.FetchManyOffsets(ctx, groups...)
	backoff := 100 * time.Millisecond
	for range commitRetries {
		var again []string
		for _, g := range groups {
			if resp, ok := commits[g]; ok && retriableGroupErr(resp.Err) {
				again = append(again, g)
			}
		}
		if len(again) == 0 {
			return commits
		}
		timer := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			timer.Stop()
			return commits
		case <-timer.C:
		}
		backoff *= 2
		for g, resp := range r.admin.FetchManyOffsets(ctx, again...) {
			commits[g] = resp
		}
	}
	return commits
}

func retriableGroupErr(err error) bool {
	return errors.Is(err, kerr.CoordinatorNotAvailable) ||
		errors.Is(err, kerr.CoordinatorLoadInProgress) ||
		errors.Is(err, kerr.NotCoordinator)
}

func (r *Reader) groups(queries []Query) []string {
	groups := make([]string, 0, len(queries))
	for _, q := range queries {
		groups = append(groups, q.Group)
	}
	slices.Sort(groups)
	return slices.Compact(groups)
}

func needsStable(queries []Query) bool {
	for _, q := range queries {
		if q.Isolation == ReadCommitted {
			return true
		}
	}
	return false
}

func (r *Reader) unavailable(group string, err error) error {
	return &UnavailableError{Cluster: r.cluster, Group: group, Err: err}
}

// selectTopics returns the topics q measures: its own list, or every topic
// the group has commits for.
func (r *Reader) selectTopics(q Query, commits kadm.FetchOffsetsResponses) ([]string, error) {
	resp, ok := commits[q.Group]
	if !ok {
		return nil, r.unavailable(q.Group, errors.New("offset fetch returned no response for the group"))
	}
	// Apache Kafka returns no offsets for an unknown group; some brokers
	// return GROUP_ID_NOT_FOUND instead. Both mean "no commits".
	if resp.Err != nil && !errors.Is(resp.Err, kerr.GroupIDNotFound) {
		return nil, r.unavailable(q.Group, fmt.Errorf("fetching committed offsets: %w", resp.Err))
	}
	if len(q.Topics) > 0 {
		return q.Topics, nil
	}

	var topics []string
	for topic := range resp.Fetched {
		topics = append(topics, topic)
	}
	if len(topics) == 0 {
		return nil, fmt.Errorf("group %q on cluster %q: %w; name the topics to measure (the trigger's topic key, or --topic)",
			q.Group, r.cluster, ErrGroupNotFound)
	}
	slices.Sort(topics)
	return topics, nil
}

func (r *Reader) buildSnapshot(q Query, topics []string, commits kadm.FetchOffsetsResponse, offsets *listedOffsets) *Snapshot {
	snap := &Snapshot{Query: q}
	for _, topic := range topics {
		detail, ok := offsets.topics[topic]
		if !ok || errors.Is(detail.Err, kerr.UnknownTopicOrPartition) {
			if len(q.Topics) > 0 {
				snap.MissingTopics = append(snap.MissingTopics, topic)
			} else {
				// Kafka drops a deleted topic's commits, but a commit can
				// outlive the topic briefly or on other brokers.
				snap.DeletedTopics = append(snap.DeletedTopics, topic)
			}
			continue
		}
		if detail.Err != nil {
			snap.Partitions = append(snap.Partitions, Partition{
				Topic: topic, Partition: -1, Committed: -1, LogStart: -1, LogEnd: -1, StableEnd: -1,
				Anomaly: Unknown, Err: detail.Err,
			})
			continue
		}
		for _, partition := range detail.Partitions.Numbers() {
			snap.Partitions = append(snap.Partitions, r.buildPartition(q, topic, partition, commits, offsets))
		}
	}
	sort.Slice(snap.Partitions, func(i, j int) bool {
		a, b := snap.Partitions[i], snap.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return snap
}

func (r *Reader) buildPartition(q Query, topic string, partition int32, commits kadm.FetchOffsetsResponse, offsets *listedOffsets) Partition {
	p := Partition{Topic: topic, Partition: partition, Committed: -1, LogStart: -1, LogEnd: -1, StableEnd: -1}

	if c, ok := commits.Fetched.Lookup(topic, partition); ok {
		if c.Err != nil {
			p.Err = fmt.Errorf("committed offset: %w", c.Err)
		} else {
			p.Committed = c.At
		}
	}

	start, startErr := offsets.start.get(topic, partition)
	end, endErr := offsets.end.get(topic, partition)
	p.LogStart, p.LogEnd, p.StableEnd = start, end, end
	if q.Isolation == ReadCommitted {
		stable, err := offsets.stable.get(topic, partition)
		p.StableEnd = stable
		endErr = errors.Join(endErr, err)
	}
	if err := errors.Join(startErr, endErr); err != nil && p.Err == nil {
		p.Err = err
	}
	Classify(&p)
	return p
}
