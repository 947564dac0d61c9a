package scaler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lagscaler/lagscaler/lag"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
)

// fakeSource is a LagSource that returns a settable snapshot or error and
// records the queries it receives.
type fakeSource struct {
	mu      sync.Mutex
	snap    *lag.Snapshot
	err     error
	queries []lag.Query
}

func (f *fakeSource) Get(_ context.Context, q lag.Query) (*lag.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	return f.snap, f.err
}

func (f *fakeSource) set(snap *lag.Snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap, f.err = snap, err
}

func (f *fakeSource) lastQuery() lag.Query {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queries) == 0 {
		return lag.Query{}
	}
	return f.queries[len(f.queries)-1]
}

// fakeObserver records every result it receives.
type fakeObserver struct {
	mu      sync.Mutex
	results []ScaledObjectResult
}

func (o *fakeObserver) ObserveScaledObject(r ScaledObjectResult) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results = append(o.results, r)
}

func (o *fakeObserver) last() (ScaledObjectResult, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.results) == 0 {
		return ScaledObjectResult{}, false
	}
	return o.results[len(o.results)-1], true
}

// testServer is a Server behind a gRPC server on an in-memory listener.
type testServer struct {
	server *Server
	grpc   *grpc.Server
	client pb.ExternalScalerClient
}

// startServer serves New(src, opts) in memory and stops it when the test
// ends. Clusters default to mainCluster.
func startServer(t testing.TB, src LagSource, opts Options) *testServer {
	t.Helper()
	if opts.Clusters == nil {
		opts.Clusters = []Cluster{mainCluster}
	}
	listener := bufconn.Listen(1 << 20)
	ts := &testServer{server: New(src, opts), grpc: grpc.NewServer()}
	pb.RegisterExternalScalerServer(ts.grpc, ts.server)

	served := make(chan error, 1)
	go func() { served <- ts.grpc.Serve(listener) }()

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return listener.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	ts.client = pb.NewExternalScalerClient(conn)

	t.Cleanup(func() {
		conn.Close()
		ts.server.Shutdown()
		ts.grpc.GracefulStop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// acceptanceSnapshot has 6 partitions of "orders" with log-end offsets
// [100, 200, 0, 50, 10, 10] and commits [50, 200, none, 60, 2, 10].
func acceptanceSnapshot() *lag.Snapshot {
	return snapshotOf(partitions("orders",
		[]int64{50, 200, noCommit, 60, 2, 10},
		[]int64{100, 200, 0, 50, 10, 10})...)
}

func ref(md map[string]string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: "taskmanager", Namespace: "flink", ScalerMetadata: md}
}

var acceptanceMetadata = map[string]string{
	"scalerAddress": "lagscaler.keda:6000",
	"consumerGroup": "orders-flink",
	"topic":         "orders",
	"lagThreshold":  "10",
}

// KEDA's own kafka trigger reports 49 for this group, because it adds the
// partition whose commit is ahead of the log end as -10.
func TestServerAcceptance(t *testing.T) {
	src := &fakeSource{snap: acceptanceSnapshot()}
	observer := &fakeObserver{}
	ts := startServer(t, src, Options{Observer: observer, Now: func() time.Time { return decideNow }})
	ctx := t.Context()
	metricName := Trigger{Cluster: "main", Group: "orders-flink", Topics: []string{"orders"}}.MetricName()

	spec, err := ts.client.GetMetricSpec(ctx, ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	wantSpec := &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName: metricName, TargetSize: 10, TargetSizeFloat: 10,
	}}}
	if diff := cmp.Diff(wantSpec, spec, protocmp.Transform()); diff != "" {
		t.Errorf("GetMetricSpec mismatch (-want +got):\n%s", diff)
	}

	metrics, err := ts.client.GetMetrics(ctx, &pb.GetMetricsRequest{
		ScaledObjectRef: ref(acceptanceMetadata), MetricName: metricName,
	})
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	wantMetrics := &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName: metricName, MetricValue: 59, MetricValueFloat: 59,
	}}}
	if diff := cmp.Diff(wantMetrics, metrics, protocmp.Transform()); diff != "" {
		t.Errorf("GetMetrics mismatch (-want +got):\n%s", diff)
	}

	active, err := ts.client.IsActive(ctx, ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("IsActive: %v", err)
	}
	if diff := cmp.Diff(&pb.IsActiveResponse{Result: true}, active, protocmp.Transform()); diff != "" {
		t.Errorf("IsActive mismatch (-want +got):\n%s", diff)
	}

	wantQuery := lag.Query{Cluster: "main", Group: "orders-flink", Topics: []string{"orders"}}
	if diff := cmp.Diff(wantQuery, src.lastQuery()); diff != "" {
		t.Errorf("LagSource query mismatch (-want +got):\n%s", diff)
	}

	result, ok := observer.last()
	if !ok {
		t.Fatal("observer received no result")
	}
	wantResult := ScaledObjectResult{
		Namespace: "flink", Name: "taskmanager", MetricName: metricName,
		Cluster: "main", Group: "orders-flink", Value: 59, Active: true,
		ReplicaCap: 6, UncappedReplicas: 6, DesiredReplicas: 6, At: decideNow,
	}
	if diff := cmp.Diff(wantResult, result); diff != "" {
		t.Errorf("observed result mismatch (-want +got):\n%s", diff)
	}
}

