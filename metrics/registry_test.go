package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestBuildInfo(t *testing.T) {
	c := newBuildInfoCollector("v0.3.0", "0123abc", "go1.26.8")
	want := `
# HELP lagscaler_build_info Always 1. The labels name the lagscaler version, the VCS commit and the Go version of the binary.
# TYPE lagscaler_build_info gauge
lagscaler_build_info{commit="0123abc",goversion="go1.26.8",version="v0.3.0"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatalf("CollectAndLint: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("CollectAndLint problems = %v, want none", problems)
	}
}

func TestNewRegistry(t *testing.T) {
	reg := NewRegistry()
	for _, name := range []string{"lagscaler_build_info", "go_goroutines", "process_start_time_seconds"} {
		n, err := testutil.GatherAndCount(reg, name)
		if err != nil {
			t.Fatalf("GatherAndCount(%s): %v", name, err)
		}
		if n != 1 {
			t.Errorf("GatherAndCount(%s) = %d, want 1", name, n)
		}
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("GatherAndLint problems = %v, want none", problems)
	}

	// Every collector of the package registers next to the default ones.
	if _, err := NewLagCollector(reg, entries{}, LagOptions{}); err != nil {
		t.Errorf("NewLagCollector: %v", err)
	}
	if _, err := NewKafkaMetrics(reg); err != nil {
		t.Errorf("NewKafkaMetrics: %v", err)
	}
	if _, err := NewGRPCMetrics(reg); err != nil {
		t.Errorf("NewGRPCMetrics: %v", err)
	}
	if _, err := NewScaledObjectMetrics(reg, 0); err != nil {
		t.Errorf("NewScaledObjectMetrics: %v", err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Errorf("Gather: %v", err)
	}
}
