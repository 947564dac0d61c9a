package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
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

func TestDeployConfigSecurityExample(t *testing.T) {
	// The commented tls and sasl example must load once uncommented, with
	// files named like the keys of the Secret mounted at /etc/lagscaler/kafka.
	data, err := os.ReadFile(filepath.Join("..", "..", "deploy", "base", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	example, blocks := uncommentSecurityExample(string(data))
	if blocks != 2 {
		t.Fatalf("deploy/base/config.yaml has %d commented tls or sasl blocks, want 2", blocks)
	}
	f := securityFiles(t)
	example = strings.ReplaceAll(example, "/etc/lagscaler/kafka/", f["dir"]+"/")
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(example), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load(uncommented example): %v", err)
	}
	cl := cfg.Clusters[0]
	wantTLS := TLS{Enabled: true, CAFile: f["ca.crt"], CertFile: f["tls.crt"], KeyFile: f["tls.key"]}
	if diff := cmp.Diff(wantTLS, cl.TLS); diff != "" {
		t.Errorf("example tls mismatch (-want +got):\n%s", diff)
	}
	if cl.SASL.UsernameFile != f["sasl-username"] || cl.SASL.PasswordFile != f["sasl-password"] {
		t.Errorf("example sasl files = %q, %q, want %q, %q",
			cl.SASL.UsernameFile, cl.SASL.PasswordFile, f["sasl-username"], f["sasl-password"])
	}
	if cl.SASL.Mechanism == "" {
		t.Error("example sasl has no mechanism")
	}
}

// uncommentSecurityExample removes the comment marker from the commented
// "tls:" and "sasl:" blocks of a configuration file and from the lines
// indented under them. It returns the result and the number of blocks.
func uncommentSecurityExample(content string) (string, int) {
	lines := strings.Split(content, "\n")
	blocks := 0
	blockIndent := ""
	inBlock := false
	for i, line := range lines {
		trimmed := strings.TrimLeft(line, " ")
		indent := line[:len(line)-len(trimmed)]
		switch {
		case trimmed == "# tls:" || trimmed == "# sasl:":
			blocks++
			inBlock = true
			blockIndent = indent
		case inBlock && strings.HasPrefix(line, blockIndent+"#   "):
		default:
			inBlock = false
			continue
		}
		lines[i] = indent + strings.TrimPrefix(trimmed, "# ")
	}
	return strings.Join(lines, "\n"), blocks
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
		{"group pattern invalid", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\nmetrics:\n  groupPatterns:\n    - cluster: a\n      pattern: \"orders-(\"\n    - cluster: b\n      pattern: \".*\"\n    - cluster: a\n",
			[]string{`metrics.groupPatterns[0].pattern "orders-(" is invalid`, `metrics.groupPatterns[1].cluster "b" is not a configured cluster`, "metrics.groupPatterns[2].pattern is missing"}},
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

// securityFiles creates empty files for the TLS and SASL fields, named like
// the keys of the lagscaler-kafka Secret, and returns their paths by key.
func securityFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	paths := make(map[string]string)
	for _, key := range []string{"ca.crt", "tls.crt", "tls.key", "sasl-username", "sasl-password"} {
		paths[key] = filepath.Join(dir, key)
		if err := os.WriteFile(paths[key], nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	paths["dir"] = dir
	paths["missing"] = filepath.Join(dir, "missing")
	return paths
}

func TestValidateTLS(t *testing.T) {
	f := securityFiles(t)
	tests := []struct {
		name string
		tls  TLS
		// want lists substrings of the error; nil means valid.
		want []string
	}{
		{"disabled", TLS{}, nil},
		{"system roots", TLS{Enabled: true}, nil},
		{"every field", TLS{Enabled: true, CAFile: f["ca.crt"], CertFile: f["tls.crt"], KeyFile: f["tls.key"], ServerName: "kafka"}, nil},
		{"insecureSkipVerify alone", TLS{Enabled: true, InsecureSkipVerify: true}, nil},
		{"fields while disabled",
			TLS{CAFile: f["ca.crt"], CertFile: f["tls.crt"], KeyFile: f["tls.key"], ServerName: "kafka", InsecureSkipVerify: true},
			[]string{
				"clusters[0].tls.caFile is set but clusters[0].tls.enabled is false",
				"clusters[0].tls.certFile is set but",
				"clusters[0].tls.keyFile is set but",
				"clusters[0].tls.serverName is set but",
				"clusters[0].tls.insecureSkipVerify is set but",
			}},
		{"certFile without keyFile", TLS{Enabled: true, CertFile: f["tls.crt"]},
			[]string{"clusters[0].tls.certFile is set without clusters[0].tls.keyFile"}},
		{"keyFile without certFile", TLS{Enabled: true, KeyFile: f["tls.key"]},
			[]string{"clusters[0].tls.keyFile is set without clusters[0].tls.certFile"}},
		{"caFile with insecureSkipVerify", TLS{Enabled: true, CAFile: f["ca.crt"], InsecureSkipVerify: true},
			[]string{"clusters[0].tls.caFile has no effect with clusters[0].tls.insecureSkipVerify"}},
		{"missing files", TLS{Enabled: true, CAFile: f["missing"], CertFile: f["missing"], KeyFile: f["missing"]},
			[]string{
				`clusters[0].tls.caFile "` + f["missing"] + `" cannot be read`,
				`clusters[0].tls.certFile "` + f["missing"] + `" cannot be read`,
				`clusters[0].tls.keyFile "` + f["missing"] + `" cannot be read`,
			}},
		{"directory as caFile", TLS{Enabled: true, CAFile: f["dir"]},
			[]string{`clusters[0].tls.caFile "` + f["dir"] + `" is not a regular file`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Clusters: []Cluster{{Name: "a", BootstrapServers: []string{"h:1"}, TLS: tt.tls}}}
			checkValidate(t, cfg.Validate(), tt.want)
		})
	}
}

func TestValidateSASL(t *testing.T) {
	f := securityFiles(t)
	user, pass := f["sasl-username"], f["sasl-password"]
	tests := []struct {
		name string
		sasl SASL
		// want lists substrings of the error; nil means valid.
		want []string
	}{
		{"none", SASL{}, nil},
		{"SCRAM-SHA-512", SASL{Mechanism: "SCRAM-SHA-512", UsernameFile: user, PasswordFile: pass}, nil},
		{"KEDA spelling", SASL{Mechanism: "scram_sha256", UsernameFile: user, PasswordFile: pass}, nil},
		{"missing mechanism", SASL{UsernameFile: user, PasswordFile: pass},
			[]string{"clusters[0].sasl.mechanism is missing: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"}},
		{"unsupported mechanism", SASL{Mechanism: "GSSAPI", UsernameFile: user, PasswordFile: pass},
			[]string{`clusters[0].sasl.mechanism "GSSAPI" is not supported: use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`}},
		{"mechanism without files", SASL{Mechanism: "PLAIN"},
			[]string{"clusters[0].sasl.usernameFile is missing", "clusters[0].sasl.passwordFile is missing"}},
		{"missing files", SASL{Mechanism: "PLAIN", UsernameFile: f["missing"], PasswordFile: f["missing"]},
			[]string{
				`clusters[0].sasl.usernameFile "` + f["missing"] + `" cannot be read`,
				`clusters[0].sasl.passwordFile "` + f["missing"] + `" cannot be read`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Clusters: []Cluster{{Name: "a", BootstrapServers: []string{"h:1"}, SASL: tt.sasl}}}
			checkValidate(t, cfg.Validate(), tt.want)
		})
	}
}

func TestValidateSASLWithoutTLS(t *testing.T) {
	// Allowed, because some clusters run SASL on a trusted network. The
	// documentation of SASL warns against it.
	f := securityFiles(t)
	cfg := Config{Clusters: []Cluster{{
		Name:             "a",
		BootstrapServers: []string{"h:1"},
		SASL:             SASL{Mechanism: "PLAIN", UsernameFile: f["sasl-username"], PasswordFile: f["sasl-password"]},
	}}}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() = %v, want nil", err)
	}
}

