package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
	"github.com/lagscaler/lagscaler/metrics"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
	"github.com/lagscaler/lagscaler/scaler"
)

// serveMetrics are the Prometheus collectors of "lagscaler serve", all on
// one registry of its own.
type serveMetrics struct {
	registry     *prometheus.Registry
	kafka        *metrics.KafkaMetrics
	grpc         *metrics.GRPCMetrics
	scaledObject *metrics.ScaledObjectMetrics
}

// scaledObjectExpiry is how long the series of a ScaledObject outlive its
// last successful evaluation. The HPA reads every ScaledObject every 15s by
// default. A series older than this therefore belongs to a deleted object or
// to one whose evaluations fail, and its old value would mislead.
func scaledObjectExpiry(maxStaleness time.Duration) time.Duration {
	return max(2*time.Minute, 4*maxStaleness)
}

func newServeMetrics(scaledObjectTTL time.Duration) (*serveMetrics, error) {
	m := &serveMetrics{registry: metrics.NewRegistry()}
	var err error
	if m.kafka, err = metrics.NewKafkaMetrics(m.registry); err != nil {
		return nil, err
	}
	if m.grpc, err = metrics.NewGRPCMetrics(m.registry); err != nil {
		return nil, err
	}
	if m.scaledObject, err = metrics.NewScaledObjectMetrics(m.registry, scaledObjectTTL); err != nil {
		return nil, err
	}
	return m, nil
}

// registerLag exports the cached lag snapshots. Groups listed in the
// configuration decide their own per-partition setting. Groups that only
// ScaledObjects request export per-partition series.
func (m *serveMetrics) registerLag(cache *lag.Cache, cfg *config.Config, maxAge time.Duration) error {
	perPartition := make(map[[2]string]bool)
	for _, g := range cfg.Metrics.Groups {
		key := [2]string{g.Cluster, g.Group}
		// A group listed twice exports partitions if any of its entries enables them.
		perPartition[key] = perPartition[key] || g.ExportPartitions()
	}
	_, err := metrics.NewLagCollector(m.registry, cache, metrics.LagOptions{
		PerPartition: func(cluster, group string) bool {
			if on, listed := perPartition[[2]string{cluster, group}]; listed {
				return on
			}
			return patternPerPartition(cfg.Metrics.GroupPatterns, cluster, group)
		},
		MaxAge: maxAge,
	})
	return err
}

func (m *serveMetrics) serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(m.grpc.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.grpc.StreamServerInterceptor()),
	}
}

// registerServices registers KEDA's external scaler and the inspection
// service on server and returns the scaler, whose Shutdown ends open
// streams.
func registerServices(server *grpc.Server, a *app) *scaler.Server {
	scalerServer := scaler.New(a.cache, scaler.Options{
		Clusters:       scalerClusters(a.cfg),
		StreamInterval: a.flags.refresh,
		Logger:         a.logger,
		Observer:       a.metrics.scaledObject,
	})
	pb.RegisterExternalScalerServer(server, scalerServer)
	inspectv1.RegisterInspectServer(server, inspect.NewServer(a.cache))
	return scalerServer
}

// scalerClusters returns the clusters of cfg that trigger metadata may name.
func scalerClusters(cfg *config.Config) []scaler.Cluster {
	clusters := make([]scaler.Cluster, len(cfg.Clusters))
	for i, cl := range cfg.Clusters {
		clusters[i] = scaler.Cluster{Name: cl.Name, BootstrapServers: cl.BootstrapServers}
	}
	return clusters
}