func TestServerFractionalThreshold(t *testing.T) {
	ts := startServer(t, &fakeSource{snap: snapshotOf(lagged("orders", 4, 0)...)}, Options{})
	md := map[string]string{"consumerGroup": "g", "topic": "orders", "lagThreshold": "2.5"}

	spec, err := ts.client.GetMetricSpec(t.Context(), ref(md))
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	got := spec.GetMetricSpecs()[0]
	if got.GetTargetSize() != 3 || got.GetTargetSizeFloat() != 2.5 {
		t.Errorf("GetMetricSpec targetSize, targetSizeFloat = %d, %v, want 3, 2.5",
			got.GetTargetSize(), got.GetTargetSizeFloat())
	}

	// 2 partitions allow up to 2 × 2.5 = 5, so a lag of 4 is not capped.
	metrics, err := ts.client.GetMetrics(t.Context(), &pb.GetMetricsRequest{ScaledObjectRef: ref(md)})
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	value := metrics.GetMetricValues()[0]
	if value.GetMetricValue() != 4 || value.GetMetricValueFloat() != 4 {
		t.Errorf("GetMetrics metricValue, metricValueFloat = %d, %v, want 4, 4",
			value.GetMetricValue(), value.GetMetricValueFloat())
	}
	if value.GetMetricName() == "" {
		t.Error("GetMetrics without a requested name returned no metric name")
	}
}

