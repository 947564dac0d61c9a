package inspect

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

// newTestServer starts kfake with topic "orders" (partitions of 100 and 10
// records) and group "flink" committed at 40 and 10. It serves the
// inspection service over a lag cache of that cluster on an in-memory
// listener.
func newTestServer(t *testing.T) inspectv1.InspectClient {
	t.Helper()
	ctx := context.Background()
	kafka := kafkatest.New(t)
	kafka.CreateTopic(t, "orders", []int{100, 10})
	kafka.Commit(t, "flink", "orders", []int64{40, 10})

	cache := lag.NewCache([]*lag.Reader{lag.NewReader("main", kafka.Client)}, lag.CacheOptions{RefreshInterval: time.Hour})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		cache.Run(runCtx)
		close(done)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})

	listener := bufconn.Listen(1 << 20)
	server := grpc.NewServer()
	inspectv1.RegisterInspectServer(server, NewServer(cache))
	go server.Serve(listener)
	t.Cleanup(server.Stop)

	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return listener.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return inspectv1.NewInspectClient(conn)
}

func TestServerGetLag(t *testing.T) {
	client := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	resp, err := client.GetLag(ctx, &inspectv1.GetLagRequest{Cluster: "main", Group: "flink"})
	if err != nil {
		t.Fatalf("GetLag: %v", err)
	}
	i64 := func(v int64) *int64 { return &v }
	want := &inspectv1.GroupReport{
		Cluster: "main", Group: "flink", State: "Empty",
		Partitions: []*inspectv1.PartitionReport{
			{Topic: "orders", Partition: 0, CurrentOffset: i64(40), LogStartOffset: i64(0), LogEndOffset: i64(100), Lag: i64(60), EffectiveLag: i64(60)},
			{Topic: "orders", Partition: 1, CurrentOffset: i64(10), LogStartOffset: i64(0), LogEndOffset: i64(10), Lag: i64(0), EffectiveLag: i64(0)},
		},
		Topics: []*inspectv1.TopicReport{{Topic: "orders", Lag: i64(60), EffectiveLag: i64(60)}},
		Lag:    i64(60), EffectiveLag: i64(60),
	}
	if diff := cmp.Diff(want, resp.GetGroup(), protocmp.Transform(), protocmp.IgnoreFields(&inspectv1.GroupReport{}, "taken_at")); diff != "" {
		t.Errorf("GetLag mismatch (-want +got):\n%s", diff)
	}
	if resp.GetGroup().GetTakenAt() == nil {
		t.Error("GetLag: taken_at is unset")
	}
}

func TestServerGetLagErrors(t *testing.T) {
	client := newTestServer(t)
	tests := []struct {
		name string
		req  *inspectv1.GetLagRequest
		want codes.Code
	}{
		{"missing cluster", &inspectv1.GetLagRequest{Group: "flink"}, codes.InvalidArgument},
		{"missing group", &inspectv1.GetLagRequest{Cluster: "main"}, codes.InvalidArgument},
		{"empty topic", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{""}}, codes.InvalidArgument},
		{"comma in topic", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{"orders,payments"}},
			codes.InvalidArgument},
		{"illegal topic character", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{"orders", "a b"}},
			codes.InvalidArgument},
		{"topic too long", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{strings.Repeat("t", 250)}},
			codes.InvalidArgument},
		{"unknown isolation", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Isolation: 9}, codes.InvalidArgument},
		{"unknown policy", &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", OffsetResetPolicy: 9}, codes.InvalidArgument},
		{"group without commits", &inspectv1.GetLagRequest{Cluster: "main", Group: "nobody"}, codes.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := client.GetLag(ctx, tc.req)
			if got := status.Code(err); got != tc.want {
				t.Errorf("GetLag(%v) code = %s (%v), want %s", tc.req, got, err, tc.want)
			}
		})
	}
}

func TestServerGetLagMissingTopic(t *testing.T) {
	client := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := client.GetLag(ctx, &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{"orders", "gone"}})
	if err != nil {
		t.Fatalf("GetLag: %v", err)
	}
	if diff := cmp.Diff([]string{"gone"}, resp.GetGroup().GetMissingTopics()); diff != "" {
		t.Errorf("missing_topics mismatch (-want +got):\n%s", diff)
	}
	if got := len(resp.GetGroup().GetPartitions()); got != 2 {
		t.Errorf("partitions = %d, want 2 of topic orders", got)
	}
}

func TestServerListSnapshots(t *testing.T) {
	client := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := client.GetLag(ctx, &inspectv1.GetLagRequest{Cluster: "main", Group: "flink", Topics: []string{"orders"},
		Isolation: inspectv1.Isolation_ISOLATION_READ_COMMITTED}); err != nil {
		t.Fatalf("GetLag: %v", err)
	}
	if _, err := client.GetLag(ctx, &inspectv1.GetLagRequest{Cluster: "main", Group: "nobody"}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetLag(nobody) = %v, want NotFound", err)
	}

	resp, err := client.ListSnapshots(ctx, &inspectv1.ListSnapshotsRequest{})
	if err != nil {
		t.Fatalf("ListSnapshots: %v", err)
	}
	want := []*inspectv1.SnapshotEntry{
		{Cluster: "main", Group: "flink", Topics: []string{"orders"}, Isolation: inspectv1.Isolation_ISOLATION_READ_COMMITTED},
		{Cluster: "main", Group: "nobody", Isolation: inspectv1.Isolation_ISOLATION_READ_UNCOMMITTED},
	}
	opts := []cmp.Option{
		protocmp.Transform(),
		protocmp.IgnoreFields(&inspectv1.SnapshotEntry{}, "taken_at", "error"),
		cmpopts.EquateEmpty(),
	}
	if diff := cmp.Diff(want, resp.GetEntries(), opts...); diff != "" {
		t.Errorf("ListSnapshots mismatch (-want +got):\n%s", diff)
	}
	entries := resp.GetEntries()
	if len(entries) != 2 {
		t.FailNow()
	}
	if entries[0].GetTakenAt() == nil || entries[0].GetError() != "" {
		t.Errorf("flink entry: taken_at %v, error %q; want a time and no error", entries[0].GetTakenAt(), entries[0].GetError())
	}
	if entries[1].GetTakenAt() != nil || entries[1].GetError() == "" {
		t.Errorf("nobody entry: taken_at %v, error %q; want no time and the not-found error", entries[1].GetTakenAt(), entries[1].GetError())
	}
}
