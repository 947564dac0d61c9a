package integration

import (
	"context"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// kedaReadTimeout is the deadline KEDA gives a whole metrics read on the
// HPA path: GetMetricSpec, GetMetrics and IsActive.
const kedaReadTimeout = 3 * time.Second

// TestServeSurvivesBrokerKill kills the broker under a running `lagscaler
// serve`: reads must turn into errors within KEDA's deadline, never a
// made-up value, and must return the right value again once the broker is
// back, without a restart of lagscaler.
func TestServeSurvivesBrokerKill(t *testing.T) {
	b := needOwnBroker(t)
	bootstrap := b.addr()
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()

	metadata := setUpScenario(ctx, t, bootstrap)
	const maxStaleness = 5 * time.Second
	srv := startServe(t, bootstrap,
		"--refresh-interval", "1s", "--max-staleness", maxStaleness.String())
	scaler := newKEDAScaler(t, srv.grpcAddr, metadata)
	name := metricSpec(ctx, t, scaler)
	if value, _, err := readMetric(ctx, t, scaler, name); err != nil || value != scenarioValue {
		t.Fatalf("before the kill: GetMetricsAndActivity(%s) = %v, %v; want %d",
			name, value, err, scenarioValue)
	}

	// Later tests need the broker, whatever happens here.
	restarted := false
	t.Cleanup(func() {
		if restarted {
			return
		}
		if err := b.start(context.Background()); err != nil {
			t.Logf("restart broker after the test: %v", err)
		}
	})
	if err := b.kill(ctx); err != nil {
		t.Fatal(err)
	}
	waitForReadError(ctx, t, scaler, name, maxStaleness+20*time.Second)

	if err := b.start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitForValue(ctx, t, scaler, name, 60*time.Second)
	if !srv.running() {
		t.Fatal("lagscaler serve exited while the broker was down")
	}
}

// readMetric reads the metric as the HPA path does, within KEDA's deadline.
func readMetric(ctx context.Context, t *testing.T, s scalers.Scaler, name string,
) (float64, time.Duration, error) {
	t.Helper()
	readCtx, cancel := context.WithTimeout(ctx, kedaReadTimeout)
	defer cancel()
	start := time.Now()
	value, _, err := metricValue(readCtx, t, s, name)
	return value, time.Since(start), err
}

// waitForReadError polls until a read fails. Until then lagscaler may still
// serve the snapshot taken before the kill, which must hold the old value.
// The failing read must return before KEDA's deadline with code
// Unavailable, the code for an unreachable Kafka cluster.
func waitForReadError(ctx context.Context, t *testing.T, s scalers.Scaler, name string,
	timeout time.Duration,
) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		value, elapsed, err := readMetric(ctx, t, s, name)
		if err != nil {
			t.Logf("first failed read %v after the kill took %v: %v",
				time.Since(start).Round(time.Millisecond), elapsed, err)
			if elapsed >= kedaReadTimeout {
				t.Errorf("read with the broker down took %v, want an error before KEDA's %v deadline: %v",
					elapsed, kedaReadTimeout, err)
			}
			if got := status.Code(err); got != codes.Unavailable {
				t.Errorf("read with the broker down: code %s, want %s (%v)", got, codes.Unavailable, err)
			}
			return
		}
		if value != scenarioValue {
			t.Fatalf("read with the broker down = %v, want an error or the last value %d",
				value, scenarioValue)
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads still returned values %v after the broker was killed", timeout)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitForValue polls until a read returns scenarioValue again.
func waitForValue(ctx context.Context, t *testing.T, s scalers.Scaler, name string,
	timeout time.Duration,
) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		value, _, err := readMetric(ctx, t, s, name)
		if err == nil && value == scenarioValue {
			t.Logf("reads returned %d again %v after the broker restart",
				scenarioValue, time.Since(start).Round(time.Millisecond))
			return
		}
		if err == nil {
			t.Fatalf("read after the broker restart = %v, want %d", value, scenarioValue)
		}
		if time.Now().After(deadline) {
			t.Fatalf("reads still failed %v after the broker restart: %v", timeout, err)
		}
		time.Sleep(time.Second)
	}
}
