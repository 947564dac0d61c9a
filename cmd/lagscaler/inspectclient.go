package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lagscaler/lagscaler/inspect"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

// serverFlags select a running scaler's inspection service instead of Kafka.
type serverFlags struct {
	address string
	caFile  string
	cert    string
	key     string
}

func (f *serverFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.address, "server", "",
		`host:port of the gRPC endpoint of a running "lagscaler serve"; read lag from its cache instead of from Kafka`)
	flags.StringVar(&f.caFile, "server-tls-ca", "",
		"PEM CA file that signed the --server certificate; enables TLS (plaintext without it)")
	flags.StringVar(&f.cert, "server-tls-cert", "",
		"PEM client certificate file for --server, when it requires mutual TLS")
	flags.StringVar(&f.key, "server-tls-key", "",
		"PEM private key file of --server-tls-cert")
}

// validate returns one error per problem with the server flags.
func (f *serverFlags) validate() []error {
	var errs []error
	if f.address == "" && (f.caFile != "" || f.cert != "" || f.key != "") {
		errs = append(errs, errors.New("--server-tls-ca, --server-tls-cert and --server-tls-key need --server"))
	}
	if (f.cert == "") != (f.key == "") {
		errs = append(errs, errors.New("--server-tls-cert and --server-tls-key go together: set both or neither"))
	}
	if f.cert != "" && f.caFile == "" {
		errs = append(errs, errors.New("--server-tls-cert needs --server-tls-ca to verify the server"))
	}
	return errs
}

// credentials returns the transport credentials for --server.
func (f *serverFlags) credentials() (credentials.TransportCredentials, error) {
	if f.caFile == "" {
		return insecure.NewCredentials(), nil
	}
	pool, err := readCertPool("--server-tls-ca", f.caFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if f.cert != "" {
		cert, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("loading --server-tls-cert and --server-tls-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(cfg), nil
}

// readCertPool reads the PEM certificates of the file at path into a pool.
// flag is the flag that set path, which the errors name.
func readCertPool(flag, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", flag, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("invalid %s %s: it contains no PEM certificate", flag, path)
	}
	return pool, nil
}

// dial returns a client connection to --server. gRPC connects lazily, so an
// unreachable server shows up as an error of the first call.
func (f *serverFlags) dial(extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	creds, err := f.credentials()
	if err != nil {
		return nil, usageError(err)
	}
	conn, err := grpc.NewClient(f.address, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, extra...)...)
	if err != nil {
		return nil, usageError(fmt.Errorf("invalid --server %q: %w", f.address, err))
	}
	return conn, nil
}

// serverLagSource reads reports from a scaler's inspection service, one
// GetLag call per group.
type serverLagSource struct {
	lagRequest
	conn    *grpc.ClientConn
	client  inspectv1.InspectClient
	address string
	cluster string
	timeout time.Duration
}

func (s *serverLagSource) close() { s.conn.Close() }

func (s *serverLagSource) fetch(ctx context.Context) (fetchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()

	var res fetchResult
	groups := s.groups
	if s.pattern != nil {
		var err error
		if groups, err = s.cachedGroups(ctx); err != nil {
			return fetchResult{}, err
		}
		if len(groups) == 0 {
			res.notFound = append(res.notFound, fmt.Sprintf("no consumer group of cluster %q in the cache of the scaler at %s "+
				"matches --group-pattern %q", s.cluster, s.address, s.patternText))
			return res, nil
		}
	}

	for _, group := range groups {
		resp, err := s.client.GetLag(ctx, &inspectv1.GetLagRequest{
			Cluster:           s.cluster,
			Group:             group,
			Topics:            s.topics,
			Isolation:         inspect.IsolationToProto(s.isolation),
			OffsetResetPolicy: inspect.ResetPolicyToProto(s.policy),
		})
		if status.Code(err) == codes.NotFound {
			res.notFound = append(res.notFound, fmt.Sprintf("consumer group %q does not exist or has no committed offsets "+
				"on cluster %q (the scaler reports: %s); name its topics with --topic", group, s.cluster, status.Convert(err).Message()))
			continue
		}
		if err != nil {
			return fetchResult{}, s.callError("GetLag", err)
		}

		g := inspect.GroupFromProto(resp.GetGroup())
		switch {
		case g.State == "Dead" && nothingCommitted(g):
			res.notFound = append(res.notFound, groupMissingMessage(group))
			continue
		case g.State == "" && nothingCommitted(g):
			// NOTE: the lag reader leaves the state empty when DescribeGroups
			// fails, and DescribeGroups v6 and later fails with
			// GROUP_ID_NOT_FOUND for an unknown group. Without commits, an
			// empty state therefore most likely means the group does not
			// exist, but this side cannot describe the group to be sure.
			res.notFound = append(res.notFound, fmt.Sprintf("consumer group %q has no committed offsets and "+
				"the scaler could not describe it, so it most likely does not exist", group))
			continue
		}
		res.groups = append(res.groups, g)
		res.addMissingTopics(g)
	}
	return res, nil
}

// cachedGroups returns the groups of the cluster in the scaler's cache that
// match the pattern, sorted.
func (s *serverLagSource) cachedGroups(ctx context.Context) ([]string, error) {
	resp, err := s.client.ListSnapshots(ctx, &inspectv1.ListSnapshotsRequest{})
	if err != nil {
		return nil, s.callError("ListSnapshots", err)
	}
	var names []string
	for _, e := range resp.GetEntries() {
		if e.GetCluster() == s.cluster && !slices.Contains(names, e.GetGroup()) {
			names = append(names, e.GetGroup())
		}
	}
	return matchingGroups(names, s.pattern), nil
}

// callError describes a failed call. A rejected request is a usage error.
func (s *serverLagSource) callError(method string, err error) error {
	st := status.Convert(err)
	switch st.Code() {
	case codes.InvalidArgument:
		return usageError(fmt.Errorf("the scaler at %s rejected %s: %s", s.address, method, st.Message()))
	case codes.DeadlineExceeded:
		return fmt.Errorf("the scaler at %s did not respond to %s within --timeout %s", s.address, method, s.timeout)
	}
	return fmt.Errorf("%s on the scaler at %s failed: %s (%s)", method, s.address, st.Message(), st.Code())
}
