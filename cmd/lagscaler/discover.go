package main

import (
	"context"
	"log/slog"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
)

// groupDiscoveryInterval is how often the groups of a cluster are listed for
// metrics.groupPatterns. New groups appear on /metrics within this time.
const groupDiscoveryInterval = 30 * time.Second

// groupPattern is one compiled metrics.groupPatterns entry.
type groupPattern struct {
	cluster string
	re      *regexp.Regexp
}

// groupDiscoverer keeps every group that matches a pattern pinned in the
// lag cache, so that it is exported like a group listed in the
// configuration, and unpins groups that disappear.
type groupDiscoverer struct {
	cache    *lag.Cache
	admins   map[string]*kadm.Client
	patterns []groupPattern
	interval time.Duration
	logger   *slog.Logger

	// pinned holds the queries this discoverer pinned, by query key.
	pinned map[string]lag.Query
}

func newGroupDiscoverer(a *app) (*groupDiscoverer, error) {
	d := &groupDiscoverer{
		cache:    a.cache,
		admins:   make(map[string]*kadm.Client),
		interval: groupDiscoveryInterval,
		logger:   a.logger,
		pinned:   make(map[string]lag.Query),
	}
	for _, k := range a.kafka {
		d.admins[k.cluster.Name] = kadm.NewClient(k.client)
	}
	for _, p := range a.cfg.Metrics.GroupPatterns {
		re, err := p.Regexp()
		if err != nil {
			return nil, err
		}
		d.patterns = append(d.patterns, groupPattern{cluster: p.Cluster, re: re})
	}
	return d, nil
}

// run lists groups at once and then every interval until ctx ends.
func (d *groupDiscoverer) run(ctx context.Context) {
	if len(d.patterns) == 0 {
		return
	}
	ticker := time.NewTicker(d.interval)
	defer ticker.Stop()
	for {
		d.discover(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// discover pins the matching groups of every cluster with a pattern. A
// cluster whose groups cannot be listed keeps its current pins, so an
// outage does not drop the series that show it.
func (d *groupDiscoverer) discover(ctx context.Context) {
	found := make(map[string]lag.Query)
	listed := make(map[string]bool)
	for cluster, admin := range d.admins {
		groups, ok := d.matchingGroups(ctx, cluster, admin)
		if !ok {
			continue
		}
		listed[cluster] = true
		for _, group := range groups {
			q := lag.Query{Cluster: cluster, Group: group}
			found[q.Key()] = q
		}
	}

	failed := 0
	var lastErr error
	for key, q := range found {
		if _, ok := d.pinned[key]; ok {
			continue
		}
		if err := d.cache.Pin(q); err != nil {
			failed++
			lastErr = err
			continue
		}
		d.pinned[key] = q
	}
	if failed > 0 {
		// One line per round: with --max-groups reached, every further
		// group fails the same way.
		d.logger.Warn("cannot export discovered consumer groups", "groups", failed, "err", lastErr)
	}
	for key, q := range d.pinned {
		if _, ok := found[key]; !ok && listed[q.Cluster] {
			d.cache.Unpin(q)
			delete(d.pinned, key)
		}
	}
}

// matchingGroups lists the consumer groups of cluster that match one of its
// patterns. It returns false when the cluster has no pattern or the groups
// cannot be listed.
func (d *groupDiscoverer) matchingGroups(ctx context.Context, cluster string, admin *kadm.Client) ([]string, bool) {
	var res []*regexp.Regexp
	for _, p := range d.patterns {
		if p.cluster == cluster {
			res = append(res, p.re)
		}
	}
	if len(res) == 0 {
		return nil, false
	}
	listed, err := admin.ListGroups(ctx)
	if err != nil {
		d.logger.Warn("listing consumer groups failed", "cluster", cluster, "err", err)
		return nil, false
	}
	var groups []string
	for _, g := range listed.Sorted() {
		// Groups that only commit offsets, as Flink's do, have no protocol
		// type; share groups and Kafka Connect workers are not consumers.
		if g.ProtocolType != "" && g.ProtocolType != "consumer" {
			continue
		}
		for _, re := range res {
			if re.MatchString(g.Group) {
				groups = append(groups, g.Group)
				break
			}
		}
	}
	return groups, true
}

// patternPerPartition reports whether a group exported through a pattern
// exports per-partition series: false when any matching pattern turns
// them off.
func patternPerPartition(patterns []config.MetricsGroupPattern, cluster, group string) bool {
	for _, p := range patterns {
		re, err := p.Regexp()
		if p.Cluster == cluster && err == nil && re.MatchString(group) && !p.ExportPartitions() {
			return false
		}
	}
	return true
}
