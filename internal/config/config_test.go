package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadDeployConfig(t *testing.T) {
	// The file mounted by the Kubernetes base must load as it is shipped.
	cfg, err := Load(filepath.Join("..", "..", "deploy", "base", "config.yaml"))
	if err != nil {
		t.Fatalf("Load(deploy/base/config.yaml): %v", err)
	}
	if len(cfg.Clusters) == 0 {
		t.Error("deploy/base/config.yaml defines no cluster")
	}
}

func TestLoadRejects(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    []string
	}{
		{"unknown field", "clusters:\n  - name: a\n    bootstrapServer: [x:1]\n", []string{"bootstrapServer"}},
		{"no clusters", "clusters: []\n", []string{"at least one cluster"}},
		{"every problem at once", "clusters:\n  - name: A_B\n    bootstrapServers: [nohost]\n  - name: b\n",
			[]string{`clusters[0].name "A_B" is invalid`, `broker "nohost" is invalid`, "clusters[1].bootstrapServers is missing"}},
		{"duplicate name", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\n  - name: a\n    bootstrapServers: [h:2]\n",
			[]string{`"a" is used twice`}},
		{"metrics group on unknown cluster", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\nmetrics:\n  groups:\n    - cluster: b\n      group: g\n",
			[]string{`metrics.groups[0].cluster "b" is not a configured cluster (configured: a)`}},
		{"metrics group without group", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\nmetrics:\n  groups:\n    - cluster: a\n",
			[]string{"metrics.groups[0].group is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load returned no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load error %q does not contain %q", err, want)
				}
			}
		})
	}
}

func TestMetricsGroupPerPartitionDefault(t *testing.T) {
	off := false
	if !(MetricsGroup{}).ExportPartitions() {
		t.Error("ExportPartitions() = false without perPartition, want true")
	}
	if (MetricsGroup{PerPartition: &off}).ExportPartitions() {
		t.Error("ExportPartitions() = true with perPartition false, want false")
	}
}
