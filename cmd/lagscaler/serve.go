package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/lagscaler/lagscaler/internal/buildinfo"
	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
	"github.com/lagscaler/lagscaler/scaler"
)

// serveFlags are the flags of "lagscaler serve".
type serveFlags struct {
	grpcAddr        string
	httpAddr        string
	bootstrapServer string
	configFile      string
	refresh         time.Duration
	idleExpiry      time.Duration
	maxStaleness    time.Duration
	kafkaTimeout    time.Duration
	shutdownTimeout time.Duration
	maxGroups       int
	tlsCert         string
	tlsKey          string
	clientCA        string
	log             logFlags
}

func newServeCommand() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve KEDA's external scaler protocol and Prometheus lag metrics",
		Long: `serve handles KEDA's external scaler calls (IsActive, GetMetricSpec,
GetMetrics and their streaming forms) on --grpc-addr and serves /healthz,
/readyz and /metrics on --http-addr. Kafka clusters come from --config or
--bootstrap-server, never from ScaledObject metadata.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), &f)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&f.grpcAddr, "grpc-addr", ":6000", "listen address of the gRPC endpoint that KEDA calls (host:port)")
	flags.StringVar(&f.httpAddr, "http-addr", ":8080", "listen address of /healthz, /readyz and /metrics (host:port)")
	flags.StringVar(&f.bootstrapServer, "bootstrap-server", "", `comma-separated Kafka brokers (host:port) of the cluster named "default"; use --config for several clusters`)
	flags.StringVar(&f.configFile, "config", "", "path of the YAML configuration file with clusters and exported groups")
	flags.DurationVar(&f.refresh, "refresh-interval", 5*time.Second, "how often lag of groups in use is read from Kafka")
	flags.DurationVar(&f.idleExpiry, "idle-expiry", 10*time.Minute, "how long a group is kept refreshed after the last request for it")
	flags.DurationVar(&f.maxStaleness, "max-staleness", 30*time.Second, "maximum age of a cached lag snapshot; a call that needs an older one fails with Unavailable")
	flags.DurationVar(&f.kafkaTimeout, "kafka-timeout", 10*time.Second, "time limit of one lag refresh of one cluster")
	flags.IntVar(&f.maxGroups, "max-groups", 10000, "maximum (cluster, group, topics) lag queries held at once; requests for more are rejected until unused ones expire")
	flags.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "time allowed for in-flight requests after SIGTERM before connections are closed")
	flags.StringVar(&f.tlsCert, "grpc-tls-cert", "", "PEM certificate file of the gRPC server; enables TLS")
	flags.StringVar(&f.tlsKey, "grpc-tls-key", "", "PEM private key file of the gRPC server certificate")
	flags.StringVar(&f.clientCA, "grpc-client-ca", "", "PEM CA file; when set, gRPC clients must present a certificate it signed (mutual TLS)")
	f.log.register(flags)
	return cmd
}

// loadConfig returns the cluster configuration from --config or
// --bootstrap-server.
func (f *serveFlags) loadConfig() (*config.Config, error) {
	switch {
	case f.configFile != "" && f.bootstrapServer != "":
		return nil, usageError(errors.New("--config and --bootstrap-server are exclusive: name clusters in the config file"))
	case f.configFile != "":
		cfg, err := config.Load(f.configFile)
		if err != nil {
			return nil, usageError(fmt.Errorf("invalid --config: %w", err))
		}
		return cfg, nil
	case f.bootstrapServer != "":
		cfg := config.FromBootstrap(f.bootstrapServer)
		if err := cfg.Validate(); err != nil {
			return nil, usageError(fmt.Errorf("invalid --bootstrap-server %q: %w", f.bootstrapServer, err))
		}
		return cfg, nil
	default:
		return nil, usageError(errors.New("no Kafka cluster: set --bootstrap-server or --config"))
	}
}

func (f *serveFlags) validate() error {
	var errs []error
	for _, d := range []struct {
		name  string
		value time.Duration
	}{
		{"--refresh-interval", f.refresh},
		{"--idle-expiry", f.idleExpiry},
		{"--max-staleness", f.maxStaleness},
		{"--kafka-timeout", f.kafkaTimeout},
		{"--shutdown-timeout", f.shutdownTimeout},
	} {
		if d.value <= 0 {
			errs = append(errs, fmt.Errorf("invalid %s %s: use a positive duration such as 5s", d.name, d.value))
		}
	}
	if f.maxGroups <= 0 {
		errs = append(errs, fmt.Errorf("invalid --max-groups %d: use a positive number", f.maxGroups))
	}
	if f.maxStaleness > 0 && f.maxStaleness < f.refresh {
		errs = append(errs, fmt.Errorf("invalid --max-staleness %s: it must be at least --refresh-interval %s", f.maxStaleness, f.refresh))
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		errs = append(errs, errors.New("--grpc-tls-cert and --grpc-tls-key go together: set both or neither"))
	}
	if f.clientCA != "" && f.tlsCert == "" {
		errs = append(errs, errors.New("--grpc-client-ca needs --grpc-tls-cert and --grpc-tls-key"))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// serverTLS returns the gRPC server credentials, or nil without TLS.
func (f *serveFlags) serverTLS() (credentials.TransportCredentials, error) {
	if f.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("loading --grpc-tls-cert and --grpc-tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.clientCA != "" {
		pool, err := readCertPool("--grpc-client-ca", f.clientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

func runServe(ctx context.Context, f *serveFlags) error {
	logger, err := f.log.logger(os.Stderr)
	if err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	cfg, err := f.loadConfig()
	if err != nil {
		return err
	}
	creds, err := f.serverTLS()
	if err != nil {
		return usageError(err)
	}

	grpcListener, err := net.Listen("tcp", f.grpcAddr)
	if err != nil {
		return fmt.Errorf("listening on --grpc-addr %s: %w", f.grpcAddr, err)
	}
	httpListener, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		grpcListener.Close()
		return fmt.Errorf("listening on --http-addr %s: %w", f.httpAddr, err)
	}

	app, err := newApp(cfg, f, logger)
	if err != nil {
		grpcListener.Close()
		httpListener.Close()
		return err
	}
	defer app.closeClients()

	var grpcOpts []grpc.ServerOption
	if creds != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(creds))
	}
	return app.run(ctx, grpcListener, httpListener, grpcOpts)
}

// app is the running state of "lagscaler serve".
type app struct {
	cfg     *config.Config
	flags   *serveFlags
	logger  *slog.Logger
	metrics *serveMetrics
	kafka   []*kafkaReader
	cache   *lag.Cache
	health  *health.Server
	// discoverer pins the groups of metrics.groupPatterns.
	discoverer *groupDiscoverer
	// ready is true while the gRPC server accepts calls.
	ready atomic.Bool
}

// newApp creates one Kafka client per cluster of cfg, the lag cache over
// them and the metrics. On error it closes the clients it created.
func newApp(cfg *config.Config, f *serveFlags, logger *slog.Logger) (_ *app, err error) {
	m, err := newServeMetrics(scaledObjectExpiry(f.maxStaleness))
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, flags: f, logger: logger, metrics: m, health: health.NewServer()}
	defer func() {
		if err != nil {
			a.closeClients()
		}
	}()

	readers := make([]*lag.Reader, 0, len(cfg.Clusters))
	for _, cl := range cfg.Clusters {
		kafka, err := newKafkaReader(cl, f.kafkaTimeout, kgo.WithHooks(m.kafka.Hooks(cl.Name)))
		if err != nil {
			return nil, err
		}
		a.kafka = append(a.kafka, kafka)
		readers = append(readers, kafka.reader)
	}
	a.cache = lag.NewCache(readers, lag.CacheOptions{
		RefreshInterval: f.refresh,
		IdleExpiry:      f.idleExpiry,
		MaxStaleness:    f.maxStaleness,
		Timeout:         f.kafkaTimeout,
		MaxQueries:      f.maxGroups,
		Logger:          logger,
		OnRefresh:       m.kafka.ObserveRefresh,
	})

	for _, g := range cfg.Metrics.Groups {
		if err := a.cache.Pin(lag.Query{Cluster: g.Cluster, Group: g.Group, Topics: g.Topics}); err != nil {
			return nil, err
		}
	}
	if err := m.registerLag(a.cache, cfg, f.maxStaleness); err != nil {
		return nil, err
	}
	if a.discoverer, err = newGroupDiscoverer(a); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *app) closeClients() {
	for _, k := range a.kafka {
		k.close()
	}
}

// run serves until ctx ends, then shuts down in order: health to
// NOT_SERVING, end the streams, stop the lag refresher, GracefulStop with a
// fallback to Stop, then the HTTP server.
func (a *app) run(ctx context.Context, grpcListener, httpListener net.Listener, grpcOpts []grpc.ServerOption) error {
	refreshCtx, stopRefresh := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { a.cache.Run(refreshCtx) })
	wg.Go(func() { a.discoverer.run(refreshCtx) })

	grpcServer, scalerServer := a.newGRPCServer(grpcOpts)
	// The timeouts close connections of clients that stop reading, so a
	// stalled scraper cannot hold a rendered /metrics page in memory.
	httpServer := &http.Server{
		Handler:           a.httpHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}

	errc := make(chan error, 2)
	wg.Go(func() {
		if err := grpcServer.Serve(grpcListener); err != nil {
			errc <- fmt.Errorf("grpc server: %w", err)
		}
	})
	wg.Go(func() {
		if err := httpServer.Serve(httpListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http server: %w", err)
		}
	})
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	a.ready.Store(true)
	a.logger.Info("lagscaler serving",
		"grpc_addr", grpcListener.Addr().String(), "http_addr", httpListener.Addr().String(),
		"clusters", a.cfg.ClusterNames(), "version", buildinfo.Version, "commit", buildinfo.Commit)

	var runErr error
	select {
	case <-ctx.Done():
		a.logger.Info("shutting down", "timeout", a.flags.shutdownTimeout)
	case runErr = <-errc:
		a.logger.Error("server failed, shutting down", "err", runErr)
	}

	a.ready.Store(false)
	a.health.Shutdown()
	scalerServer.Shutdown()
	// Stopping the refresher makes calls that wait for a first read fail
	// at once, so a hung broker cannot hold GracefulStop until the timeout.
	// Calls on loaded snapshots still succeed: they do no Kafka I/O.
	stopRefresh()
	stopped := make(chan struct{})
	go func() {
		grpcServer.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(a.flags.shutdownTimeout)
	select {
	case <-stopped:
		timer.Stop()
	case <-timer.C:
		a.logger.Warn("graceful stop timed out, closing connections", "timeout", a.flags.shutdownTimeout)
		grpcServer.Stop()
		<-stopped
	}

	httpCtx, cancel := context.WithTimeout(context.Background(), a.flags.shutdownTimeout)
	if err := httpServer.Shutdown(httpCtx); err != nil {
		a.logger.Warn("http shutdown", "err", err)
		httpServer.Close()
	}
	cancel()
	wg.Wait()
	a.logger.Info("stopped")
	return runErr
}

func (a *app) newGRPCServer(opts []grpc.ServerOption) (*grpc.Server, *scaler.Server) {
	server := grpc.NewServer(append(opts, a.metrics.serverOptions()...)...)
	healthpb.RegisterHealthServer(server, a.health)
	reflection.Register(server)
	return server, registerServices(server, a)
}

func (a *app) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	// Readiness does not depend on Kafka. Kafka trouble affects every pod
	// alike, and an unready pod drops out of the headless Service, which
	// would turn KEDA's clear Unavailable error into a DNS failure.
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "not serving: starting or shutting down", http.StatusServiceUnavailable)
			return
		}
		if !a.cache.Healthy() {
			fmt.Fprintln(w, "ready; kafka has not been read successfully within --max-staleness")
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.metrics.registry, promhttp.HandlerOpts{
		Registry: a.metrics.registry,
		// Each scrape renders every series, so concurrent scrapes are
		// bounded; Prometheus retries the next interval.
		MaxRequestsInFlight: 4,
		Timeout:             20 * time.Second,
	}))
	return mux
}
