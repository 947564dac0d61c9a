package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/lag"
)

// lagSource produces the group reports of one refresh.
type lagSource interface {
	// fetch returns the reports of one refresh. An error means nothing
	// could be read. A group or topic that does not exist is reported in the
	// result.
	fetch(ctx context.Context) (fetchResult, error)
	close()
}

// fetchResult is the outcome of one refresh.
type fetchResult struct {
	groups []inspect.GroupReport
	// notFound are messages about requested groups and topics that do not
	// exist. They make the command exit with exitNotFound.
	notFound []string
	// notes are messages that change nothing about the exit code.
	notes []string
}

// report writes the messages of r to w, one per line. The not-found
// messages are left out unless withNotFound is set, because a single run
// returns them as its error.
func (r fetchResult) report(w io.Writer, withNotFound bool) {
	if withNotFound {
		for _, msg := range r.notFound {
			fmt.Fprintln(w, "lagscaler:", msg)
		}
	}
	for _, msg := range r.notes {
		fmt.Fprintln(w, "lagscaler: note:", msg)
	}
}

// err returns an exitNotFound error, one line per message, when something
// requested does not exist.
func (r fetchResult) err() error {
	if len(r.notFound) == 0 {
		return nil
	}
	errs := make([]error, len(r.notFound))
	for i, msg := range r.notFound {
		errs[i] = errors.New(msg)
	}
	return &exitError{code: exitNotFound, err: errors.Join(errs...)}
}

// addMissingTopics records the requested topics of g that do not exist.
func (r *fetchResult) addMissingTopics(g inspect.GroupReport) {
	for _, topic := range g.MissingTopics {
		r.notFound = append(r.notFound, fmt.Sprintf("topic %q does not exist on cluster %q (group %q)", topic, g.Cluster, g.Group))
	}
}

// nothingCommitted reports whether no partition of g has a commit.
func nothingCommitted(g inspect.GroupReport) bool {
	return !slices.ContainsFunc(g.Partitions, func(p inspect.PartitionReport) bool { return p.CurrentOffset != nil })
}

func groupMissingMessage(group string) string {
	return fmt.Sprintf("consumer group %q does not exist", group)
}

// compileGroupPattern compiles a --group-pattern. The pattern must match the
// whole group name, as Kafka's own regular-expression subscriptions do.
func compileGroupPattern(pattern string) (*regexp.Regexp, error) {
	// Compiling the bare pattern first rejects input such as "a)|(b" that
	// would only become valid inside the anchoring group.
	if _, err := regexp.Compile(pattern); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + pattern + `)$`)
}

// lagRequest is the selection of "lagscaler lag" that every refresh reads:
// the groups, named or matched by a pattern, their topics and how effective
// lag is counted.
type lagRequest struct {
	// groups are the --group values without repeats. They are unused when
	// pattern is set.
	groups  []string
	pattern *regexp.Regexp
	// patternText is --group-pattern as the user typed it, without the
	// anchors that pattern adds.
	patternText string
	// topics are the --topic values. Empty means every topic the group has
	// commits for.
	topics    []string
	isolation lag.Isolation
	policy    lag.ResetPolicy
}

// kafkaLagSource reads lag straight from Kafka with one batched read per
// refresh.
type kafkaLagSource struct {
	lagRequest
	kafka *kafkaReader
}

func (s *kafkaLagSource) close() { s.kafka.close() }

func (s *kafkaLagSource) fetch(ctx context.Context) (fetchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.kafka.timeout)
	defer cancel()

	var res fetchResult
	groups := s.groups
	if s.pattern != nil {
		listed, err := kadm.NewClient(s.kafka.client).ListGroups(ctx)
		if err != nil {
			return fetchResult{}, s.kafka.unreachable(fmt.Errorf("listing consumer groups: %w", err))
		}
		groups = matchingGroups(consumerGroupNames(listed), s.pattern)
		if len(groups) == 0 {
			res.notFound = append(res.notFound, fmt.Sprintf("no consumer group on cluster %q matches --group-pattern %q",
				s.kafka.cluster.Name, s.patternText))
			return res, nil
		}
	}

	queries := make([]lag.Query, len(groups))
	for i, g := range groups {
		queries[i] = lag.Query{Cluster: s.kafka.cluster.Name, Group: g, Topics: s.topics, Isolation: s.isolation}.Normalize()
	}
	results := s.kafka.reader.Read(ctx, queries)

	// Groups with nothing committed may not exist at all. They are described
	// once more, together, to tell the two apart.
	var suspects []string
	reports := map[string]inspect.GroupReport{}
	for i, r := range results {
		switch {
		case errors.Is(r.Err, lag.ErrGroupNotFound):
			suspects = append(suspects, groups[i])
		case r.Err != nil:
			return fetchResult{}, s.kafka.unreachable(r.Err)
		default:
			g := inspect.NewGroupReport(r.Snapshot, lag.Policy{Reset: s.policy})
			reports[groups[i]] = g
			if nothingCommitted(g) && (g.State == "" || g.State == "Dead") {
				suspects = append(suspects, groups[i])
			}
		}
	}
	missing, err := s.missingGroups(ctx, suspects)
	if err != nil {
		return fetchResult{}, err
	}

	for _, group := range groups {
		g, measured := reports[group]
		switch {
		case missing[group]:
			res.notFound = append(res.notFound, groupMissingMessage(group))
		case !measured && s.pattern != nil:
			res.notes = append(res.notes, fmt.Sprintf("consumer group %q has no committed offsets; "+
				"name its topics with --topic to see its lag", group))
		case !measured:
			res.notFound = append(res.notFound, fmt.Sprintf("consumer group %q exists but has no committed offsets, "+
				"so the topics to measure are unknown; name them with --topic", group))
		default:
			res.groups = append(res.groups, g)
			res.addMissingTopics(g)
		}
	}
	return res, nil
}

// missingGroups describes groups and returns those the coordinator does not
// know: state Dead, or GROUP_ID_NOT_FOUND from DescribeGroups v6 and later.
//
// NOTE: DescribeGroups describes classic groups only. A group of the
// consumer protocol (KIP-848) that has members but no commits may be
// reported as missing.
func (s *kafkaLagSource) missingGroups(ctx context.Context, groups []string) (map[string]bool, error) {
	missing := map[string]bool{}
	if len(groups) == 0 {
		return missing, nil
	}
	described, err := kadm.NewClient(s.kafka.client).DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, s.kafka.unreachable(fmt.Errorf("describing consumer groups: %w", err))
	}
	for _, group := range groups {
		d, ok := described[group]
		if !ok || d.State == "Dead" || errors.Is(d.Err, kerr.GroupIDNotFound) {
			missing[group] = true
		}
	}
	return missing, nil
}

// matchingGroups returns the sorted names that pattern matches.
func matchingGroups(names []string, pattern *regexp.Regexp) []string {
	var out []string
	for _, name := range names {
		if pattern.MatchString(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
