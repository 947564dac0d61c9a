package scaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lagscaler/lagscaler/lag"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
)

// LagSource returns lag snapshots. *lag.Cache implements it.
type LagSource interface {
	Get(ctx context.Context, q lag.Query) (*lag.Snapshot, error)
}

var _ LagSource = (*lag.Cache)(nil)

// Observer receives the result of every successful evaluation of a
// ScaledObject's trigger, for example to export it to Prometheus. The server
// calls it from concurrent RPCs, so it must be safe for concurrent use, and
// it must not block. KEDA never reports that a ScaledObject was deleted, so an
// Observer that keeps per-object state should expire it by time.
type Observer interface {
	ObserveScaledObject(ScaledObjectResult)
}

// ScaledObjectResult is the outcome of one evaluation for an Observer.
type ScaledObjectResult struct {
	// Namespace and Name identify the ScaledObject (or ScaledJob).
	Namespace string
	Name      string
	// MetricName is the metric name without KEDA's "s<index>-" prefix.
	MetricName string
	Cluster    string
	Group      string
	// Value is the metric value sent to KEDA.
	Value  float64
	Active bool
	// ReplicaCap is the cap on replicas, or -1 when allowIdleConsumers lifts
	// it.
	ReplicaCap int64
	// UncappedReplicas is ceil(total lag / lagThreshold), before even
	// distribution and the cap. It exceeds ReplicaCap while the workload is
	// pinned at the cap.
	UncappedReplicas int64
	// DesiredReplicas is ceil(Value / lagThreshold).
	DesiredReplicas int64
	// At is the time the decision was made for.
	At time.Time
}

// DefaultStreamInterval is how often StreamIsActive re-evaluates activity
// when Options.StreamInterval is 0.
const DefaultStreamInterval = 5 * time.Second

// warnInterval is the minimum time between two identical warnings for one
// ScaledObject.
const warnInterval = time.Minute

// maxWarnEntries bounds the warnings the server remembers for rate limiting,
// so that requests with ever new names or errors cannot grow its memory. By
// estimate, a full limiter takes about 1 MB.
const maxWarnEntries = 10_000

// Options configures a Server. The zero value of each field selects its
// default.
type Options struct {
	// Clusters are the Kafka clusters triggers may select. A trigger may omit
	// cluster and bootstrapServers when there is exactly one.
	Clusters []Cluster
	// StreamInterval is how often StreamIsActive re-evaluates activity.
	// Default DefaultStreamInterval.
	StreamInterval time.Duration
	// Logger receives a debug record per request and rate-limited warnings
	// for errors returned to KEDA. Nil discards them.
	Logger *slog.Logger
	// Observer, when not nil, receives every successful evaluation.
	Observer Observer
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Server implements KEDA's ExternalScaler service over a LagSource. Its
// methods are safe for concurrent use.
type Server struct {
	pb.UnimplementedExternalScalerServer

	src      LagSource
	clusters []Cluster
	interval time.Duration
	log      *slog.Logger
	observer Observer
	now      func() time.Time
	warnings *logLimiter

	// life ends when Shutdown is called, and every stream watches it.
	life     context.Context
	shutdown context.CancelFunc
}

var _ pb.ExternalScalerServer = (*Server)(nil)

// New returns a Server that reads lag from src. Register it with
// pb.RegisterExternalScalerServer and call Shutdown before the gRPC server's
// GracefulStop, so that open streams end.
func New(src LagSource, opts Options) *Server {
	s := &Server{
		src:      src,
		clusters: opts.Clusters,
		interval: opts.StreamInterval,
		log:      opts.Logger,
		observer: opts.Observer,
		now:      opts.Now,
		warnings: newLogLimiter(warnInterval, maxWarnEntries),
	}
	if s.interval <= 0 {
		s.interval = DefaultStreamInterval
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.life, s.shutdown = context.WithCancel(context.Background())
	return s
}

// Shutdown ends every open StreamIsActive and StreamMetricSpec call with
// Unavailable and makes new ones end at once, so that the gRPC server's
// GracefulStop does not wait for them forever. Unary calls keep working. It
// is safe to call more than once.
func (s *Server) Shutdown() {
	s.shutdown()
}

// GetMetricSpec returns the trigger's metric name and target. It parses the
// metadata and does no Kafka I/O.
func (s *Server) GetMetricSpec(
	ctx context.Context, ref *pb.ScaledObjectRef,
) (*pb.GetMetricSpecResponse, error) {
	t, err := s.parse(ref)
	if err != nil {
		return nil, s.fail(ctx, "GetMetricSpec", ref, t.Group, err)
	}
	s.log.DebugContext(ctx, "metric spec",
		refAttrs(ref, t.Group, "metric", t.MetricName(), "target", t.LagThreshold)...)
	return metricSpec(t), nil
}

func metricSpec(t Trigger) *pb.GetMetricSpecResponse {
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName:      t.MetricName(),
		TargetSize:      ceilInt64(t.LagThreshold),
		TargetSizeFloat: t.LagThreshold,
	}}}
}

// GetMetrics returns the trigger's metric value. The metric name in the
// response repeats the request's, or the trigger's when the request has none.
func (s *Server) GetMetrics(
	ctx context.Context, req *pb.GetMetricsRequest,
) (*pb.GetMetricsResponse, error) {
	ref := req.GetScaledObjectRef()
	t, d, err := s.evaluate(ctx, ref)
	if err != nil {
		return nil, s.fail(ctx, "GetMetrics", ref, t.Group, err)
	}
	name := req.GetMetricName()
	if name == "" {
		name = t.MetricName()
	}
	s.log.DebugContext(ctx, "metrics",
		refAttrs(ref, t.Group, "metric", name, "value", d.Value, "active", d.Active)...)
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName:       name,
		MetricValue:      ceilInt64(d.Value),
		MetricValueFloat: d.Value,
	}}}, nil
}