func TestServerErrors(t *testing.T) {
	unknown := partition("orders", 1, 10, 20)
	unknown.Err = errors.New("NOT_LEADER_OR_FOLLOWER")
	unknown.Anomaly = lag.Unknown

	tests := []struct {
		name     string
		md       map[string]string
		snap     *lag.Snapshot
		err      error
		want     codes.Code
		contains []string
	}{
		{
			name:     "kafka unavailable",
			md:       acceptanceMetadata,
			err:      &lag.UnavailableError{Cluster: "main", Group: "orders-flink", Err: errors.New("connection refused")},
			want:     codes.Unavailable,
			contains: []string{`"main"`, `"orders-flink"`, "connection refused"},
		},
		{
			name:     "stale snapshot",
			md:       acceptanceMetadata,
			err:      lag.ErrStale,
			want:     codes.Unavailable,
			contains: []string{`cluster "main", group "orders-flink"`, "stale"},
		},
		{
			name:     "unknown partition",
			md:       acceptanceMetadata,
			snap:     snapshotOf(partition("orders", 0, 1, 2), unknown),
			want:     codes.Unavailable,
			contains: []string{`"main"`, `"orders-flink"`, "orders[1]"},
		},
		{
			name: "topic error with partitionLimitation",
			md: map[string]string{"consumerGroup": "orders-flink", "topic": "orders",
				"partitionLimitation": "0-3"},
			snap: snapshotOf(lag.Partition{Topic: "orders", Partition: -1, Committed: -1, LogStart: -1,
				LogEnd: -1, StableEnd: -1, Anomaly: lag.Unknown, Err: errors.New("LEADER_NOT_AVAILABLE")}),
			want:     codes.Unavailable,
			contains: []string{`"orders-flink"`, "LEADER_NOT_AVAILABLE"},
		},
		{
			name:     "missing topic",
			md:       acceptanceMetadata,
			snap:     &lag.Snapshot{MissingTopics: []string{"orders"}},
			want:     codes.NotFound,
			contains: []string{`"orders-flink"`, "orders"},
		},
		{
			name:     "bad metadata",
			md:       map[string]string{"consumerGroup": "g", "lagThreshold": "zero"},
			want:     codes.InvalidArgument,
			contains: []string{"lagThreshold", `"zero"`},
		},
		{
			name:     "unknown key",
			md:       map[string]string{"consumerGroup": "g", "lagThresholds": "5"},
			want:     codes.InvalidArgument,
			contains: []string{"lagThresholds", "unknown key"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, &fakeSource{snap: tt.snap, err: tt.err}, Options{})
			ctx := t.Context()

			_, err := ts.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref(tt.md)})
			checkStatus(t, "GetMetrics", err, tt.want, tt.contains)
			_, err = ts.client.IsActive(ctx, ref(tt.md))
			checkStatus(t, "IsActive", err, tt.want, tt.contains)

			_, err = ts.client.GetMetricSpec(ctx, ref(tt.md))
			if tt.want == codes.InvalidArgument {
				checkStatus(t, "GetMetricSpec", err, tt.want, tt.contains)
			} else if err != nil {
				t.Errorf("GetMetricSpec error %v, want none because it reads no lag", err)
			}
		})
	}
}

func checkStatus(t *testing.T, method string, err error, want codes.Code, contains []string) {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != want {
		t.Errorf("%s code = %v (%v), want %v", method, st.Code(), err, want)
		return
	}
	for _, c := range contains {
		if !strings.Contains(st.Message(), c) {
			t.Errorf("%s message = %q, want it to contain %q", method, st.Message(), c)
		}
	}
}

func TestStreamIsActive(t *testing.T) {
	src := &fakeSource{snap: snapshotOf(lagged("orders", 0, 0)...)}
	ts := startServer(t, src, Options{StreamInterval: 5 * time.Millisecond})
	stream, err := ts.client.StreamIsActive(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}

	// The stream must send the current state at once and then only changes,
	// so a repeated value would show up here as a wrong result.
	recvActive(t, stream, false)
	src.set(snapshotOf(lagged("orders", 100, 0)...), nil)
	recvActive(t, stream, true)

	// A failed evaluation sends nothing and keeps the stream open, and the
	// same state after it is not sent again. A message sent by mistake
	// would arrive before the final false or in place of the Unavailable.
	src.set(nil, &lag.UnavailableError{Cluster: "main", Group: "orders-flink", Err: errors.New("down")})
	time.Sleep(20 * time.Millisecond)
	src.set(snapshotOf(lagged("orders", 100, 0)...), nil)
	time.Sleep(20 * time.Millisecond)
	src.set(snapshotOf(lagged("orders", 0, 0)...), nil)
	recvActive(t, stream, false)

	ts.server.Shutdown()
	got, err := stream.Recv()
	if code := status.Code(err); code != codes.Unavailable {
		t.Errorf("Recv after Shutdown = %v, %v, want code Unavailable", got, err)
	}

	// New streams end at once after Shutdown.
	late, err := ts.client.StreamIsActive(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	if _, err := late.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Recv on a stream opened after Shutdown: %v, want Unavailable", err)
	}
}

