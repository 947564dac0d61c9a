package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/lagscaler/lagscaler/inspect"
)

// minWatchInterval is the shortest --watch interval. Each refresh is a full
// round of Kafka requests, so a shorter interval adds broker load without
// showing anything a person can read.
const minWatchInterval = time.Second

// clearScreen moves the cursor home and clears the terminal (ANSI).
const clearScreen = "\x1b[H\x1b[2J"

// groupKey identifies a group report across refreshes.
type groupKey struct{ cluster, group string }

func keyOf(g inspect.GroupReport) groupKey { return groupKey{g.Cluster, g.Group} }

type topicPartition struct {
	topic     string
	partition int32
}

// flowRate is the consume rate of a group and the produce rate of its
// partitions, in offsets per second, measured between two snapshots.
type flowRate struct {
	consume, produce           float64
	consumeKnown, produceKnown bool
}

// cells returns the CONSUME/S, PRODUCE/S and CATCH-UP cells.
func (r flowRate) cells(effectiveLag *int64) []string {
	return []string{rateText(r.consume, r.consumeKnown), rateText(r.produce, r.produceKnown), r.catchUp(effectiveLag)}
}

func rateText(v float64, known bool) string {
	if !known {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// catchUp estimates how long the consumer needs to read effectiveLag
// records at the current rates: effective lag / (consume − produce). It is
// "0s" without lag, "never" while the lag grows, and "-" when a rate or the
// lag is unknown or the two rates are equal.
//
// NOTE: Flink commits offsets only when a checkpoint completes, so between
// two checkpoints its consume rate reads 0 and the estimate shows "never".
// A --watch interval longer than the checkpoint interval smooths this out.
func (r flowRate) catchUp(effectiveLag *int64) string {
	switch {
	case effectiveLag == nil:
		return "-"
	case *effectiveLag == 0:
		return "0s"
	case !r.consumeKnown || !r.produceKnown:
		return "-"
	}
	net := r.consume - r.produce
	switch {
	case net < 0:
		return "never"
	case net == 0:
		return "-"
	}
	seconds := math.Ceil(float64(*effectiveLag) / net)
	if seconds > math.MaxInt64/float64(time.Second) {
		return "never"
	}
	return (time.Duration(seconds) * time.Second).String()
}

// rateSum adds rates of several partitions. A sum is known when at least one
// of its parts is.
type rateSum struct{ flowRate }

func (s *rateSum) add(r flowRate) {
	if r.consumeKnown {
		s.consume += r.consume
		s.consumeKnown = true
	}
	if r.produceKnown {
		s.produce += r.produce
		s.produceKnown = true
	}
}

// groupRates are the rates of one group's partitions, topics and total.
type groupRates struct {
	partitions map[topicPartition]flowRate
	topics     map[string]flowRate
	total      flowRate
}

// measureRates returns the rates between two reports of the same group. A
// partition's consume rate needs a commit in both reports and its produce
// rate a log-end offset in both.
func measureRates(prev, cur inspect.GroupReport) *groupRates {
	r := &groupRates{partitions: map[topicPartition]flowRate{}, topics: map[string]flowRate{}}
	seconds := cur.TakenAt.Sub(prev.TakenAt).Seconds()
	if seconds <= 0 {
		return r
	}
	before := make(map[topicPartition]inspect.PartitionReport, len(prev.Partitions))
	for _, p := range prev.Partitions {
		before[topicPartition{p.Topic, p.Partition}] = p
	}

	topics := map[string]*rateSum{}
	var total rateSum
	for _, p := range cur.Partitions {
		key := topicPartition{p.Topic, p.Partition}
		old, ok := before[key]
		if !ok {
			continue
		}
		var rate flowRate
		rate.consume, rate.consumeKnown = offsetRate(old.CurrentOffset, p.CurrentOffset, seconds)
		rate.produce, rate.produceKnown = offsetRate(old.LogEndOffset, p.LogEndOffset, seconds)
		r.partitions[key] = rate
		if topics[p.Topic] == nil {
			topics[p.Topic] = &rateSum{}
		}
		topics[p.Topic].add(rate)
		total.add(rate)
	}
	for topic, s := range topics {
		r.topics[topic] = s.flowRate
	}
	r.total = total.flowRate
	return r
}

func offsetRate(before, after *int64, seconds float64) (float64, bool) {
	if before == nil || after == nil {
		return 0, false
	}
	return float64(*after-*before) / seconds, true
}

// watcher redraws the lag output every interval until its context ends.
type watcher struct {
	out, errOut io.Writer
	format      string
	interval    time.Duration
	// terminal is set when out is a terminal, so that table output redraws
	// in place instead of printing successive tables.
	terminal bool
	render   func(io.Writer, []inspect.GroupReport, map[groupKey]*groupRates) error
	previous map[groupKey]inspect.GroupReport
}

// run refreshes at once and then every interval. A failed refresh is shown
// and retried at the next tick, and only a usage error ends the loop early.
// It returns nil when ctx ends.
func (w *watcher) run(ctx context.Context, src lagSource) error {
	ticker := time.NewTicker(w.interval)
	defer ticker.Stop()
	for {
		res, err := src.fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var coded *exitError
		if errors.As(err, &coded) && coded.code == exitUsage {
			return err
		}
		if err := w.frame(res, err, time.Now()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// frame writes the output of one refresh.
func (w *watcher) frame(res fetchResult, fetchErr error, now time.Time) error {
	rates := map[groupKey]*groupRates{}
	next := map[groupKey]inspect.GroupReport{}
	for _, g := range res.groups {
		key := keyOf(g)
		if prev, ok := w.previous[key]; ok {
			rates[key] = measureRates(prev, g)
		}
		next[key] = g
	}
	// A failed refresh keeps the previous reports, so the next rates span
	// the gap instead of starting over.
	if fetchErr == nil {
		w.previous = next
	}

	if w.format == outputTable {
		if w.terminal {
			io.WriteString(w.out, clearScreen)
		}
		fmt.Fprintf(w.out, "every %s, refreshed %s; press Ctrl-C to stop\n\n", w.interval, now.Format(time.TimeOnly))
	}
	if fetchErr != nil {
		fmt.Fprintf(w.errOut, "lagscaler: refresh failed: %v\n", fetchErr)
		return nil
	}
	if err := w.render(w.out, res.groups, rates); err != nil {
		return err
	}
	res.report(w.errOut, true)
	if w.format == outputTable && !w.terminal {
		io.WriteString(w.out, "\n")
	}
	return nil
}

// isTerminal reports whether w is a character device, such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
