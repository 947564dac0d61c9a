package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/lagscaler/lagscaler/internal/config"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
)

// runningServe is "lagscaler serve" running in-process on loopback
// listeners.
type runningServe struct {
	grpcAddr string
	httpAddr string
	conn     *grpc.ClientConn
	client   pb.ExternalScalerClient
	stop     context.CancelFunc
	done     chan error
}

func startServe(t *testing.T, bootstrap string, mutate func(*serveFlags)) *runningServe {
	t.Helper()
	return startServeConfig(t, config.FromBootstrap(bootstrap), mutate)
}

// startServeConfig is startServe with a configuration of its own.
func startServeConfig(t *testing.T, cfg *config.Config, mutate func(*serveFlags)) *runningServe {
	t.Helper()
	bootstrap := strings.Join(cfg.Clusters[0].BootstrapServers, ",")
	f := &serveFlags{
		bootstrapServer: bootstrap,
		refresh:         200 * time.Millisecond,
		idleExpiry:      time.Minute,
		maxStaleness:    5 * time.Second,
		kafkaTimeout:    2 * time.Second,
		shutdownTimeout: 2 * time.Second,
		maxGroups:       100,
	}
	if mutate != nil {
		mutate(f)
	}
	if err := f.validate(); err != nil {
		t.Fatalf("flags: %v", err)
	}
	creds, err := f.serverTLS()
	if err != nil {
		t.Fatalf("serverTLS: %v", err)
	}
	var grpcOpts []grpc.ServerOption
	if creds != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(creds))
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(cfg, f, logger)
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	grpcListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	httpListener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServe{
		grpcAddr: grpcListener.Addr().String(),
		httpAddr: httpListener.Addr().String(),
		stop:     cancel,
		done:     make(chan error, 1),
	}
	go func() {
		rs.done <- a.run(ctx, grpcListener, httpListener, grpcOpts)
		a.closeClients()
	}()

	waitReady(t, "http://"+rs.httpAddr+"/readyz")

	conn, err := grpc.NewClient(rs.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	rs.conn = conn
	rs.client = pb.NewExternalScalerClient(conn)
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-rs.done
	})
	return rs
}

func scaledObjectRef(md map[string]string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: "taskmanagers", Namespace: "flink", ScalerMetadata: md}
}

