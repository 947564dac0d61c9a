package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
)

// kafkaTarget are the flags that pick the Kafka cluster an inspection
// command reads: --bootstrap-server, or --config with --cluster.
type kafkaTarget struct {
	bootstrapServer string
	configFile      string
	cluster         string
	timeout         time.Duration
}

func (t *kafkaTarget) register(flags *pflag.FlagSet) {
	flags.StringVar(&t.bootstrapServer, "bootstrap-server", "",
		"comma-separated Kafka brokers (host:port) to read")
	flags.StringVar(&t.configFile, "config", "",
		"path of lagscaler's YAML configuration file; the cluster to read is chosen with --cluster")
	flags.StringVar(&t.cluster, "cluster", "",
		`cluster name: with --config, the configured cluster to read (optional when it has one); `+
			`with --bootstrap-server, the name shown in output (default "default")`)
	flags.DurationVar(&t.timeout, "timeout", 10*time.Second,
		"time limit for reading lag from Kafka (for example 10s)")
}

// validate returns one error per problem with the target flags.
func (t *kafkaTarget) validate() []error {
	var errs []error
	if err := t.checkTimeout(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case t.bootstrapServer != "" && t.configFile != "":
		errs = append(errs, errors.New("--bootstrap-server and --config are exclusive: set one of them"))
	case t.bootstrapServer == "" && t.configFile == "":
		errs = append(errs, errors.New("no Kafka cluster: set --bootstrap-server host:port or --config FILE"))
	}
	return errs
}

// checkTimeout returns the problem with --timeout, or nil.
func (t *kafkaTarget) checkTimeout() error {
	if t.timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: use a positive duration such as 10s", t.timeout)
	}
	return nil
}

// configuration returns the clusters the flags name: the one defined by
// --bootstrap-server, or every cluster of --config.
func (t *kafkaTarget) configuration() (*config.Config, error) {
	if t.configFile != "" {
		cfg, err := config.Load(t.configFile)
		if err != nil {
			return nil, usageError(fmt.Errorf("invalid --config: %w", err))
		}
		return cfg, nil
	}
	cfg := config.FromBootstrap(t.bootstrapServer)
	if t.cluster != "" {
		cfg.Clusters[0].Name = t.cluster
	}
	if err := cfg.Validate(); err != nil {
		return nil, usageError(fmt.Errorf("invalid --bootstrap-server %q or --cluster %q: %w",
			t.bootstrapServer, t.cluster, err))
	}
	return cfg, nil
}

// resolve returns the one cluster to read.
func (t *kafkaTarget) resolve() (config.Cluster, error) {
	cfg, err := t.configuration()
	if err != nil {
		return config.Cluster{}, err
	}
	if t.configFile == "" || t.cluster == "" && len(cfg.Clusters) == 1 {
		return cfg.Clusters[0], nil
	}
	if t.cluster == "" {
		return config.Cluster{}, usageError(fmt.Errorf("--config %s has %d clusters: choose one with --cluster (%s)",
			t.configFile, len(cfg.Clusters), strings.Join(cfg.ClusterNames(), ", ")))
	}
	cl, ok := cfg.Cluster(t.cluster)
	if !ok {
		return config.Cluster{}, usageError(fmt.Errorf("invalid --cluster %q: --config %s defines %s",
			t.cluster, t.configFile, strings.Join(cfg.ClusterNames(), ", ")))
	}
	return cl, nil
}

// kafkaReader is a lag reader over its own Kafka client.
type kafkaReader struct {
	cluster config.Cluster
	timeout time.Duration
	client  *kgo.Client
	reader  *lag.Reader
}

// newKafkaReader creates a client for cl. franz-go connects lazily, so an
// unreachable broker shows up as an error of the first read. extra options
// come after lagscaler's, such as hooks that record the client's requests.
func newKafkaReader(cl config.Cluster, timeout time.Duration, extra ...kgo.Opt) (*kafkaReader, error) {
	opts, err := cl.ClientOptions(timeout)
	if err != nil {
		return nil, fmt.Errorf("kafka cluster %q: %w", cl.Name, err)
	}
	client, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka cluster %q: %w", cl.Name, err)
	}
	return &kafkaReader{cluster: cl, timeout: timeout, client: client, reader: lag.NewReader(cl.Name, client)}, nil
}

func (k *kafkaReader) close() { k.client.Close() }

// unreachable describes a failure to read the cluster, naming its brokers.
func (k *kafkaReader) unreachable(err error) error {
	var unavailable *lag.UnavailableError
	if errors.As(err, &unavailable) {
		err = unavailable.Err
	}
	brokers := strings.Join(k.cluster.BootstrapServers, ",")
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kafka cluster %q (bootstrap servers %s) did not respond within --timeout %s: %w; "+
			"check that the brokers are reachable from here", k.cluster.Name, brokers, k.timeout, err)
	}
	return fmt.Errorf("reading kafka cluster %q (bootstrap servers %s) failed: %w; "+
		"check that the brokers are reachable from here", k.cluster.Name, brokers, err)
}
