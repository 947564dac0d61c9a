package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testKafka is an in-process kfake cluster with an admin client.
type testKafka struct {
	fake   *kfake.Cluster
	client *kgo.Client
	admin  *kadm.Client
	// bootstrap is the comma-separated broker list for --bootstrap-server.
	bootstrap string
}

func newTestKafka(t testing.TB, brokers int) *testKafka {
	t.Helper()
	fake, err := kfake.NewCluster(kfake.NumBrokers(brokers))
	if err != nil {
		t.Fatalf("kfake.NewCluster: %v", err)
	}
	t.Cleanup(fake.Close)
	client, err := kgo.NewClient(kgo.SeedBrokers(fake.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(client.Close)
	return &testKafka{fake: fake, client: client, admin: kadm.NewClient(client), bootstrap: strings.Join(fake.ListenAddrs(), ",")}
}

// createTopic creates topic with one partition per entry of records and
// produces that many records to each partition.
func (k *testKafka) createTopic(t testing.TB, topic string, records []int) {
	t.Helper()
	if _, err := k.admin.CreateTopic(context.Background(), int32(len(records)), 1, nil, topic); err != nil {
		t.Fatalf("CreateTopic(%s): %v", topic, err)
	}
	k.produce(t, topic, records)
}

// produce appends records[p] records to each partition p of topic.
func (k *testKafka) produce(t testing.TB, topic string, records []int) {
	t.Helper()
	var batch []*kgo.Record
	for partition, n := range records {
		for i := range n {
			batch = append(batch, &kgo.Record{Topic: topic, Partition: int32(partition), Value: fmt.Appendf(nil, "%d", i)})
		}
	}
	if len(batch) == 0 {
		return
	}
	if err := k.client.ProduceSync(context.Background(), batch...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// commit commits offsets per partition of topic for group. A negative
// offset leaves that partition uncommitted.
func (k *testKafka) commit(t testing.TB, group, topic string, offsets []int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for partition, at := range offsets {
		if at >= 0 {
			os.Add(kadm.Offset{Topic: topic, Partition: int32(partition), At: at, LeaderEpoch: -1})
		}
	}
	if err := k.admin.CommitAllOffsets(context.Background(), group, os); err != nil {
		t.Fatalf("CommitAllOffsets(%s): %v", group, err)
	}
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
