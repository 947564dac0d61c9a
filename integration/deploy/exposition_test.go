package deploy

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCheckExposition(t *testing.T) {
	valid := `# TYPE lagscaler_snapshot_age_seconds gauge
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="g"} 1.5
# TYPE lagscaler_grpc_request_duration_seconds histogram
lagscaler_grpc_request_duration_seconds_bucket{method="GetMetrics",le="+Inf"} 3
lagscaler_grpc_request_duration_seconds_sum{method="GetMetrics"} 0.01
lagscaler_grpc_request_duration_seconds_count{method="GetMetrics"} 3
# TYPE go_goroutines gauge
go_goroutines 12
`
	referenced := []string{"lagscaler_snapshot_age_seconds", "lagscaler_grpc_request_duration_seconds_bucket", "up"}
	if err := CheckExposition(strings.NewReader(valid), referenced); err != nil {
		t.Errorf("CheckExposition(valid) = %v, want nil", err)
	}

	tests := []struct {
		name       string
		exposition string
		want       string
	}{
		{"missing family", "# TYPE go_goroutines gauge\ngo_goroutines 1\n", "family lagscaler_snapshot_age_seconds is not exported"},
		{"wrong labels", `# TYPE lagscaler_snapshot_age_seconds gauge
lagscaler_snapshot_age_seconds{group="g"} 1
`, "has a series with labels [group]"},
		{"wrong type", `# TYPE lagscaler_snapshot_age_seconds counter
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="g"} 1
`, "has type counter, want gauge"},
		{"family not in catalog", `# TYPE lagscaler_snapshot_age_seconds gauge
lagscaler_snapshot_age_seconds{cluster="main",consumergroup="g"} 1
# TYPE lagscaler_surprise gauge
lagscaler_surprise 1
`, "lagscaler_surprise is exported but not in Catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckExposition(strings.NewReader(tt.exposition), []string{"lagscaler_snapshot_age_seconds"})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckExposition() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestRunningServerExportsReferencedMetrics reads /metrics of a running
// `lagscaler serve` and checks it against Catalog and the monitoring
// queries. Set LAGSCALER_TEST_METRICS_URL (a loopback address such as
// http://127.0.0.1:8080/metrics) to a server that has handled KEDA calls
// and read lag for at least one group, so that every family has series.
// TestServeExportsReferencedMetrics in the parent integration package runs
// the same check against a server that it starts and drives.
func TestRunningServerExportsReferencedMetrics(t *testing.T) {
	raw := os.Getenv("LAGSCALER_TEST_METRICS_URL")
	if raw == "" {
		t.Skip("LAGSCALER_TEST_METRICS_URL is unset; set it to the /metrics URL of a running lagscaler serve")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("LAGSCALER_TEST_METRICS_URL %q: %v", raw, err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		t.Fatalf("LAGSCALER_TEST_METRICS_URL host %q is not a loopback address", u.Hostname())
	}

	referenced, err := ReferencedMetrics(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %s", u, resp.Status)
	}
	if err := CheckExposition(resp.Body, referenced); err != nil {
		t.Error(err)
	}
}