func recvActive(t *testing.T, stream grpc.ServerStreamingClient[pb.IsActiveResponse], want bool) {
	t.Helper()
	got, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if got.GetResult() != want {
		t.Fatalf("Recv result = %t, want %t", got.GetResult(), want)
	}
}

func TestStreamIsActiveEndsWithClient(t *testing.T) {
	ts := startServer(t, &fakeSource{snap: acceptanceSnapshot()}, Options{StreamInterval: time.Hour})
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := ts.client.StreamIsActive(ctx, ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	recvActive(t, stream, true)
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel: %v, want Canceled", err)
	}
}

func TestStreamIsActiveBadMetadata(t *testing.T) {
	ts := startServer(t, &fakeSource{}, Options{})
	stream, err := ts.client.StreamIsActive(t.Context(), ref(map[string]string{"topic": "orders"}))
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	_, err = stream.Recv()
	checkStatus(t, "StreamIsActive", err, codes.InvalidArgument, []string{"consumerGroup"})
}

func TestStreamMetricSpec(t *testing.T) {
	ts := startServer(t, &fakeSource{}, Options{})
	stream, err := ts.client.StreamMetricSpec(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("StreamMetricSpec: %v", err)
	}
	got, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	want, err := ts.client.GetMetricSpec(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("streamed spec differs from GetMetricSpec (-want +got):\n%s", diff)
	}

	ts.server.Shutdown()
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Errorf("Recv after Shutdown: %v, want Unavailable", err)
	}
}

// GracefulStop must return while streams are open once Shutdown was called.
func TestShutdownUnblocksGracefulStop(t *testing.T) {
	ts := startServer(t, &fakeSource{snap: acceptanceSnapshot()}, Options{StreamInterval: time.Hour})
	active, err := ts.client.StreamIsActive(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatal(err)
	}
	recvActive(t, active, true)
	spec, err := ts.client.StreamMetricSpec(t.Context(), ref(acceptanceMetadata))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.Recv(); err != nil {
		t.Fatal(err)
	}

	stopped := make(chan struct{})
	go func() {
		ts.server.Shutdown()
		ts.grpc.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("GracefulStop did not return within 10s after Shutdown")
	}
}

func TestServerLogsWarningsOnce(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	src := &fakeSource{err: &lag.UnavailableError{Cluster: "main", Group: "orders-flink", Err: errors.New("down")}}
	ts := startServer(t, src, Options{Logger: logger})

	for range 3 {
		if _, err := ts.client.IsActive(t.Context(), ref(acceptanceMetadata)); err == nil {
			t.Fatal("IsActive succeeded, want an error")
		}
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("logged %d warnings for 3 identical failures, want 1:\n%s", n, out)
	}
	for _, key := range []string{"scaled_object=taskmanager", "namespace=flink", "group=orders-flink", "err="} {
		if !strings.Contains(out, key) {
			t.Errorf("warning lacks %s:\n%s", key, out)
		}
	}
}

