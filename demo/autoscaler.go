package demo

import (
	"context"
	"fmt"
	"slices"
	"time"

	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
	"github.com/lagscaler/lagscaler/scaler"
)

// readTimeout bounds one poll's three calls, as the HPA's read of an
// external metric through KEDA is bounded by 3 seconds.
const readTimeout = 3 * time.Second

// autoscaler plays KEDA and the HorizontalPodAutoscaler for one ScaledObject
// with one external trigger. It calls the scaler over gRPC as KEDA does and
// turns the responses into a replica count.
//
// NOTE: it leaves out the HPA's scale-up policies, by default at most 4 pods
// or 100% more per 15 seconds. It also runs the HPA at every poll, where a
// cluster runs it every 15 seconds and KEDA polls every 30 seconds.
type autoscaler struct {
	client pb.ExternalScalerClient
	ref    *pb.ScaledObjectRef

	minReplicas int
	maxReplicas int
	// scaleUpWindow and scaleDownWindow are the HPA's
	// behavior.scaleUp.stabilizationWindowSeconds and
	// behavior.scaleDown.stabilizationWindowSeconds.
	scaleUpWindow   time.Duration
	scaleDownWindow time.Duration
	// cooldown is KEDA's cooldownPeriod: how long the trigger must stay
	// inactive before a ScaledObject with minReplicaCount 0 scales to zero.
	cooldown time.Duration

	recommendations []recommendation
	lastActive      time.Time
}

type recommendation struct {
	at       time.Time
	replicas int
}

// observation is the result of one poll of the scaler.
type observation struct {
	metricName string
	// value and target are in records of lag.
	value  float64
	target float64
	active bool
	err    error
}

// observe calls GetMetricSpec, GetMetrics and IsActive in the order KEDA
// does.
func (a *autoscaler) observe(ctx context.Context) observation {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()

	specs, err := a.client.GetMetricSpec(ctx, a.ref)
	if err != nil {
		return observation{err: fmt.Errorf("GetMetricSpec: %w", err)}
	}
	if n := len(specs.GetMetricSpecs()); n != 1 {
		return observation{err: fmt.Errorf("GetMetricSpec returned %d metric specs, expected 1", n)}
	}
	spec := specs.GetMetricSpecs()[0]
	obs := observation{
		metricName: spec.GetMetricName(),
		target:     floatOrInt(spec.GetTargetSizeFloat(), spec.GetTargetSize()),
	}

	metrics, err := a.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: a.ref, MetricName: obs.metricName})
	if err != nil {
		return observation{err: fmt.Errorf("GetMetrics: %w", err)}
	}
	if n := len(metrics.GetMetricValues()); n != 1 {
		return observation{err: fmt.Errorf("GetMetrics returned %d metric values, expected 1", n)}
	}
	value := metrics.GetMetricValues()[0]
	obs.value = floatOrInt(value.GetMetricValueFloat(), value.GetMetricValue())

	active, err := a.client.IsActive(ctx, a.ref)
	if err != nil {
		return observation{err: fmt.Errorf("IsActive: %w", err)}
	}
	obs.active = active.GetResult()
	return obs
}

// floatOrInt returns f when it is above 0 and i otherwise, as KEDA reads the
// pairs of float and integer fields.
func floatOrInt(f float64, i int64) float64 {
	if f > 0 {
		return f
	}
	return float64(i)
}

// replicas returns the replica count after a poll at now that read obs,
// with current replicas running.
//
// On an error the count stays, because KEDA never scales on a failed read.
// From zero, an active trigger scales to max(minReplicas, 1), as KEDA does.
// With minReplicas 0, a trigger inactive for the cooldown scales to zero.
// Otherwise the HPA's AverageValue rule picks the count.
func (a *autoscaler) replicas(now time.Time, current int, obs observation) int {
	if obs.err != nil {
		return current
	}
	if obs.active {
		a.lastActive = now
	}
	if current == 0 {
		if obs.active {
			return max(a.minReplicas, 1)
		}
		return 0
	}
	if a.minReplicas == 0 && !obs.active && now.Sub(a.lastActive) >= a.cooldown {
		a.recommendations = a.recommendations[:0]
		return 0
	}

	// The HPA's minReplicas is at least 1, because KEDA owns the step to zero.
	desired := scaler.HPAReplicas(obs.value, obs.target, current, max(a.minReplicas, 1), a.maxReplicas)
	return a.stabilize(now, current, desired)
}

// stabilize applies the HPA's stabilization windows to desired, as the HPA
// does. A scale-out goes only up to the lowest count recommended within the
// scale-up window. A scale-in goes only down to the highest count
// recommended within the scale-down window.
//
// Flink commits only at checkpoints, so the lag falls after every checkpoint
// and rises during every restart. Without the windows each dip would scale
// in, and each rise after a rescale would scale out again, every time
// restarting the job.
func (a *autoscaler) stabilize(now time.Time, current, desired int) int {
	a.recommendations = append(a.recommendations, recommendation{at: now, replicas: desired})
	upCutoff := now.Add(-a.scaleUpWindow)
	downCutoff := now.Add(-a.scaleDownWindow)
	a.recommendations = slices.DeleteFunc(a.recommendations, func(r recommendation) bool {
		return r.at.Before(upCutoff) && r.at.Before(downCutoff)
	})

	lowest, highest := desired, desired
	for _, r := range a.recommendations {
		if !r.at.Before(upCutoff) {
			lowest = min(lowest, r.replicas)
		}
		if !r.at.Before(downCutoff) {
			highest = max(highest, r.replicas)
		}
	}
	return min(max(current, lowest), highest)
}
