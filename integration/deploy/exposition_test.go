package deploy

import (
	"strings"
	"testing"
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
