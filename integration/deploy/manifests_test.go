package deploy

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

func TestDeployTreeDecodesStrictly(t *testing.T) {
	docs := deployTree(t)
	if len(docs) == 0 {
		t.Fatal("LoadTree(deploy) returned no documents")
	}
	for _, d := range docs {
		t.Logf("decoded %s", d.Name())
	}

	// Every kind the tree is meant to contain is there, so a file that
	// silently stopped decoding would show up as a missing kind.
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, d.Kind)
	}
	for _, want := range []string{
		"Namespace", "ServiceAccount", "Deployment", "PodDisruptionBudget",
		"Service", "NetworkPolicy", "ScaledObject", "TriggerAuthentication",
		"ResourceQuota", "LimitRange", "FlinkDeployment", "ServiceMonitor",
		"PrometheusRule", "Kustomization", "ConfigMap",
	} {
		if !slices.Contains(kinds, want) {
			t.Errorf("deploy/ has no %s", want)
		}
	}
}

func TestDecodeStrictRejects(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantErr  error
		wantText string
	}{
		{"unknown field", `
apiVersion: v1
kind: ServiceAccount
metadata: {name: x}
automountServiceAccountTokens: false
`, nil, `unknown field "automountServiceAccountTokens"`},
		{"field in wrong case", `
apiVersion: apps/v1
kind: Deployment
metadata: {name: x}
spec:
  template:
    spec:
      containers:
        - name: c
          securityContext: {readonlyRootFilesystem: true}
`, nil, `unknown field`},
		{"duplicate key", `
apiVersion: v1
kind: ServiceAccount
metadata: {name: x}
metadata: {name: y}
`, nil, `key "metadata" already set`},
		{"unknown kind", `
apiVersion: v1
kind: Pod
metadata: {name: x}
`, ErrUnknownKind, "v1 Pod"},
		{"no kind", `
clusters: []
`, ErrNotAnObject, ""},
		{"unknown field in ScaledObject trigger", `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: x}
spec:
  scaleTargetRef: {name: x}
  triggers:
    - type: external
      metadata: {}
      authRef: {name: x}
`, nil, `unknown field "spec.triggers[0].authRef"`},
		{"unknown field in PrometheusRule", `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: x}
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expr: up == 0
          duration: 5m
`, nil, `unknown field "spec.groups[0].rules[0].duration"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, obj, err := DecodeStrict([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("DecodeStrict() = %T, nil; want an error", obj)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("DecodeStrict() error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("DecodeStrict() error = %v, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

func TestDecodeStrictEmptyDocument(t *testing.T) {
	_, _, obj, err := DecodeStrict([]byte("# only a comment\n"))
	if err != nil || obj != nil {
		t.Errorf("DecodeStrict(comment) = %v, %v; want nil, nil", obj, err)
	}
}

func TestLoadTreeRejectsStrayYAML(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"+
		"configMapGenerator:\n  - name: c\n    files: [data.yaml]\n")
	write("data.yaml", "clusters: []\n")

	if _, err := LoadTree(dir); err != nil {
		t.Fatalf("LoadTree() with a generator input = %v, want nil", err)
	}

	write("stray.yaml", "clusters: []\n")
	_, err := LoadTree(dir)
	if !errors.Is(err, ErrNotAnObject) {
		t.Errorf("LoadTree() with stray.yaml = %v, want %v", err, ErrNotAnObject)
	}
}

// lagscalerConfig is the configuration file format of `lagscaler serve
// --config`, for a strict check of the example config.yaml. This module does
// not import the root module, so the fields repeat the JSON names of
// internal/config, including the tls and sasl blocks that config.yaml shows
// commented out.
// NOTE: a field added to internal/config must be added here too, or
// config.yaml cannot use it.
type lagscalerConfig struct {
	Clusters []struct {
		Name             string   `json:"name"`
		BootstrapServers []string `json:"bootstrapServers"`
		ClientID         string   `json:"clientID"`
		TLS              *struct {
			Enabled            bool   `json:"enabled"`
			CAFile             string `json:"caFile"`
			CertFile           string `json:"certFile"`
			KeyFile            string `json:"keyFile"`
			ServerName         string `json:"serverName"`
			InsecureSkipVerify bool   `json:"insecureSkipVerify"`
		} `json:"tls"`
		SASL *struct {
			Mechanism    string `json:"mechanism"`
			UsernameFile string `json:"usernameFile"`
			PasswordFile string `json:"passwordFile"`
		} `json:"sasl"`
	} `json:"clusters"`
	Metrics struct {
		Groups []struct {
			Cluster      string   `json:"cluster"`
			Group        string   `json:"group"`
			Topics       []string `json:"topics"`
			PerPartition *bool    `json:"perPartition"`
		} `json:"groups"`
	} `json:"metrics"`
}

func TestBaseConfigFile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "base", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("config.yaml is not valid YAML: %v", err)
	}
	var config lagscalerConfig
	strictErrs, err := kjson.UnmarshalStrict(js, &config)
	if err != nil || len(strictErrs) > 0 {
		t.Fatalf("config.yaml does not match the config format: %v %v", err, strictErrs)
	}

	clusters := map[string]bool{}
	for _, c := range config.Clusters {
		if c.Name == "" || clusters[c.Name] {
			t.Errorf("cluster name %q is empty or repeated", c.Name)
		}
		clusters[c.Name] = true
		if len(c.BootstrapServers) == 0 {
			t.Errorf("cluster %s has no bootstrapServers", c.Name)
		}
		for _, server := range c.BootstrapServers {
			if !strings.Contains(server, ":") {
				t.Errorf("cluster %s bootstrap server %q has no port", c.Name, server)
			}
		}
	}
	if len(clusters) == 0 {
		t.Error("config.yaml defines no cluster")
	}
	for _, g := range config.Metrics.Groups {
		if !clusters[g.Cluster] {
			t.Errorf("metrics group %s names unknown cluster %q", g.Group, g.Cluster)
		}
	}
}
