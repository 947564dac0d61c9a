package integration

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// kafkaScript is scripts/kafka.sh, relative to this package's directory.
const kafkaScript = "../scripts/kafka.sh"

// broker is a single-node KRaft broker run by scripts/kafka.sh. Its data
// lives in dir, so start after stop or kill reuses the topics and commits.
type broker struct {
	dir            string
	port           int
	controllerPort int
}

// newBroker reserves two free loopback ports for a broker whose data lives
// in dir. The broker keeps these ports across restarts.
func newBroker(dir string) (*broker, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	return &broker{dir: dir, port: ports[0], controllerPort: ports[1]}, nil
}

func (b *broker) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
}

// start formats the data directory on first use and returns once the broker
// accepts connections.
func (b *broker) start(ctx context.Context) error {
	_, err := runKafkaScript(ctx, "start", b.dir, strconv.Itoa(b.port), strconv.Itoa(b.controllerPort))
	return err
}

// stop shuts the broker down with SIGTERM, and SIGKILL after the script's
// bound.
func (b *broker) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := runKafkaScript(ctx, "stop", b.dir)
	return err
}

// kill sends SIGKILL to the broker, as a crash would.
func (b *broker) kill(ctx context.Context) error {
	_, err := runKafkaScript(ctx, "kill", b.dir)
	return err
}

// runKafkaScript runs scripts/kafka.sh and returns its standard output. The
// error carries standard error, where the script reports what failed.
func runKafkaScript(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, kafkaScript, args...)
	// The script's watcher stops the broker once this process exits, so a
	// test binary killed by its timeout leaves no JVM behind.
	cmd.Env = append(os.Environ(), "LAGSCALER_KAFKA_OWNER_PID="+strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s",
			filepath.Base(kafkaScript), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1. All
// listeners stay open until every port is chosen, so the ports differ.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