func TestServerLogsGroupFromEnv(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
	src := &fakeSource{err: &lag.UnavailableError{Cluster: "main", Group: "orders-flink", Err: errors.New("down")}}
	ts := startServer(t, src, Options{Logger: logger})
	md := map[string]string{"consumerGroupFromEnv": "orders-flink", "topic": "orders"}

	if _, err := ts.client.IsActive(t.Context(), ref(md)); err == nil {
		t.Fatal("IsActive succeeded, want an error")
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if !strings.Contains(out, "group=orders-flink") {
		t.Errorf("warning lacks the group from consumerGroupFromEnv:\n%s", out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestLogLimiter(t *testing.T) {
	l := newLogLimiter(time.Minute, 100)
	start := decideNow
	steps := []struct {
		key            string
		at             time.Duration
		wantOK         bool
		wantSuppressed int
	}{
		{"a", 0, true, 0},
		{"a", 10 * time.Second, false, 0},
		{"b", 20 * time.Second, true, 0},
		{"a", 30 * time.Second, false, 0},
		{"a", 61 * time.Second, true, 2},
		{"a", 62 * time.Second, false, 0},
	}
	for _, s := range steps {
		ok, suppressed := l.allow(l.key(s.key), start.Add(s.at))
		if ok != s.wantOK || suppressed != s.wantSuppressed {
			t.Errorf("allow(%q, +%v) = %t, %d, want %t, %d", s.key, s.at, ok, suppressed, s.wantOK, s.wantSuppressed)
		}
	}

	// "b" was silent for two intervals and expires without a new record;
	// "a" stays.
	l.sweep(start.Add(3 * time.Minute))
	l.mu.Lock()
	_, hasA := l.entries[l.key("a")]
	_, hasB := l.entries[l.key("b")]
	l.mu.Unlock()
	if hasB {
		t.Error("entry for a silent key did not expire")
	}
	if !hasA {
		t.Error("entry for a recent key expired")
	}
}

func TestLogLimiterKeySeparatesParts(t *testing.T) {
	l := newLogLimiter(time.Minute, 100)
	if l.key("ab", "c") == l.key("a", "bc") {
		t.Error(`key("ab", "c") = key("a", "bc"), want different keys`)
	}
}

func TestLogLimiterBounded(t *testing.T) {
	const maxEntries = 100
	l := newLogLimiter(time.Minute, maxEntries)
	for i := range 3 * maxEntries {
		at := decideNow.Add(time.Duration(i) * time.Millisecond)
		if ok, _ := l.allow(l.key(fmt.Sprint(i)), at); !ok {
			t.Fatalf("allow(key %d) = false for a new key, want true", i)
		}
	}
	l.mu.Lock()
	n := len(l.entries)
	_, hasNewest := l.entries[l.key(fmt.Sprint(3*maxEntries-1))]
	l.mu.Unlock()
	if n > maxEntries {
		t.Errorf("limiter holds %d entries, want at most %d", n, maxEntries)
	}
	if !hasNewest {
		t.Error("limiter dropped the newest key instead of the oldest")
	}
}

// A warning's entry expires after two intervals on any later request, even
// one that succeeds.
func TestServerExpiresWarningsWithoutNewWarning(t *testing.T) {
	var mu sync.Mutex
	now := decideNow
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	src := &fakeSource{snap: acceptanceSnapshot()}
	ts := startServer(t, src, Options{Now: clock})
	if _, err := ts.client.IsActive(t.Context(), ref(map[string]string{"consumerGroup": "g", "bogus": "1"})); err == nil {
		t.Fatal("IsActive succeeded, want an error")
	}
	if n := limiterEntries(ts.server.warnings); n != 1 {
		t.Fatalf("limiter holds %d entries after one warning, want 1", n)
	}

	mu.Lock()
	now = now.Add(2 * warnInterval)
	mu.Unlock()
	if _, err := ts.client.IsActive(t.Context(), ref(acceptanceMetadata)); err != nil {
		t.Fatalf("IsActive: %v", err)
	}
	if n := limiterEntries(ts.server.warnings); n != 0 {
		t.Errorf("limiter holds %d entries two intervals after the only warning, want 0", n)
	}
}

func limiterEntries(l *logLimiter) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// KEDA shares one connection among all ScaledObjects of a scaler address, so
// a request with huge metadata must get a short error and leave the
// connection usable.
func TestServerHugeMetadataKeepsConnection(t *testing.T) {
	ts := startServer(t, &fakeSource{snap: acceptanceSnapshot()}, Options{})
	_, err := ts.client.IsActive(t.Context(), ref(unknownKeys(40_000)))
	st, _ := status.FromError(err)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("IsActive code = %v (%.300v), want %v", st.Code(), err, codes.InvalidArgument)
	}
	if got := len(st.Message()); got > maxTestMessage {
		t.Errorf("IsActive message is %d bytes, want at most %d", got, maxTestMessage)
	}
	if _, err := ts.client.GetMetricSpec(t.Context(), ref(acceptanceMetadata)); err != nil {
		t.Errorf("GetMetricSpec after the huge request: %v", err)
	}
}
