package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lagscaler/lagscaler/internal/buildinfo"
)

// NewRegistry returns an empty registry with the Go runtime collector
// (go_*), the process collector (process_*) and lagscaler_build_info
// registered. The collectors of this package are registered by their own
// constructors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newBuildInfoCollector(buildinfo.Version, buildinfo.Commit, runtime.Version()),
	)
	return reg
}

// newBuildInfoCollector returns the lagscaler_build_info gauge, which is
// always 1 and carries the build's identity in its labels.
func newBuildInfoCollector(version, commit, goVersion string) prometheus.Collector {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lagscaler_build_info",
		Help: "Always 1. The labels name the lagscaler version, " +
			"the VCS commit and the Go version of the binary.",
		ConstLabels: prometheus.Labels{
			"version":   version,
			"commit":    commit,
			"goversion": goVersion,
		},
	})
	g.Set(1)
	return g
}

// register registers every collector with reg. On the first error it
// unregisters the ones already registered and returns the error.
func register(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			for _, registered := range collectors[:i] {
				reg.Unregister(registered)
			}
			return err
		}
	}
	return nil
}
