package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// suite is the state that TestMain prepares once for every test in the
// package.
type suite struct {
	// binary is the lagscaler executable built from ../cmd/lagscaler.
	binary   string
	buildErr error

	// bootstrap is the cluster's bootstrap address.
	bootstrap string
	// broker is the broker this run started, or nil when
	// LAGSCALER_KAFKA_BOOTSTRAP names an external cluster.
	broker     *broker
	clusterErr error
}

var env suite

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	// KEDA's scaler clients log through controller-runtime, which otherwise
	// drops the lines and warns that no logger was set.
	crlog.SetLogger(funcr.New(func(prefix, args string) {
		fmt.Fprintf(os.Stderr, "keda: %s %s\n", prefix, args)
	}, funcr.Options{}))

	workDir, err := os.MkdirTemp("", "lagscaler-integration-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "integration: create temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)

	// The build and the broker start take seconds each and need nothing of
	// each other, so they run at the same time.
	built := make(chan struct{})
	go func() {
		defer close(built)
		env.binary, env.buildErr = buildLagscaler(workDir)
	}()
	env.bootstrap, env.broker, env.clusterErr = openCluster(workDir)
	<-built
	if env.buildErr != nil {
		fmt.Fprintf(os.Stderr, "integration: %v\n", env.buildErr)
	}
	if env.clusterErr != nil {
		fmt.Fprintf(os.Stderr, "integration: no Kafka cluster: %v\n", env.clusterErr)
	}
	if env.broker != nil {
		defer func() {
			if err := env.broker.stop(); err != nil {
				fmt.Fprintf(os.Stderr, "integration: %v\n", err)
			}
		}()
	}

	return m.Run()
}

// buildLagscaler builds the lagscaler command from the root module into dir.
// The integration module execs the binary rather than importing the root
// module, so it tests what users run.
func buildLagscaler(dir string) (string, error) {
	binary := filepath.Join(dir, "lagscaler")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/lagscaler")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build lagscaler: %w\n%s", err, out)
	}
	return binary, nil
}

// openCluster returns the bootstrap address of the cluster named by
// LAGSCALER_KAFKA_BOOTSTRAP, or else fetches Kafka and starts a single broker
// on a free loopback port.
func openCluster(workDir string) (string, *broker, error) {
	if addr := os.Getenv("LAGSCALER_KAFKA_BOOTSTRAP"); addr != "" {
		return addr, nil, nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if _, err := runKafkaScript(ctx, "fetch"); err != nil {
		return "", nil, err
	}

	b, err := newBroker(filepath.Join(workDir, "kafka"))
	if err != nil {
		return "", nil, err
	}
	if err := b.start(ctx); err != nil {
		return "", nil, err
	}
	return b.addr(), b, nil
}

// needCluster returns the bootstrap address of the test cluster. Without a
// cluster the test is skipped. When CI is set it fails instead, so a broken
// setup cannot pass as a run without tests.
func needCluster(t *testing.T) string {
	t.Helper()
	if env.clusterErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Kafka cluster (CI is set, so this fails): %v", env.clusterErr)
		}
		t.Skipf("no Kafka cluster; set LAGSCALER_KAFKA_BOOTSTRAP or install java and mvn: %v",
			env.clusterErr)
	}
	return env.bootstrap
}

// needOwnBroker returns the broker that this run started, and skips tests
// that stop the broker when the cluster is an external one.
func needOwnBroker(t *testing.T) *broker {
	t.Helper()
	needCluster(t)
	if env.broker == nil {
		t.Skip("LAGSCALER_KAFKA_BOOTSTRAP names an external cluster, which this test must not kill")
	}
	return env.broker
}

// needBinary returns the path of the lagscaler binary built for this run.
func needBinary(t *testing.T) string {
	t.Helper()
	if env.buildErr != nil {
		t.Fatal(env.buildErr)
	}
	return env.binary
}