func TestServeHandlesKEDACalls(t *testing.T) {
	k := newOrdersKafka(t)
	rs := startServe(t, k.bootstrap, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink", "topic": "orders", "lagThreshold": "10"})

	spec, err := rs.client.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatalf("GetMetricSpec: %v", err)
	}
	if len(spec.MetricSpecs) != 1 {
		t.Fatalf("GetMetricSpec returned %d specs, want 1", len(spec.MetricSpecs))
	}
	name := spec.MetricSpecs[0].MetricName
	if got := spec.MetricSpecs[0].TargetSizeFloat; got != 10 {
		t.Errorf("targetSizeFloat = %v, want 10", got)
	}

	metrics, err := rs.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: name})
	if err != nil {
		t.Fatalf("GetMetrics: %v", err)
	}
	value := metrics.MetricValues[0]
	// 50 + 0 + 1 (no commit under latest) + 0 (commit ahead of end) + 8 + 0.
	if value.MetricValue != 59 || value.MetricValueFloat != 59 {
		t.Errorf("metric value = %d / %v, want 59 in both fields", value.MetricValue, value.MetricValueFloat)
	}

	active, err := rs.client.IsActive(ctx, ref)
	if err != nil {
		t.Fatalf("IsActive: %v", err)
	}
	if !active.Result {
		t.Error("IsActive = false, want true with lag 59 over activation threshold 0")
	}

	body := httpGet(t, "http://"+rs.httpAddr+"/metrics")
	for _, want := range []string{
		`kafka_consumergroup_lag_sum{cluster="default",consumergroup="flink",topic="orders"}`,
		`lagscaler_scaledobject_metric_value{metric="` + name + `",namespace="flink",scaledobject="taskmanagers"} 59`,
		`lagscaler_grpc_requests_total{code="OK",method="GetMetrics"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestServeRejectsBadMetadata(t *testing.T) {
	k := newTestKafka(t, 1)
	rs := startServe(t, k.bootstrap, nil)

	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink", "lagThreshold": "0"})
	_, err := rs.client.GetMetricSpec(context.Background(), ref)
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("GetMetricSpec(lagThreshold=0): code = %v, want InvalidArgument", status.Code(err))
	}
	if !strings.Contains(err.Error(), "lagThreshold") {
		t.Errorf("error %q does not name lagThreshold", err)
	}
}

func TestServeUnavailableKafka(t *testing.T) {
	// Nothing listens on port 1 of loopback.
	rs := startServe(t, "127.0.0.1:1", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink", "topic": "orders"})

	_, err := rs.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "x"})
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
	default:
		t.Fatalf("GetMetrics with Kafka down: err = %v, want Unavailable or DeadlineExceeded", err)
	}
	if ctx.Err() != nil {
		t.Errorf("GetMetrics returned only after its 3s deadline")
	}
}

func TestServeHealthAndShutdown(t *testing.T) {
	k := newOrdersKafka(t)
	rs := startServe(t, k.bootstrap, nil)

	if got := httpGet(t, "http://"+rs.httpAddr+"/healthz"); !strings.Contains(got, "ok") {
		t.Errorf("/healthz = %q, want ok", got)
	}
	health, err := healthpb.NewHealthClient(rs.conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("health Check: %v", err)
	}
	if health.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health status = %v, want SERVING", health.Status)
	}

	// An open stream must not hold up shutdown.
	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink", "topic": "orders"})
	stream, err := rs.client.StreamIsActive(context.Background(), ref)
	if err != nil {
		t.Fatalf("StreamIsActive: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first StreamIsActive message: %v", err)
	}
	rs.stop()
	select {
	case err := <-rs.done:
		rs.done <- err
		if err != nil {
			t.Errorf("run returned %v after shutdown, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop with an open StreamIsActive stream")
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return string(body)
}

func TestServeReadyWithoutKafka(t *testing.T) {
	rs := startServe(t, "127.0.0.1:1", nil)
	resp, err := http.Get("http://" + rs.httpAddr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz with Kafka down = %d, want 200: readiness reflects the gRPC server only", resp.StatusCode)
	}
}

// waitReady polls url until it returns 200, for at most ten seconds.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not return 200 within 10s", url)
}

func TestServeShutdownWithHungBroker(t *testing.T) {
	hung := newSilentListener(t)
	rs := startServe(t, hung, func(f *serveFlags) {
		f.kafkaTimeout = time.Minute
		f.shutdownTimeout = time.Minute
	})

	// KEDA's poll path calls without a deadline.
	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink", "topic": "orders"})
	called := make(chan error, 1)
	go func() {
		_, err := rs.client.GetMetrics(context.Background(), &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "x"})
		called <- err
	}()
	time.Sleep(200 * time.Millisecond)

	rs.stop()
	select {
	case err := <-rs.done:
		rs.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("serve took more than 10s to stop with a call waiting on a hung broker")
	}
	if err := <-called; status.Code(err) != codes.Unavailable {
		t.Errorf("waiting GetMetrics: err = %v, want Unavailable", err)
	}
}

func TestNewAppRejectsUnknownPinnedCluster(t *testing.T) {
	cfg := config.FromBootstrap("127.0.0.1:1")
	cfg.Metrics.Groups = []config.MetricsGroup{{Cluster: "nope", Group: "flink"}}
	f := &serveFlags{
		refresh:      time.Second,
		idleExpiry:   time.Minute,
		maxStaleness: 5 * time.Second,
		kafkaTimeout: time.Second,
		maxGroups:    10,
	}
	// Pinning fails after the Kafka client was created, so this also runs
	// the cleanup that closes it.
	_, err := newApp(cfg, f, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("newApp with a metrics group on cluster nope = %v, want an error naming the cluster", err)
	}
}

func TestServeExportsGroupsByPattern(t *testing.T) {
	k := newTestKafka(t, 1)
	k.CreateTopic(t, "orders", []int{10, 10})
	k.Commit(t, "orders-eu", "orders", []int64{4, 4})
	k.Commit(t, "orders-us", "orders", []int64{9, 9})
	k.Commit(t, "billing", "orders", []int64{0, 0})

	off := false
	cfg := config.FromBootstrap(k.bootstrap)
	cfg.Metrics.GroupPatterns = []config.MetricsGroupPattern{
		{Cluster: config.DefaultClusterName, Pattern: "orders-.*", PerPartition: &off},
	}
	rs := startServeConfig(t, cfg, nil)

	want := []string{
		`kafka_consumergroup_lag_sum{cluster="default",consumergroup="orders-eu",topic="orders"} 12`,
		`kafka_consumergroup_lag_sum{cluster="default",consumergroup="orders-us",topic="orders"} 2`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		body = httpGet(t, "http://"+rs.httpAddr+"/metrics")
		if strings.Contains(body, want[0]) && strings.Contains(body, want[1]) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %s", w)
		}
	}
	if strings.Contains(body, `consumergroup="billing"`) {
		t.Error("/metrics exports billing, which the pattern does not match")
	}
	if strings.Contains(body, `kafka_consumergroup_lag{cluster="default",consumergroup="orders-eu"`) {
		t.Error("/metrics exports per-partition series although the pattern turns them off")
	}
}

func TestGroupDiscovererUnpinsDeletedGroups(t *testing.T) {
	k := newTestKafka(t, 1)
	k.CreateTopic(t, "orders", []int{10})
	k.Commit(t, "orders-eu", "orders", []int64{4})
	k.Commit(t, "orders-us", "orders", []int64{9})

	cfg := config.FromBootstrap(k.bootstrap)
	cfg.Metrics.GroupPatterns = []config.MetricsGroupPattern{{Cluster: config.DefaultClusterName, Pattern: "orders-.*"}}
	f := &serveFlags{refresh: time.Second, idleExpiry: time.Minute, maxStaleness: 5 * time.Second,
		kafkaTimeout: 2 * time.Second, shutdownTimeout: time.Second, maxGroups: 100}
	a, err := newApp(cfg, f, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	defer a.closeClients()
	ctx := context.Background()

	a.discoverer.discover(ctx)
	if got := len(a.discoverer.pinned); got != 2 {
		t.Fatalf("pinned %d groups, want 2", got)
	}
	if _, err := k.Admin.DeleteGroup(ctx, "orders-us"); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	a.discoverer.discover(ctx)
	if got := len(a.discoverer.pinned); got != 1 {
		t.Errorf("pinned %d groups after deleting one, want 1", got)
	}
}

func TestServeMutualTLS(t *testing.T) {
	dir := t.TempDir()
	clientCert := writeSelfSignedCert(t, dir)
	rs := startServe(t, "127.0.0.1:1", func(f *serveFlags) {
		f.tlsCert = filepath.Join(dir, "cert.pem")
		f.tlsKey = filepath.Join(dir, "key.pem")
		f.clientCA = filepath.Join(dir, "cert.pem")
	})
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)
	ref := scaledObjectRef(map[string]string{"consumerGroup": "flink"})

	// GetMetricSpec does no Kafka I/O, so it succeeds with Kafka down.
	for _, tc := range []struct {
		name    string
		certs   []tls.Certificate
		wantErr bool
	}{
		{"with client certificate", []tls.Certificate{clientCert}, false},
		{"without client certificate", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: tc.certs, MinVersion: tls.VersionTLS12})
			conn, err := grpc.NewClient(rs.grpcAddr, grpc.WithTransportCredentials(creds))
			if err != nil {
				t.Fatalf("grpc.NewClient: %v", err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = pb.NewExternalScalerClient(conn).GetMetricSpec(ctx, ref)
			if (err != nil) != tc.wantErr {
				t.Errorf("GetMetricSpec: err = %v, want error %t", err, tc.wantErr)
			}
		})
	}

	// The plaintext client that startServe made cannot talk to a TLS server.
	if _, err := rs.client.GetMetricSpec(context.Background(), ref); err == nil {
		t.Error("plaintext GetMetricSpec to a TLS server succeeded")
	}
}

// writeSelfSignedCert writes a self-signed CA certificate for 127.0.0.1,
// valid for server and client authentication, to dir/cert.pem and its key
// to dir/key.pem, and returns the pair.
func writeSelfSignedCert(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "lagscaler test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
