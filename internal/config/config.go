// Package config loads lagscaler's configuration file: the Kafka clusters it
// may connect to and the consumer groups it exports as metrics without a
// ScaledObject asking for them.
//
// Kafka connection settings live here and never in ScaledObject metadata, so
// that a user who can write a ScaledObject cannot aim lagscaler at another host.
// The file names TLS and SASL secrets by path and never contains them, so it
// can be a ConfigMap while the secrets stay in a Secret. Load reports every
// problem of a file at once, and Cluster.ClientOptions reads the secret files.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"sigs.k8s.io/yaml"
)

// DefaultClusterName is the name of the cluster defined by the
// --bootstrap-server flag.
const DefaultClusterName = "default"

// Config is the content of a configuration file.
type Config struct {
	Clusters []Cluster `json:"clusters"`
	Metrics  Metrics   `json:"metrics,omitempty"`
}

// Cluster is one Kafka cluster lagscaler may read.
type Cluster struct {
	// Name identifies the cluster in trigger metadata (key "cluster") and in
	// metric labels.
	Name string `json:"name"`
	// BootstrapServers are host:port seed brokers.
	BootstrapServers []string `json:"bootstrapServers"`
	// ClientID is sent to Kafka with every request. Default "lagscaler".
	ClientID string `json:"clientID,omitempty"`
	// TLS configures TLS to the brokers. Default: plaintext.
	TLS TLS `json:"tls,omitzero"`
	// SASL configures SASL authentication. Default: none.
	SASL SASL `json:"sasl,omitzero"`
}

// Metrics lists groups exported on /metrics whether or not a ScaledObject
// requests them.
type Metrics struct {
	Groups []MetricsGroup `json:"groups,omitempty"`
	// GroupPatterns export every consumer group of a cluster whose ID
	// matches, as kafka_exporter does, found by listing groups periodically.
	GroupPatterns []MetricsGroupPattern `json:"groupPatterns,omitempty"`
}

// MetricsGroupPattern selects groups to export by a regular expression.
type MetricsGroupPattern struct {
	Cluster string `json:"cluster"`
	// Pattern is an RE2 expression that must match the whole group ID.
	// ".*" exports every group.
	Pattern string `json:"pattern"`
	// PerPartition exports per-partition series. Default true.
	PerPartition *bool `json:"perPartition,omitempty"`
}

// Regexp returns the compiled pattern, anchored to match the whole ID.
func (p MetricsGroupPattern) Regexp() (*regexp.Regexp, error) {
	return regexp.Compile("^(?:" + p.Pattern + ")$")
}

// ExportPartitions reports whether per-partition series are exported.
func (p MetricsGroupPattern) ExportPartitions() bool {
	return p.PerPartition == nil || *p.PerPartition
}

// MetricsGroup is one exported consumer group.
type MetricsGroup struct {
	Cluster string   `json:"cluster"`
	Group   string   `json:"group"`
	Topics  []string `json:"topics,omitempty"`
	// PerPartition exports per-partition series. Default true; turn it off
	// for groups with many partitions to bound label cardinality.
	PerPartition *bool `json:"perPartition,omitempty"`
}

// ExportPartitions reports whether per-partition series are exported.
func (g MetricsGroup) ExportPartitions() bool {
	return g.PerPartition == nil || *g.PerPartition
}

var clusterName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Load reads and validates the YAML or JSON file at path. Unknown fields are
// errors, so a misspelt key is not silently ignored.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var cfg Config
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return nil, fmt.Errorf("config file %s: %s", path, decodeProblem(err))
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return &cfg, nil
}

// FromBootstrap returns a configuration with one cluster named "default"
// reading the comma-separated brokers in servers.
func FromBootstrap(servers string) *Config {
	return &Config{Clusters: []Cluster{{Name: DefaultClusterName, BootstrapServers: SplitList(servers)}}}
}