func TestValidateTLSAndSASLAllProblems(t *testing.T) {
	f := securityFiles(t)
	cfg := Config{Clusters: []Cluster{
		{Name: "a", BootstrapServers: []string{"h:1"}, TLS: TLS{Enabled: true, CertFile: f["tls.crt"]}},
		{Name: "b", BootstrapServers: []string{"h:2"}, SASL: SASL{Mechanism: "oauthbearer", PasswordFile: f["missing"]}},
	}}
	checkValidate(t, cfg.Validate(), []string{
		"clusters[0].tls.certFile is set without clusters[0].tls.keyFile",
		`clusters[1].sasl.mechanism "oauthbearer" is not supported`,
		"clusters[1].sasl.usernameFile is missing",
		`clusters[1].sasl.passwordFile "` + f["missing"] + `" cannot be read`,
	})
}

// checkValidate checks that err contains each of want, or is nil when want
// is nil.
func checkValidate(t *testing.T, err error, want []string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Errorf("Validate() = %v, want nil", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("Validate() = nil, want errors containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %q, want it to contain %q", err, w)
		}
	}
}

func TestSASLMechanismName(t *testing.T) {
	tests := []struct {
		mechanism string
		want      string
	}{
		{"PLAIN", "PLAIN"},
		{"plain", "PLAIN"},
		{"plaintext", "PLAIN"},
		{"PLAINTEXT", "PLAIN"},
		{"SCRAM-SHA-256", "SCRAM-SHA-256"},
		{"scram-sha-256", "SCRAM-SHA-256"},
		{"scram_sha256", "SCRAM-SHA-256"},
		{"SCRAM_SHA256", "SCRAM-SHA-256"},
		{"SCRAM-SHA-512", "SCRAM-SHA-512"},
		{"scram_sha512", "SCRAM-SHA-512"},
		{"Scram-Sha-512", "SCRAM-SHA-512"},
	}
	for _, tt := range tests {
		got, ok := SASL{Mechanism: tt.mechanism}.mechanismName()
		if !ok || got != tt.want {
			t.Errorf("mechanismName(%q) = %q, %t, want %q, true", tt.mechanism, got, ok, tt.want)
		}
	}
	for _, unsupported := range []string{"", "none", "GSSAPI", "OAUTHBEARER", "AWS_MSK_IAM", "scram_sha1", "SCRAM-SHA256"} {
		if got, ok := (SASL{Mechanism: unsupported}).mechanismName(); ok {
			t.Errorf("mechanismName(%q) = %q, true, want false", unsupported, got)
		}
	}
}

