package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/lagscaler/lagscaler/lag"
	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
	"github.com/lagscaler/lagscaler/scaler"
)

// Run runs the demo described by cfg and writes its table to out: a row per
// poll, then a one-line summary. It returns when cfg.Duration has passed or
// ctx ends, and once the table has started an ended ctx is a normal end of
// the run, not an error. Run returns an error for an invalid cfg, for a
// failure to start Kafka, the scaler or the job, and for a failed write to
// out.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid demo configuration: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	st, err := startStack(cfg)
	if err != nil {
		return nil, err
	}
	defer st.close()

	// The job was deployed before the run and has read the empty topic, so
	// its first checkpoint is offset 0 everywhere. Without a commit the
	// scaler would count 1 per partition under offsetResetPolicy latest.
	runner := &jobRunner{
		admin:      kadm.NewClient(st.jobClient),
		topic:      Topic,
		group:      Group,
		partitions: cfg.Partitions,
		step:       cfg.Step,
		log:        cfg.Logger,
	}
	start := make([]int64, cfg.Partitions)
	if err := runner.commit(ctx, start); err != nil {
		return nil, fmt.Errorf("committing the job's first offsets: %w", err)
	}
	now := time.Now()
	runner.job = NewJob(cfg.jobConfig(), cfg.MinTaskManagers, start, now)

	p := &printer{w: out}
	p.header(cfg, strings.Join(st.cluster.ListenAddrs(), ","), st.scalerAddr)
	result := st.loop(ctx, cfg, runner, p, now)
	p.summary(result)
	if p.err != nil {
		return result, fmt.Errorf("writing the demo output: %w", p.err)
	}
	return result, nil
}

// stack is the running demo: Kafka, the lag cache, the scaler's gRPC server
// and a gRPC client connection to it.
type stack struct {
	cluster        *kfake.Cluster
	producerClient *kgo.Client
	jobClient      *kgo.Client
	lagClient      *kgo.Client

	stopCache  context.CancelFunc
	cacheDone  chan struct{}
	scaler     *scaler.Server
	grpcServer *grpc.Server
	serveDone  chan struct{}
	scalerAddr string
	conn       *grpc.ClientConn
}

// startStack starts Kafka with the demo topic, a lag cache over it and the
// scaler's gRPC server on a 127.0.0.1 port, and connects to the server. On
// error it stops what it started.
func startStack(cfg Config) (st *stack, err error) {
	st = &stack{}
	defer func() {
		if err != nil {
			st.close()
		}
	}()

	// kfake listens on 127.0.0.1 only.
	st.cluster, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(cfg.Partitions), Topic))
	if err != nil {
		return st, fmt.Errorf("starting the in-process kafka: %w", err)
	}
	addrs := st.cluster.ListenAddrs()
	if st.producerClient, err = newKafkaClient(addrs, kgo.RecordPartitioner(kgo.ManualPartitioner())); err != nil {
		return st, err
	}
	if st.jobClient, err = newKafkaClient(addrs); err != nil {
		return st, err
	}
	if st.lagClient, err = newKafkaClient(addrs); err != nil {
		return st, err
	}

	// The lag is read as lagscaler serve reads it: one cache over one
	// reader per cluster, refreshed in the background.
	cache := lag.NewCache([]*lag.Reader{lag.NewReader(clusterName, st.lagClient)}, lag.CacheOptions{
		RefreshInterval: cfg.PollInterval,
		Logger:          cfg.Logger,
	})
	var cacheCtx context.Context
	cacheCtx, st.stopCache = context.WithCancel(context.Background())
	st.cacheDone = make(chan struct{})
	go func() {
		defer close(st.cacheDone)
		cache.Run(cacheCtx)
	}()

	return st, st.serve(cache, addrs, cfg.Logger)
}

func newKafkaClient(addrs []string, opts ...kgo.Opt) (*kgo.Client, error) {
	client, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("creating a kafka client for %s: %w", strings.Join(addrs, ","), err)
	}
	return client, nil
}