// IsActive reports whether the trigger's lag is above its activation
// threshold.
func (s *Server) IsActive(
	ctx context.Context, ref *pb.ScaledObjectRef,
) (*pb.IsActiveResponse, error) {
	t, d, err := s.evaluate(ctx, ref)
	if err != nil {
		return nil, s.fail(ctx, "IsActive", ref, t.Group, err)
	}
	s.log.DebugContext(ctx, "is active", refAttrs(ref, t.Group, "active", d.Active)...)
	return &pb.IsActiveResponse{Result: d.Active}, nil
}

// parse parses the trigger metadata of ref. Every RPC starts with it, so it
// also expires old warning entries, which then need no new warning to go.
func (s *Server) parse(ref *pb.ScaledObjectRef) (Trigger, error) {
	s.warnings.sweep(s.now())
	return ParseMetadata(ref.GetScalerMetadata(), s.clusters...)
}

// evaluate parses the trigger of ref, fetches its snapshot and decides.
func (s *Server) evaluate(ctx context.Context, ref *pb.ScaledObjectRef) (Trigger, Decision, error) {
	t, err := s.parse(ref)
	if err != nil {
		return Trigger{}, Decision{}, err
	}
	d, err := s.decide(ctx, ref, t)
	return t, d, err
}

// decide fetches the snapshot for t and decides, and reports the result to
// the observer.
func (s *Server) decide(ctx context.Context, ref *pb.ScaledObjectRef, t Trigger) (Decision, error) {
	snapshot, err := s.src.Get(ctx, t.Query())
	if err != nil {
		// A *lag.UnavailableError names the cluster and group already.
		if unavailable := (*lag.UnavailableError)(nil); !errors.As(err, &unavailable) {
			err = fmt.Errorf("%s: %w", describeGroup(t.Cluster, t.Group), err)
		}
		return Decision{}, err
	}
	now := s.now()
	d, err := Decide(t, snapshot, now)
	if err != nil {
		return Decision{}, err
	}
	if s.observer != nil {
		s.observer.ObserveScaledObject(ScaledObjectResult{
			Namespace:        ref.GetNamespace(),
			Name:             ref.GetName(),
			MetricName:       t.MetricName(),
			Cluster:          t.Cluster,
			Group:            t.Group,
			Value:            d.Value,
			Active:           d.Active,
			ReplicaCap:       d.ReplicaCap,
			UncappedReplicas: d.UncappedReplicas,
			DesiredReplicas:  d.DesiredReplicas,
			At:               now,
		})
	}
	return d, nil
}

// fail logs err and converts it to the gRPC status returned to KEDA. group
// is the parsed consumer group, or "" when the metadata did not parse. In
// that case the log shows the raw consumerGroup value, which is empty when
// the trigger uses consumerGroupFromEnv.
func (s *Server) fail(ctx context.Context, method string, ref *pb.ScaledObjectRef,
	group string, err error,
) error {
	if group == "" {
		group = ref.GetScalerMetadata()[KeyConsumerGroup]
	}
	return s.logFailure(ctx, "request failed", method, ref, group, err).Err()
}

// logFailure logs err with the ids of ref's trigger and returns err's gRPC
// status. A cancelled call is logged at debug level, because the client went
// away. Other errors are warnings, rate-limited by warn.
func (s *Server) logFailure(ctx context.Context, msg, method string, ref *pb.ScaledObjectRef,
	group string, err error,
) *status.Status {
	st := ErrorStatus(err)
	attrs := refAttrs(ref, group, "method", method, "code", st.Code().String(), "err", err)
	if st.Code() == codes.Canceled {
		s.log.DebugContext(ctx, msg, attrs...)
		return st
	}
	s.warn(ctx, ref, msg, st.Code(), err, attrs...)
	return st
}

// refAttrs returns the log attributes that identify a ScaledObject's trigger,
// followed by more. A group longer than MaxGroupLength, which ParseMetadata
// rejects, is truncated.
func refAttrs(ref *pb.ScaledObjectRef, group string, more ...any) []any {
	if len(group) > MaxGroupLength {
		group = truncate(group)
	}
	attrs := []any{"scaled_object", ref.GetName(), "namespace", ref.GetNamespace(), "group", group}
	return append(attrs, more...)
}

// warn logs at warning level unless the same message, status code and error
// for the same ScaledObject was logged within warnInterval.
func (s *Server) warn(ctx context.Context, ref *pb.ScaledObjectRef, msg string, code codes.Code,
	err error, attrs ...any,
) {
	key := s.warnings.key(ref.GetNamespace(), ref.GetName(), msg, code.String(), err.Error())
	ok, suppressed := s.warnings.allow(key, s.now())
	if !ok {
		return
	}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	s.log.WarnContext(ctx, msg, attrs...)
}

// ceilInt64 rounds n up to an int64 for KEDA's integer fields, saturating at
// the int64 range.
func ceilInt64(n float64) int64 {
	switch {
	case math.IsNaN(n) || n <= 0:
		return 0
	case n >= math.MaxInt64:
		return math.MaxInt64
	}
	return int64(math.Ceil(n))
}
