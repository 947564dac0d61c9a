package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/lagscaler/lagscaler/internal/kafkatest"
)

// testKafka is a kafkatest cluster with its broker list in the form
// --bootstrap-server takes.
type testKafka struct {
	*kafkatest.Cluster
	// bootstrap is the comma-separated broker list for --bootstrap-server.
	bootstrap string
}

func newTestKafka(t testing.TB, brokers int) *testKafka {
	t.Helper()
	c := kafkatest.New(t, kfake.NumBrokers(brokers))
	return &testKafka{Cluster: c, bootstrap: strings.Join(c.Addrs(), ",")}
}

// cliResult is the outcome of one in-process run of the lagscaler command.
type cliResult struct {
	stdout, stderr string
	code           int
	err            error
}

// runCLI runs the root command with args in-process and returns its output
// and the exit code main would use.
func runCLI(t testing.TB, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root := newRootCommand()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := exitOK
	if err != nil {
		// exitCode also prints err, which is wanted in the test log.
		code = exitCode(err, ctx)
	}
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code, err: err}
}

// newSilentListener returns the address of a loopback listener that accepts
// connections and never responds, like a broker that hangs.
func newSilentListener(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