// serve starts the scaler's gRPC server on 127.0.0.1 and connects to it.
func (st *stack) serve(cache *lag.Cache, kafkaAddrs []string, log *slog.Logger) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the scaler's grpc server: %w", err)
	}
	st.scalerAddr = lis.Addr().String()
	st.scaler = scaler.New(cache, scaler.Options{
		Clusters: []scaler.Cluster{{Name: clusterName, BootstrapServers: kafkaAddrs}},
		Logger:   log,
	})
	st.grpcServer = grpc.NewServer()
	pb.RegisterExternalScalerServer(st.grpcServer, st.scaler)
	st.serveDone = make(chan struct{})
	go func() {
		defer close(st.serveDone)
		if err := st.grpcServer.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			log.Error("scaler grpc server stopped", "addr", st.scalerAddr, "err", err)
		}
	}()

	st.conn, err = grpc.NewClient(st.scalerAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connecting to the scaler at %s: %w", st.scalerAddr, err)
	}
	return nil
}

// close stops everything in the reverse order of start: the client
// connection, the gRPC server, the cache, the Kafka clients, then Kafka.
func (st *stack) close() {
	if st.conn != nil {
		_ = st.conn.Close()
	}
	if st.grpcServer != nil {
		st.scaler.Shutdown()
		st.grpcServer.GracefulStop()
		<-st.serveDone
	}
	if st.stopCache != nil {
		st.stopCache()
		<-st.cacheDone
	}
	for _, client := range []*kgo.Client{st.producerClient, st.jobClient, st.lagClient} {
		if client != nil {
			client.Close()
		}
	}
	if st.cluster != nil {
		st.cluster.Close()
	}
}

// loop runs the producer and the job, and polls the scaler every
// PollInterval until the run's duration has passed or ctx ends.
func (st *stack) loop(ctx context.Context, cfg Config, runner *jobRunner, p *printer, start time.Time) *Result {
	workCtx, stopWork := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopWork()

	prod := &producer{
		client:     st.producerClient,
		topic:      Topic,
		partitions: cfg.Partitions,
		profile:    cfg.profile(),
		log:        cfg.Logger,
	}
	wg.Go(func() { prod.run(workCtx, start) })
	wg.Go(func() { runner.run(workCtx) })

	as := &autoscaler{
		client: pb.NewExternalScalerClient(st.conn),
		ref: &pb.ScaledObjectRef{
			Name:           ScaledObject,
			Namespace:      Namespace,
			ScalerMetadata: cfg.TriggerMetadata(),
		},
		minReplicas:     cfg.MinTaskManagers,
		maxReplicas:     cfg.MaxTaskManagers,
		scaleUpWindow:   cfg.ScaleUpWindow,
		scaleDownWindow: cfg.ScaleDownWindow,
		cooldown:        cfg.Cooldown,
		lastActive:      start,
	}

	deadline := time.NewTimer(cfg.Duration)
	defer deadline.Stop()
	ticker := time.NewTicker(cfg.PollInterval)
	defer ticker.Stop()

	result := &Result{MaxTaskManagers: cfg.MinTaskManagers, FinalTaskManagers: cfg.MinTaskManagers}
	var acked int64
	last := start
	for {
		select {
		case <-ctx.Done():
			result.Duration = time.Since(start)
			return result
		case <-deadline.C:
			result.Duration = time.Since(start)
			return result
		case <-ticker.C:
		}

		obs := as.observe(ctx)
		if ctx.Err() != nil {
			continue
		}
		now := time.Now()
		current := runner.job.TaskManagers()
		next := as.replicas(now, current, obs)
		runner.job.SetTaskManagers(next, now)

		total := prod.acked.Load()
		row := Row{
			Elapsed:      now.Sub(start),
			ProduceRate:  float64(total-acked) / now.Sub(last).Seconds(),
			Lag:          obs.value,
			Active:       obs.active,
			Err:          obs.err,
			Previous:     current,
			TaskManagers: next,
			Restarting:   runner.job.Restarting(now),
		}
		acked, last = total, now
		result.add(row)
		p.row(row)
	}
}