func TestReadSecretFile(t *testing.T) {
	tests := []struct {
		content string
		want    string
	}{
		{"s3cret", "s3cret"},
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		// Only one newline is trimmed, and other blanks are part of the value.
		{"s3cret\n\n", "s3cret\n"},
		{" s3cret \n", " s3cret "},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := readSecretFile("sasl.passwordFile", path)
		if err != nil || got != tt.want {
			t.Errorf("readSecretFile(%q) = %q, %v, want %q, nil", tt.content, got, err, tt.want)
		}
	}
}

func TestLoadRejectsInlineCredentials(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{"password", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\n    sasl:\n      mechanism: PLAIN\n      password: hunter2\n",
			"sasl.password is not supported: lagscaler reads credentials only from files"},
		{"username", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\n    sasl:\n      mechanism: PLAIN\n      username: admin\n",
			"sasl.username is not supported"},
		{"unknown sasl field", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\n    sasl:\n      mechanism: PLAIN\n      passwordFil: /x\n",
			`unknown field "passwordFil"`},
		{"unknown tls field", "clusters:\n  - name: a\n    bootstrapServers: [h:1]\n    tls:\n      enabled: true\n      ca: /x\n",
			`unknown field "ca"`},
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
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Load error %q contains the inline password", err)
			}
		})
	}
}

func TestLoadTLSAndSASL(t *testing.T) {
	f := securityFiles(t)
	content := fmt.Sprintf(`clusters:
  - name: a
    bootstrapServers: [h:1]
    tls:
      enabled: true
      caFile: %s
      certFile: %s
      keyFile: %s
      serverName: kafka.example.com
    sasl:
      mechanism: scram_sha512
      usernameFile: %s
      passwordFile: %s
`, f["ca.crt"], f["tls.crt"], f["tls.key"], f["sasl-username"], f["sasl-password"])
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Cluster{
		Name:             "a",
		BootstrapServers: []string{"h:1"},
		TLS:              TLS{Enabled: true, CAFile: f["ca.crt"], CertFile: f["tls.crt"], KeyFile: f["tls.key"], ServerName: "kafka.example.com"},
		SASL:             SASL{Mechanism: "scram_sha512", UsernameFile: f["sasl-username"], PasswordFile: f["sasl-password"]},
	}
	if diff := cmp.Diff(want, cfg.Clusters[0]); diff != "" {
		t.Errorf("Load cluster mismatch (-want +got):\n%s", diff)
	}
}

func TestCheckHostPort(t *testing.T) {
	for _, good := range []string{"kafka-0:9092", "127.0.0.1:1", "[::1]:9092"} {
		if err := checkHostPort(good); err != nil {
			t.Errorf("checkHostPort(%q) = %v, want nil", good, err)
		}
	}
	for _, bad := range []string{"", "nohost", ":9092", "a:b:c", "kafka:", "kafka:0", "kafka:70000", "kafka:http"} {
		if err := checkHostPort(bad); err == nil {
			t.Errorf("checkHostPort(%q) = nil, want an error", bad)
		}
	}
}

func TestLoadUnknownFieldMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("clusters:\n  - name: a\n    brokers: [h:1]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil {
		t.Fatal("Load returned no error for an unknown field")
	}
	if strings.Contains(err.Error(), "JSON") {
		t.Errorf("error %q mentions JSON for a YAML file", err)
	}
	if !strings.Contains(err.Error(), `unknown field "brokers"`) {
		t.Errorf("error %q does not name the unknown field", err)
	}
}
