package metrics

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// stepClock is a clock that moves forward by step on every reading.
type stepClock struct {
	mu   sync.Mutex
	at   time.Time
	step time.Duration
}

func (c *stepClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(c.step)
	return c.at
}

// startHealthServer serves the gRPC health service with m's interceptors on
// an in-memory listener. It returns a client connection and a function that
// stops the server after every call has ended.
func startHealthServer(t *testing.T, m *GRPCMetrics) (*grpc.ClientConn, func()) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(m.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(m.StreamServerInterceptor()),
	)
	healthgrpc.RegisterHealthServer(srv, health.NewServer())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			conn.Close()
			// GracefulStop returns once every handler, and so every
			// interceptor, has returned.
			srv.GracefulStop()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return conn, stop
}

func TestGRPCMetricsCountsCodes(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewGRPCMetrics(reg)
	if err != nil {
		t.Fatalf("NewGRPCMetrics: %v", err)
	}
	clock := &stepClock{at: t0, step: 200 * time.Millisecond}
	m.now = clock.now
	conn, stop := startHealthServer(t, m)
	client := healthgrpc.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The calls run one after another, so each takes exactly one clock step.
	if _, err := client.Check(ctx, &healthgrpc.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check(\"\"): %v", err)
	}
	_, err = client.Check(ctx, &healthgrpc.HealthCheckRequest{Service: "missing"})
	if got := status.Code(err); got != codes.NotFound {
		t.Fatalf("Check(missing) code = %v, want NotFound", got)
	}
	// An unregistered method is rejected before the interceptors run.
	err = conn.Invoke(ctx, "/grpc.health.v1.Health/Missing", &healthgrpc.HealthCheckRequest{}, &healthgrpc.HealthCheckResponse{})
	if got := status.Code(err); got != codes.Unimplemented {
		t.Fatalf("Invoke(Missing) code = %v, want Unimplemented", got)
	}

	watchCtx, endWatch := context.WithCancel(ctx)
	stream, err := client.Watch(watchCtx, &healthgrpc.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Watch Recv: %v", err)
	}
	endWatch()
	stop()

	want := `
# HELP lagscaler_grpc_requests_total gRPC calls served, by method and status code.
# TYPE lagscaler_grpc_requests_total counter
lagscaler_grpc_requests_total{code="NotFound",method="Check"} 1
lagscaler_grpc_requests_total{code="OK",method="Check"} 1
lagscaler_grpc_requests_total{code="Canceled",method="Watch"} 1
# HELP lagscaler_grpc_request_duration_seconds Time from receiving a gRPC call to returning its status. For a streaming call it is the lifetime of the stream.
# TYPE lagscaler_grpc_request_duration_seconds histogram
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.001"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.0025"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.005"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.01"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.025"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.05"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.1"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.25"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="0.5"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="1"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="2.5"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="5"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="10"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Check",le="+Inf"} 2
lagscaler_grpc_request_duration_seconds_sum{method="Check"} 0.4
lagscaler_grpc_request_duration_seconds_count{method="Check"} 2
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.001"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.0025"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.005"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.01"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.025"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.05"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.1"} 0
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.25"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="0.5"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="1"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="2.5"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="5"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="10"} 1
lagscaler_grpc_request_duration_seconds_bucket{method="Watch",le="+Inf"} 1
lagscaler_grpc_request_duration_seconds_sum{method="Watch"} 0.2
lagscaler_grpc_request_duration_seconds_count{method="Watch"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("GatherAndLint: %v", err)
	}
	if len(problems) != 0 {
		t.Errorf("GatherAndLint problems = %v, want none", problems)
	}
}

func TestShortMethod(t *testing.T) {
	tests := []struct{ full, want string }{
		{"/externalscaler.ExternalScaler/GetMetrics", "GetMetrics"},
		{"/grpc.health.v1.Health/Check", "Check"},
		{"NoSlash", "NoSlash"},
	}
	for _, tt := range tests {
		if got := shortMethod(tt.full); got != tt.want {
			t.Errorf("shortMethod(%q) = %q, want %q", tt.full, got, tt.want)
		}
	}
}
