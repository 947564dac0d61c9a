package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lagscaler/lagscaler/inspect"
)

func TestCatchUp(t *testing.T) {
	lagOf := func(n int64) *int64 { return &n }
	known := func(consume, produce float64) flowRate {
		return flowRate{consume: consume, produce: produce, consumeKnown: true, produceKnown: true}
	}
	tests := []struct {
		name string
		lag  *int64
		rate flowRate
		want string
	}{
		{"unknown lag", nil, known(10, 1), "-"},
		{"caught up", lagOf(0), known(0, 5), "0s"},
		{"caught up, rates unknown", lagOf(0), flowRate{}, "0s"},
		{"consume rate unknown", lagOf(10), flowRate{produce: 1, produceKnown: true}, "-"},
		{"produce rate unknown", lagOf(10), flowRate{consume: 1, consumeKnown: true}, "-"},
		{"catching up", lagOf(100), known(12, 2), "10s"},
		{"rounded up", lagOf(100), known(3, 0), "34s"},
		{"hours", lagOf(36_000), known(10, 0), "1h0m0s"},
		{"falling behind", lagOf(100), known(2, 12), "never"},
		{"standing still", lagOf(100), known(5, 5), "-"},
		{"beyond a duration", lagOf(1 << 62), known(1e-9, 0), "never"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rate.catchUp(tc.lag); got != tc.want {
				t.Errorf("catchUp(%v, %+v) = %q, want %q", tc.lag, tc.rate, got, tc.want)
			}
		})
	}
}

func TestMeasureRatesSameTime(t *testing.T) {
	g := mixedReport()
	r := measureRates(g, g)
	if len(r.partitions) != 0 || r.total.consumeKnown || r.total.produceKnown {
		t.Errorf("measureRates of two reports at the same time = %+v, want no rates", r)
	}
}

func TestMeasureRatesNewPartition(t *testing.T) {
	before := mixedReport()
	after := mixedReport()
	after.TakenAt = after.TakenAt.Add(time.Second)
	after.Partitions = append(after.Partitions, inspect.PartitionReport{Topic: "payments", Partition: 2})
	r := measureRates(before, after)
	if _, ok := r.partitions[topicPartition{"payments", 2}]; ok {
		t.Error("measureRates has a rate for a partition missing from the earlier report")
	}
	if _, ok := r.partitions[topicPartition{"orders", 0}]; !ok {
		t.Error("measureRates has no rate for orders[0], present in both reports")
	}
}

// scriptedSource returns one scripted refresh per fetch. The fetch after the
// last one cancels the watch, the way Ctrl-C during a refresh does.
type scriptedSource struct {
	mu      sync.Mutex
	steps   []func() (fetchResult, error)
	fetches int
	cancel  context.CancelFunc
}

func (s *scriptedSource) fetch(ctx context.Context) (fetchResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fetches == len(s.steps) {
		s.cancel()
		return fetchResult{}, ctx.Err()
	}
	step := s.steps[s.fetches]
	s.fetches++
	return step()
}

func (s *scriptedSource) close() {}

func TestWatcherFrames(t *testing.T) {
	first := mixedReport()
	second := mixedReport()
	second.TakenAt = first.TakenAt.Add(10 * time.Second)
	*second.Partitions[0].CurrentOffset = 100
	*second.Partitions[0].Lag = 0
	*second.Partitions[0].EffectiveLag = 0
	second.Sum()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &scriptedSource{cancel: cancel, steps: []func() (fetchResult, error){
		func() (fetchResult, error) { return fetchResult{groups: []inspect.GroupReport{first}}, nil },
		func() (fetchResult, error) { return fetchResult{}, errors.New("broker gone") },
		func() (fetchResult, error) {
			return fetchResult{groups: []inspect.GroupReport{second}, notFound: []string{`consumer group "x" does not exist`}}, nil
		},
	}}
	var out, errOut bytes.Buffer
	w := &watcher{out: &out, errOut: &errOut, format: outputTable, interval: time.Millisecond,
		render: writeGroupTables}
	if err := w.run(ctx, src); err != nil {
		t.Fatalf("watcher.run = %v, want nil after the context ends", err)
	}

	if src.fetches != 3 {
		t.Errorf("fetches = %d, want 3", src.fetches)
	}
	text := out.String()
	if n := strings.Count(text, "every 1ms, refreshed "); n != 3 {
		t.Errorf("output has %d frame headers, want 3:\n%s", n, text)
	}
	if strings.Contains(text, clearScreen) {
		t.Error("output to a non-terminal contains the clear-screen sequence")
	}
	// The second frame failed, so the third measures rates against the
	// first: orders[0] moved 50 → 100 in 10s.
	if !strings.Contains(text, "orders    0          100             0                 100             0    0              5.0        0.0        0s") {
		t.Errorf("third frame has no 5.0/s consume rate for orders[0]:\n%s", text)
	}
	for _, want := range []string{"lagscaler: refresh failed: broker gone", `lagscaler: consumer group "x" does not exist`} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr does not contain %q:\n%s", want, errOut.String())
		}
	}
}

func TestWatcherTerminalClears(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &scriptedSource{cancel: cancel, steps: []func() (fetchResult, error){
		func() (fetchResult, error) { return fetchResult{groups: []inspect.GroupReport{mixedReport()}}, nil },
	}}
	var out bytes.Buffer
	w := &watcher{out: &out, errOut: io.Discard, format: outputTable, interval: time.Millisecond, terminal: true,
		render: writeGroupTables}
	if err := w.run(ctx, src); err != nil {
		t.Fatalf("watcher.run = %v", err)
	}
	if !strings.HasPrefix(out.String(), clearScreen) {
		t.Errorf("terminal output does not start with the clear-screen sequence: %q", out.String())
	}
}

func TestWatcherStopsOnUsageError(t *testing.T) {
	src := &scriptedSource{cancel: func() {}, steps: []func() (fetchResult, error){
		func() (fetchResult, error) { return fetchResult{}, usageError(errors.New("rejected")) },
		func() (fetchResult, error) { t.Error("fetched again after a usage error"); return fetchResult{}, nil },
	}}
	w := &watcher{out: io.Discard, errOut: io.Discard, format: outputJSON, interval: time.Millisecond,
		render: func(io.Writer, []inspect.GroupReport, map[groupKey]*groupRates) error { return nil }}
	err := w.run(context.Background(), src)
	var coded *exitError
	if !errors.As(err, &coded) || coded.code != exitUsage {
		t.Errorf("watcher.run = %v, want the usage error", err)
	}
}

func TestIsTerminalBuffer(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("isTerminal(bytes.Buffer) = true, want false")
	}
}
