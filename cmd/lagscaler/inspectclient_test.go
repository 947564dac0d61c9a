package main

import (
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

// startInspectServer serves the inspection service for k's cluster, named
// "main", on a loopback port and returns its address.
func startInspectServer(t *testing.T, k *testKafka, opts ...grpc.ServerOption) string {
	t.Helper()
	cache := lag.NewCache([]*lag.Reader{lag.NewReader("main", k.Client)}, lag.CacheOptions{RefreshInterval: time.Hour})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cache.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		stop()
		<-done
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	server := grpc.NewServer(opts...)
	inspectv1.RegisterInspectServer(server, inspect.NewServer(cache))
	go server.Serve(ln)
	t.Cleanup(server.Stop)
	return ln.Addr().String()
}

func TestLagFromServer(t *testing.T) {
	k := newOrdersKafka(t)
	addr := startInspectServer(t, k)

	direct := runCLI(t, "lag", "--bootstrap-server", k.bootstrap, "--cluster", "main", "--group", "flink")
	viaServer := runCLI(t, "lag", "--server", addr, "--cluster", "main", "--group", "flink")
	if viaServer.code != exitOK {
		t.Fatalf("lag --server exit code = %d (%v), want 0", viaServer.code, viaServer.err)
	}
	if diff := cmp.Diff(direct.stdout, viaServer.stdout); diff != "" {
		t.Errorf("lag --server output differs from reading Kafka (-kafka +server):\n%s", diff)
	}
}

func TestLagFromServerPattern(t *testing.T) {
	k := newOrdersKafka(t)
	k.Commit(t, "flink-2", "orders", []int64{1})
	addr := startInspectServer(t, k)

	// The pattern matches groups in the scaler's cache, so flink-2 is
	// matched only once something requested it from the scaler.
	if r := runCLI(t, "lag", "--server", addr, "--cluster", "main", "--group", "flink-2"); r.code != exitOK {
		t.Fatalf("lag --group flink-2 exit code = %d (%v)", r.code, r.err)
	}
	r := runCLI(t, "lag", "--server", addr, "--cluster", "main", "--group-pattern", "flink.*", "-o", "json")
	if r.code != exitOK {
		t.Fatalf("exit code = %d (%v), want 0", r.code, r.err)
	}
	report, err := inspect.DecodeReport([]byte(r.stdout))
	if err != nil {
		t.Fatalf("DecodeReport: %v", err)
	}
	if len(report.Groups) != 1 || report.Groups[0].Group != "flink-2" {
		t.Errorf("groups = %+v, want flink-2 only", report.Groups)
	}
}

func TestLagFromServerErrors(t *testing.T) {
	k := newOrdersKafka(t)
	addr := startInspectServer(t, k)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"group without commits", []string{"--server", addr, "--cluster", "main", "--group", "nope"},
			exitNotFound, `consumer group "nope" does not exist or has no committed offsets`},
		{"dead group with topic", []string{"--server", addr, "--cluster", "main", "--group", "nope", "--topic", "orders"},
			exitNotFound, `consumer group "nope"`},
		{"missing topic", []string{"--server", addr, "--cluster", "main", "--group", "flink", "--topic", "gone"},
			exitNotFound, `topic "gone" does not exist`},
		{"unknown cluster", []string{"--server", addr, "--group", "flink"},
			exitUsage, `kafka cluster "default" is not configured`},
		{"server down", []string{"--server", "127.0.0.1:1", "--cluster", "main", "--group", "flink", "--timeout", "2s"},
			exitFailure, "127.0.0.1:1"},
		{"bad CA file", []string{"--server", addr, "--group", "flink", "--server-tls-ca", "/nonexistent/ca.pem"},
			exitUsage, "--server-tls-ca"},
		{"comma in topic", []string{"--server", addr, "--cluster", "main", "--group", "flink", "--topic", "orders,gone"},
			exitUsage, `invalid --topic "orders,gone"`},
		{"pattern matches nothing", []string{"--server", addr, "--cluster", "main", "--group-pattern", "pay"},
			exitNotFound, `matches --group-pattern "pay"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, append([]string{"lag"}, tc.args...)...)
			if r.code != tc.wantCode {
				t.Errorf("exit code = %d (%v), want %d", r.code, r.err, tc.wantCode)
			}
			if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to contain %q", r.err, tc.wantErr)
			}
		})
	}
}

func TestLagFromServerTLS(t *testing.T) {
	k := newOrdersKafka(t)
	dir := t.TempDir()
	cert := writeSelfSignedCert(t, dir)
	addr := startInspectServer(t, k, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))

	r := runCLI(t, "lag", "--server", addr, "--server-tls-ca", filepath.Join(dir, "cert.pem"), "--cluster", "main", "--group", "flink")
	if r.code != exitOK {
		t.Fatalf("lag over TLS exit code = %d (%v), want 0", r.code, r.err)
	}
	if !strings.HasPrefix(r.stdout, "GROUP flink (cluster main)") {
		t.Errorf("lag over TLS output = %q, want the flink table", r.stdout)
	}

	r = runCLI(t, "lag", "--server", addr, "--cluster", "main", "--group", "flink", "--timeout", "2s")
	if r.code != exitFailure {
		t.Errorf("plaintext to a TLS server: exit code = %d (%v), want %d", r.code, r.err, exitFailure)
	}
}
