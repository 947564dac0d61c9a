package integration

import (
	"context"
	"maps"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kedacore/keda/v2/pkg/scalers"
	"github.com/kedacore/keda/v2/pkg/scalers/scalersconfig"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// The KEDA scenario: six partitions with these record counts and commits.
// With lagThreshold 10 and the default offsetResetPolicy latest, KEDA's
// metric is the sum of the per-partition effective lag:
//
//	partition 0: 100 - 50            = 50
//	partition 1: 200 - 200           =  0
//	partition 2: no commit, latest   =  1 (so a group that never ran gets a consumer)
//	partition 3: commit 60 > end 50  =  0 (never negative)
//	partition 4: 10 - 2              =  8
//	partition 5: 10 - 10             =  0
var (
	scenarioRecords = []int{100, 200, 0, 50, 10, 10}
	scenarioCommits = []int64{50, 200, noCommit, 60, 2, 10}
)

const (
	scenarioValue     = 59
	scenarioThreshold = 10
)

var (
	// dnsLabel matches an RFC 1123 DNS label, the form Kubernetes' external
	// metrics API accepts for metric names.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// kedaMetricName is how KEDA shows lagscaler's metric for trigger 0:
	// "s0-", then "lag-", the group name reduced to a DNS label (possibly
	// cut short or empty) and 8 hex digits of a hash.
	kedaMetricName = regexp.MustCompile(`^s0-lag-([a-z0-9-]+-)?[0-9a-f]{8}$`)
)

// newKEDAScaler returns KEDA's own external scaler client, configured as KEDA
// configures trigger 0 of a ScaledObject, for lagscaler at addr.
func newKEDAScaler(t *testing.T, addr string, metadata map[string]string) scalers.Scaler {
	t.Helper()
	s, err := scalers.NewExternalScaler(kedaConfig(addr, metadata))
	if err != nil {
		t.Fatalf("scalers.NewExternalScaler: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func kedaConfig(addr string, metadata map[string]string) *scalersconfig.ScalerConfig {
	triggerMetadata := map[string]string{"scalerAddress": addr}
	maps.Copy(triggerMetadata, metadata)
	return &scalersconfig.ScalerConfig{
		ScalableObjectName:      "orders-consumer",
		ScalableObjectNamespace: "shop",
		ScalableObjectType:      "ScaledObject",
		TriggerType:             "external",
		TriggerMetadata:         triggerMetadata,
		TriggerIndex:            0,
		GlobalHTTPTimeout:       3 * time.Second,
	}
}

// setUpScenario creates the KEDA scenario's topic and group and returns the
// trigger metadata that points at them.
func setUpScenario(ctx context.Context, t *testing.T, bootstrap string) map[string]string {
	t.Helper()
	topic, group := setUpGroup(ctx, t, bootstrap, scenarioRecords, scenarioCommits, false)
	return map[string]string{
		"topic":         topic,
		"consumerGroup": group,
		"lagThreshold":  "10",
	}
}

// metricSpec calls GetMetricSpecForScaling and checks that it returns one
// external AverageValue metric with target scenarioThreshold and a name in
// the form Kubernetes accepts. It returns the metric name, with KEDA's
// "s0-" prefix.
func metricSpec(ctx context.Context, t *testing.T, s scalers.Scaler) string {
	t.Helper()
	specs := s.GetMetricSpecForScaling(ctx)
	if len(specs) != 1 || specs[0].External == nil {
		t.Fatalf("GetMetricSpecForScaling() = %+v, want one external metric", specs)
	}
	ext := specs[0].External

	name := ext.Metric.Name
	if !kedaMetricName.MatchString(name) {
		t.Errorf("metric name %q does not match %s", name, kedaMetricName)
	}
	if !dnsLabel.MatchString(name) || len(name) > 63 {
		t.Errorf("metric name %q is not a lowercase DNS label of at most 63 characters", name)
	}

	if ext.Target.Type != autoscalingv2.AverageValueMetricType {
		t.Errorf("metric target type = %s, want %s", ext.Target.Type, autoscalingv2.AverageValueMetricType)
	}
	target := ext.Target.AverageValue
	if target == nil || target.MilliValue() != scenarioThreshold*1000 {
		t.Errorf("metric target average value = %v, want %d", target, scenarioThreshold)
	}
	return name
}

// metricValue calls GetMetricsAndActivity and returns the single value and
// the activity.
func metricValue(ctx context.Context, t *testing.T, s scalers.Scaler, name string,
) (value float64, active bool, err error) {
	t.Helper()
	metrics, active, err := s.GetMetricsAndActivity(ctx, name)
	if err != nil {
		return 0, false, err
	}
	if len(metrics) != 1 {
		t.Fatalf("GetMetricsAndActivity(%s) returned %d metrics, want 1: %+v",
			name, len(metrics), metrics)
	}
	if metrics[0].MetricName != name {
		t.Errorf("GetMetricsAndActivity(%s) metric name = %q, want %q", name, metrics[0].MetricName, name)
	}
	return float64(metrics[0].Value.MilliValue()) / 1000, active, nil
}

func TestKEDAMetricAndActivity(t *testing.T) {
	bootstrap := needCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	metadata := setUpScenario(ctx, t, bootstrap)
	srv := startServe(t, bootstrap)
	scaler := newKEDAScaler(t, srv.grpcAddr, metadata)

	name := metricSpec(ctx, t, scaler)
	if again := metricSpec(ctx, t, scaler); again != name {
		t.Errorf("metric name changed between calls: %q, then %q", name, again)
	}

	value, active, err := metricValue(ctx, t, scaler, name)
	if err != nil {
		t.Fatalf("GetMetricsAndActivity(%s): %v", name, err)
	}
	if value != scenarioValue {
		t.Errorf("GetMetricsAndActivity(%s) value = %v, want %d", name, value, scenarioValue)
	}
	if !active {
		t.Errorf("GetMetricsAndActivity(%s) active = false, want true", name)
	}
}

func TestKEDAInvalidMetadata(t *testing.T) {
	bootstrap := needCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv := startServe(t, bootstrap)

	tests := []struct {
		name     string
		metadata map[string]string
		wantKey  string // the key the error message must name
	}{
		{
			name:     "zero lagThreshold",
			metadata: map[string]string{"topic": "orders", "consumerGroup": "g", "lagThreshold": "0"},
			wantKey:  "lagThreshold",
		},
		{
			name:     "lagThreshold not a number",
			metadata: map[string]string{"topic": "orders", "consumerGroup": "g", "lagThreshold": "ten"},
			wantKey:  "lagThreshold",
		},
		{
			name:     "missing consumerGroup",
			metadata: map[string]string{"topic": "orders"},
			wantKey:  "consumerGroup",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scaler := newKEDAScaler(t, srv.grpcAddr, tt.metadata)

			// KEDA logs a GetMetricSpec error and returns no specs.
			if specs := scaler.GetMetricSpecForScaling(ctx); len(specs) != 0 {
				t.Errorf("GetMetricSpecForScaling() = %+v, want no specs", specs)
			}

			_, _, err := scaler.GetMetricsAndActivity(ctx, "s0-lag")
			if err == nil {
				t.Fatal("GetMetricsAndActivity() error = nil, want an error")
			}
			if got := status.Code(err); got != codes.InvalidArgument {
				t.Errorf("GetMetricsAndActivity() code = %s, want %s (%v)", got, codes.InvalidArgument, err)
			}
			if !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("GetMetricsAndActivity() error = %q, want it to name %s", err, tt.wantKey)
			}
		})
	}
}

// TestKEDAStreamIsActive uses KEDA's client for the external-push trigger,
// which scales from zero as soon as the stream sends true.
func TestKEDAStreamIsActive(t *testing.T) {
	bootstrap := needCluster(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	metadata := setUpScenario(ctx, t, bootstrap)
	srv := startServe(t, bootstrap)

	scaler, err := scalers.NewExternalPushScaler(kedaConfig(srv.grpcAddr, metadata))
	if err != nil {
		t.Fatalf("scalers.NewExternalPushScaler: %v", err)
	}
	t.Cleanup(func() { _ = scaler.Close(context.Background()) })

	runCtx, stop := context.WithCancel(ctx)
	active := make(chan bool)
	go scaler.Run(runCtx, active)
	// Run closes active once runCtx is done, which ends this drain.
	defer func() {
		stop()
		for range active {
		}
	}()

	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case got, ok := <-active:
			if !ok {
				t.Fatalf("KEDA's push scaler stopped before StreamIsActive sent true\n%s", srv.log())
			}
			if got {
				return
			}
			t.Logf("StreamIsActive sent false; waiting for true")
		case <-timeout.C:
			t.Fatalf("StreamIsActive sent no true within 30s\n%s", srv.log())
		}
	}
}
