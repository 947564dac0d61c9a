package metrics

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// GRPCMetrics counts and times the RPCs of a gRPC server through its
// interceptors. It is safe for concurrent use.
//
// The method label is the RPC name without its service, such as "GetMetrics".
// grpc-go rejects a call to an unregistered method before any interceptor
// runs (unless the server sets an UnknownServiceHandler), so clients cannot
// create series of their own.
type GRPCMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	now      func() time.Time
}

// NewGRPCMetrics creates the gRPC metrics and registers them with reg. It
// returns an error when reg rejects one of them.
func NewGRPCMetrics(reg prometheus.Registerer) (*GRPCMetrics, error) {
	m := &GRPCMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lagscaler_grpc_requests_total",
			Help: "gRPC calls served, by method and status code.",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lagscaler_grpc_request_duration_seconds",
			Help: "Time from receiving a gRPC call to returning its status. " +
				"For a streaming call it is the lifetime of the stream.",
			Buckets: durationBuckets,
		}, []string{"method"}),
		now: time.Now,
	}
	if err := register(reg, m.requests, m.duration); err != nil {
		return nil, fmt.Errorf("registering grpc metrics: %w", err)
	}
	return m, nil
}

// UnaryServerInterceptor returns an interceptor that records unary calls.
// Pass it with grpc.ChainUnaryInterceptor.
func (m *GRPCMetrics) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(
		ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler,
	) (any, error) {
		start := m.now()
		resp, err := handler(ctx, req)
		m.observe(info.FullMethod, start, err)
		return resp, err
	}
}

// StreamServerInterceptor returns an interceptor that records streaming
// calls when they end. Pass it with grpc.ChainStreamInterceptor.
func (m *GRPCMetrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(
		srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler,
	) error {
		start := m.now()
		err := handler(srv, ss)
		m.observe(info.FullMethod, start, err)
		return err
	}
}

func (m *GRPCMetrics) observe(fullMethod string, start time.Time, err error) {
	method := shortMethod(fullMethod)
	m.requests.WithLabelValues(method, status.Code(err).String()).Inc()
	m.duration.WithLabelValues(method).Observe(m.now().Sub(start).Seconds())
}

// shortMethod returns the RPC name of a full method name of the form
// "/package.Service/Method".
func shortMethod(fullMethod string) string {
	return fullMethod[strings.LastIndexByte(fullMethod, '/')+1:]
}
