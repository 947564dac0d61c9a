package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// server is a `lagscaler serve` process started by a test. It is stopped
// when the test ends, and its log is printed when the test failed.
type server struct {
	grpcAddr string
	httpAddr string
	logPath  string

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	waitErr error         // valid after exited is closed
}

// startServe starts `lagscaler serve` on free loopback ports with bootstrap
// as its only cluster, and returns once /healthz returns status 200.
func startServe(t *testing.T, bootstrap string, extraArgs ...string) *server {
	t.Helper()
	return startServeWith(t, append([]string{"--bootstrap-server", bootstrap}, extraArgs...)...)
}

// startServeWith starts `lagscaler serve` on free loopback ports with args,
// which must name the clusters (--bootstrap-server or --config), and returns
// once /healthz returns status 200.
func startServeWith(t *testing.T, args ...string) *server {
	t.Helper()
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{
		grpcAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])),
		httpAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[1])),
		logPath:  filepath.Join(t.TempDir(), "serve.log"),
		exited:   make(chan struct{}),
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	args = append([]string{
		"serve",
		"--grpc-addr", s.grpcAddr,
		"--http-addr", s.httpAddr,
		"--log-level", "debug",
	}, args...)
	s.cmd = exec.Command(needBinary(t), args...)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	killWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start lagscaler serve: %v", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })

	s.waitHealthy(t, 30*time.Second)
	return s
}

// waitHealthy polls /healthz until it returns status 200, the process exits
// or timeout passes.
func (s *server) waitHealthy(t *testing.T, timeout time.Duration) {
	t.Helper()
	url := "http://" + s.httpAddr + "/healthz"
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	deadline := time.Now().Add(timeout)
	for {
		err := getOK(url)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lagscaler serve not healthy after %v: %v\n%s", timeout, err, s.log())
		}
		select {
		case <-s.exited:
			t.Fatalf("lagscaler serve exited during startup: %v\n%s", s.waitErr, s.log())
		case <-ticker.C:
		}
	}
}

func getOK(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return nil
}

// running reports whether the process has not exited.
func (s *server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for a graceful exit, longer than the default
// --shutdown-timeout of 15s, before it sends SIGKILL. A failed test gets the
// server's log.
func (s *server) stop(t *testing.T) {
	if s.running() {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(20 * time.Second):
			t.Errorf("lagscaler serve still running 20s after SIGTERM, sending SIGKILL")
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if t.Failed() {
		t.Logf("lagscaler serve log (%s):\n%s", s.logPath, s.log())
	}
}

// log returns the end of the server's log.
func (s *server) log() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const keep = 16 << 10
	if len(data) > keep {
		data = append([]byte("...\n"), data[len(data)-keep:]...)
	}
	return string(data)
}
