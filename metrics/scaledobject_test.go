package metrics

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lagscaler/lagscaler/scaler"
)

const (
	headerMetricValue = `
# HELP lagscaler_scaledobject_metric_value Metric value last sent to KEDA for the ScaledObject's trigger. metric is the metric name without KEDA's s<index>- prefix.
# TYPE lagscaler_scaledobject_metric_value gauge
`
	headerActive = `
# HELP lagscaler_scaledobject_active 1 when the ScaledObject was last reported active to KEDA, 0 otherwise.
# TYPE lagscaler_scaledobject_active gauge
`
	headerReplicaCap = `
# HELP lagscaler_scaledobject_replica_cap Maximum replica count that the ScaledObject's metric value can request. Absent when allowIdleConsumers lifts the cap.
# TYPE lagscaler_scaledobject_replica_cap gauge
`
	headerDesiredReplicas = `
# HELP lagscaler_scaledobject_desired_replicas Replica count computed from the lag, ceil(lag / lagThreshold), before even distribution and the replica cap.
# TYPE lagscaler_scaledobject_desired_replicas gauge
`
)

// manualClock is a clock that moves only when the test moves it.
type manualClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

func result(namespace, name, metric string, value float64, active bool, replicaCap, uncapped int64) scaler.ScaledObjectResult {
	return scaler.ScaledObjectResult{
		Namespace: namespace, Name: name, MetricName: metric,
		Value: value, Active: active, ReplicaCap: replicaCap, UncappedReplicas: uncapped,
		// DesiredReplicas is after the cap and must not be exported.
		DesiredReplicas: min(uncapped, replicaCap),
	}
}

func TestScaledObjectMetricsExport(t *testing.T) {
	clock := &manualClock{at: t0}
	m := newScaledObjectMetrics(time.Minute, clock.now)

	m.ObserveScaledObject(result("shop", "orders", "kafka-orders-flink", 1000, true, 4, 10))
	// A later result of the same trigger replaces the first.
	m.ObserveScaledObject(result("shop", "orders", "kafka-orders-flink", 4000, true, 4, 40))
	// Two triggers: active when either is, and replicas from the one with
	// more desired replicas.
	m.ObserveScaledObject(result("shop", "billing", "kafka-a", 0, false, 2, 0))
	m.ObserveScaledObject(result("shop", "billing", "kafka-b", 30, true, 6, 3))
	// No cap: the replica_cap series is left out.
	m.ObserveScaledObject(result("etl", "loader", "kafka-raw", 50, true, -1, 5))

	want := headerMetricValue + `
lagscaler_scaledobject_metric_value{metric="kafka-raw",namespace="etl",scaledobject="loader"} 50
lagscaler_scaledobject_metric_value{metric="kafka-a",namespace="shop",scaledobject="billing"} 0
lagscaler_scaledobject_metric_value{metric="kafka-b",namespace="shop",scaledobject="billing"} 30
lagscaler_scaledobject_metric_value{metric="kafka-orders-flink",namespace="shop",scaledobject="orders"} 4000
` + headerActive + `
lagscaler_scaledobject_active{namespace="etl",scaledobject="loader"} 1
lagscaler_scaledobject_active{namespace="shop",scaledobject="billing"} 1
lagscaler_scaledobject_active{namespace="shop",scaledobject="orders"} 1
` + headerReplicaCap + `
lagscaler_scaledobject_replica_cap{namespace="shop",scaledobject="billing"} 6
lagscaler_scaledobject_replica_cap{namespace="shop",scaledobject="orders"} 4
` + headerDesiredReplicas + `
lagscaler_scaledobject_desired_replicas{namespace="etl",scaledobject="loader"} 5
lagscaler_scaledobject_desired_replicas{namespace="shop",scaledobject="billing"} 3
lagscaler_scaledobject_desired_replicas{namespace="shop",scaledobject="orders"} 40
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(m)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("CollectAndLint problems = %v, want none", problems)
	}
}

func TestScaledObjectMetricsExpiry(t *testing.T) {
	clock := &manualClock{at: t0}
	m := newScaledObjectMetrics(10*time.Minute, clock.now)

	m.ObserveScaledObject(result("shop", "deleted", "kafka-old", 7, true, 3, 1))
	clock.advance(5 * time.Minute)
	m.ObserveScaledObject(result("shop", "orders", "kafka-orders", 20, true, 4, 2))
	clock.advance(5 * time.Minute)

	// Exactly the expiry period old: still exported.
	if got := testutil.CollectAndCount(m, "lagscaler_scaledobject_active"); got != 2 {
		t.Errorf("CollectAndCount(active) after 10m = %d, want 2", got)
	}

	clock.advance(time.Second)
	want := headerMetricValue + `
lagscaler_scaledobject_metric_value{metric="kafka-orders",namespace="shop",scaledobject="orders"} 20
` + headerActive + `
lagscaler_scaledobject_active{namespace="shop",scaledobject="orders"} 1
` + headerReplicaCap + `
lagscaler_scaledobject_replica_cap{namespace="shop",scaledobject="orders"} 4
` + headerDesiredReplicas + `
lagscaler_scaledobject_desired_replicas{namespace="shop",scaledobject="orders"} 2
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want)); err != nil {
		t.Errorf("after the first object expired: %v", err)
	}

	// An object observed again is exported again.
	m.ObserveScaledObject(result("shop", "deleted", "kafka-old", 8, false, 3, 1))
	if got := testutil.CollectAndCount(m, "lagscaler_scaledobject_active"); got != 2 {
		t.Errorf("CollectAndCount(active) after a new observation = %d, want 2", got)
	}
}

func TestScaledObjectMetricsPruneWithoutScrapes(t *testing.T) {
	clock := &manualClock{at: t0}
	m := newScaledObjectMetrics(time.Minute, clock.now)
	for _, name := range []string{"a", "b", "c"} {
		m.ObserveScaledObject(result("shop", name, "kafka", 1, true, 1, 1))
	}
	clock.advance(2 * time.Minute)
	m.ObserveScaledObject(result("shop", "d", "kafka", 1, true, 1, 1))

	m.mu.Lock()
	got := len(m.triggers)
	m.mu.Unlock()
	if got != 1 {
		t.Errorf("stored triggers after expiry without a scrape = %d, want 1", got)
	}
}

func TestNewScaledObjectMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewScaledObjectMetrics(reg, 0)
	if err != nil {
		t.Fatalf("NewScaledObjectMetrics: %v", err)
	}
	if m.expiry != DefaultScaledObjectExpiry {
		t.Errorf("NewScaledObjectMetrics(reg, 0) expiry = %v, want %v", m.expiry, DefaultScaledObjectExpiry)
	}
	if _, err := NewScaledObjectMetrics(reg, time.Minute); err == nil {
		t.Error("second NewScaledObjectMetrics on the same registry succeeded, want an error")
	}
}

func TestScaledObjectMetricsConcurrent(t *testing.T) {
	clock := &manualClock{at: t0}
	m := newScaledObjectMetrics(time.Minute, clock.now)
	var wg sync.WaitGroup
	for worker := range 4 {
		wg.Go(func() {
			for i := range 200 {
				m.ObserveScaledObject(result("shop", "orders", "kafka", float64(i), true, 4, int64(worker)))
				clock.advance(time.Second)
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			testutil.CollectAndCount(m)
		}
	})
	wg.Wait()
	if got := testutil.CollectAndCount(m, "lagscaler_scaledobject_metric_value"); got != 1 {
		t.Errorf("CollectAndCount(metric_value) = %d, want 1", got)
	}
}