// SplitList splits a comma-separated list and trims blanks around items. It
// keeps empty items so that validation can report them.
func SplitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// Validate reports every problem in c at once.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Clusters) == 0 {
		errs = append(errs, errors.New("clusters: at least one cluster is required"))
	}
	seen := make(map[string]bool)
	for i, cl := range c.Clusters {
		at := fmt.Sprintf("clusters[%d]", i)
		if !clusterName.MatchString(cl.Name) {
			errs = append(errs, fmt.Errorf("%s.name %q is invalid: use 1-63 lowercase letters, digits and '-'", at, cl.Name))
		}
		if seen[cl.Name] {
			errs = append(errs, fmt.Errorf("%s.name %q is used twice", at, cl.Name))
		}
		seen[cl.Name] = true
		if len(cl.BootstrapServers) == 0 {
			errs = append(errs, fmt.Errorf("%s.bootstrapServers is missing: list host:port brokers", at))
		}
		for _, b := range cl.BootstrapServers {
			if err := checkHostPort(b); err != nil {
				errs = append(errs, fmt.Errorf("%s.bootstrapServers: %w", at, err))
			}
		}
		errs = cl.TLS.validate(at+".tls", errs)
		errs = cl.SASL.validate(at+".sasl", errs)
	}
	for i, g := range c.Metrics.Groups {
		at := fmt.Sprintf("metrics.groups[%d]", i)
		if !seen[g.Cluster] {
			errs = append(errs, fmt.Errorf("%s.cluster %q is not a configured cluster (configured: %s)", at, g.Cluster, strings.Join(c.ClusterNames(), ", ")))
		}
		if g.Group == "" {
			errs = append(errs, fmt.Errorf("%s.group is missing", at))
		}
		if slices.Contains(g.Topics, "") {
			errs = append(errs, fmt.Errorf("%s.topics contains an empty topic name", at))
		}
	}
	for i, p := range c.Metrics.GroupPatterns {
		at := fmt.Sprintf("metrics.groupPatterns[%d]", i)
		if !seen[p.Cluster] {
			errs = append(errs, fmt.Errorf("%s.cluster %q is not a configured cluster (configured: %s)", at, p.Cluster, strings.Join(c.ClusterNames(), ", ")))
		}
		if p.Pattern == "" {
			errs = append(errs, fmt.Errorf("%s.pattern is missing: use an RE2 expression such as \"orders-.*\", or \".*\" for every group", at))
		} else if _, err := p.Regexp(); err != nil {
			errs = append(errs, fmt.Errorf("%s.pattern %q is invalid: %w", at, p.Pattern, err))
		}
	}
	return errors.Join(errs...)
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return fmt.Errorf("broker %q is invalid: use host:port, with brackets around an IPv6 address", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("broker %q has an invalid port: use a number from 1 to 65535", s)
	}
	return nil
}

// decodeProblem returns the message of a YAML decoding error without the
// layers of JSON decoder wording that sigs.k8s.io/yaml wraps it in, and with
// the fields a misspelt key can be checked against.
func decodeProblem(err error) string {
	msg := err.Error()
	for _, prefix := range []string{"error unmarshaling JSON: ", "while decoding JSON: ", "json: "} {
		msg = strings.TrimPrefix(msg, prefix)
	}
	if strings.HasPrefix(msg, "unknown field") {
		msg += "; see the configuration file section of the README for the allowed fields"
	}
	return msg
}

// ClusterNames returns the configured cluster names in file order.
func (c *Config) ClusterNames() []string {
	names := make([]string, len(c.Clusters))
	for i, cl := range c.Clusters {
		names[i] = cl.Name
	}
	return names
}

// Cluster returns the cluster named name.
func (c *Config) Cluster(name string) (Cluster, bool) {
	for _, cl := range c.Clusters {
		if cl.Name == name {
			return cl, true
		}
	}
	return Cluster{}, false
}

// ClientOptions returns the franz-go options that connect to cl. The
// request timeout overhead bounds how long one request may wait on a broker
// that accepted the connection but does not respond.
//
// ClientOptions reads the TLS and SASL files of cl, so it fails when one is
// missing, unreadable or malformed. Errors name the field and the file but
// never contain the file's content.
//
// NOTE: the files are read once, so the client keeps using the certificates
// and credentials it started with. A rotated Secret takes effect when
// lagscaler restarts.
func (cl Cluster) ClientOptions(requestTimeout time.Duration) ([]kgo.Opt, error) {
	clientID := cl.ClientID
	if clientID == "" {
		clientID = "lagscaler"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cl.BootstrapServers...),
		kgo.ClientID(clientID),
		kgo.RequestTimeoutOverhead(requestTimeout),
		kgo.RetryTimeout(requestTimeout),
		kgo.MetadataMinAge(time.Second),
	}

	if cl.TLS.Enabled {
		tlsConfig, err := cl.TLS.config()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tlsConfig))
	}
	if cl.SASL.configured() {
		mechanism, err := cl.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(mechanism))
	}
	return opts, nil
}
