package demo

import (
	"errors"
	"testing"
	"time"
)

func TestAutoscalerReplicas(t *testing.T) {
	lagOf := func(value float64, active bool) observation {
		return observation{value: value, target: 1000, active: active}
	}
	tests := []struct {
		name        string
		minReplicas int
		// sinceActive is the time since the trigger was last active.
		sinceActive time.Duration
		current     int
		obs         observation
		want        int
	}{
		{name: "error keeps count", minReplicas: 1, current: 4,
			obs: observation{err: errors.New("unavailable")}, want: 4},
		{name: "error keeps zero", current: 0,
			obs: observation{err: errors.New("unavailable")}, want: 0},
		{name: "active from zero", current: 0, obs: lagOf(9000, true), want: 1},
		{name: "inactive at zero", current: 0, obs: lagOf(0, false), want: 0},
		{name: "inactive within cooldown", current: 1, sinceActive: 5 * time.Second,
			obs: lagOf(0, false), want: 1},
		{name: "inactive after cooldown", current: 3, sinceActive: 20 * time.Second,
			obs: lagOf(0, false), want: 0},
		{name: "inactive with minimum 1", minReplicas: 1, current: 1, sinceActive: time.Hour,
			obs: lagOf(0, false), want: 1},
		{name: "scale out", minReplicas: 1, current: 1, obs: lagOf(3000, true), want: 3},
		{name: "within tolerance", minReplicas: 1, current: 2, obs: lagOf(2150, true), want: 2},
		{name: "outside tolerance", minReplicas: 1, current: 2, obs: lagOf(2300, true), want: 3},
		{name: "capped at maximum", minReplicas: 1, current: 2, obs: lagOf(50_000, true), want: 10},
		{name: "raised to minimum", minReplicas: 3, current: 3, obs: lagOf(10, true), want: 3},
		{name: "scale in without history", minReplicas: 1, current: 4, obs: lagOf(900, true), want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &autoscaler{
				minReplicas:     tt.minReplicas,
				maxReplicas:     10,
				scaleDownWindow: 15 * time.Second,
				cooldown:        15 * time.Second,
				lastActive:      epoch.Add(-tt.sinceActive),
			}
			if got := a.replicas(epoch, tt.current, tt.obs); got != tt.want {
				t.Errorf("replicas(current %d, value %g, active %t, err %v) = %d, want %d",
					tt.current, tt.obs.value, tt.obs.active, tt.obs.err, got, tt.want)
			}
		})
	}
}

// replicaStep is one poll of an active trigger with target 1000 at epoch +
// at, and the replica count it should lead to.
type replicaStep struct {
	at      time.Duration
	current int
	value   float64
	want    int
}

// checkReplicaSteps runs steps in order against a and reports every step
// whose replica count differs.
func checkReplicaSteps(t *testing.T, a *autoscaler, steps []replicaStep) {
	t.Helper()
	for _, step := range steps {
		got := a.replicas(epoch.Add(step.at), step.current, observation{value: step.value, target: 1000, active: true})
		if got != step.want {
			t.Errorf("at %s: replicas(current %d, value %g) = %d, want %d", step.at, step.current, step.value, got, step.want)
		}
	}
}

func TestAutoscalerScaleDownWindow(t *testing.T) {
	a := &autoscaler{minReplicas: 1, maxReplicas: 10, scaleDownWindow: 15 * time.Second}
	checkReplicaSteps(t, a, []replicaStep{
		{at: 0, current: 1, value: 6000, want: 6},
		// A checkpoint commits and the lag falls: the window keeps 6.
		{at: 5 * time.Second, current: 6, value: 500, want: 6},
		{at: 10 * time.Second, current: 6, value: 3000, want: 6},
		// The 6 is out of the window, the 3 is not.
		{at: 16 * time.Second, current: 6, value: 500, want: 3},
		{at: 26 * time.Second, current: 3, value: 500, want: 1},
		// Scaling out is not delayed.
		{at: 27 * time.Second, current: 1, value: 4000, want: 4},
	})
}

func TestAutoscalerScaleUpWindow(t *testing.T) {
	a := &autoscaler{minReplicas: 1, maxReplicas: 10, scaleUpWindow: 10 * time.Second}
	checkReplicaSteps(t, a, []replicaStep{
		{at: 0, current: 1, value: 900, want: 1},
		// The 1 recommended at 0s keeps the count until it leaves the window.
		{at: 5 * time.Second, current: 1, value: 5000, want: 1},
		{at: 11 * time.Second, current: 1, value: 4000, want: 4},
		// Scaling in is not delayed without a scale-down window.
		{at: 12 * time.Second, current: 4, value: 900, want: 1},
	})
}

func TestFloatOrInt(t *testing.T) {
	tests := []struct {
		f    float64
		i    int64
		want float64
	}{
		{f: 2.5, i: 3, want: 2.5},
		{f: 0, i: 3, want: 3},
		{f: -1, i: 3, want: 3},
		{f: 0, i: 0, want: 0},
	}
	for _, tt := range tests {
		if got := floatOrInt(tt.f, tt.i); got != tt.want {
			t.Errorf("floatOrInt(%g, %d) = %g, want %g", tt.f, tt.i, got, tt.want)
		}
	}
}

func TestProfileRate(t *testing.T) {
	p := Profile{BaseRate: 50, PeakRate: 1050, Duration: 100 * time.Second}
	tests := []struct {
		elapsed time.Duration
		want    float64
	}{
		{elapsed: 0, want: 50},
		{elapsed: 8 * time.Second, want: 50},
		{elapsed: 19 * time.Second, want: 550},
		{elapsed: 30 * time.Second, want: 1050},
		{elapsed: 42 * time.Second, want: 1050},
		{elapsed: 55 * time.Second, want: 50},
		{elapsed: 100 * time.Second, want: 50},
		{elapsed: 200 * time.Second, want: 50},
		{elapsed: -time.Second, want: 50},
	}
	for _, tt := range tests {
		if got := p.Rate(tt.elapsed); got < tt.want-1e-9 || got > tt.want+1e-9 {
			t.Errorf("Rate(%s) = %g, want %g", tt.elapsed, got, tt.want)
		}
	}
}
