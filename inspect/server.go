package inspect

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
	"github.com/lagscaler/lagscaler/scaler"
)

// Server implements the lagscaler.inspect.v1.Inspect service over a lag
// cache. It is safe for concurrent use.
type Server struct {
	inspectv1.UnimplementedInspectServer
	cache *lag.Cache
}

// NewServer returns a Server that reads cache. Register it with
// inspectv1.RegisterInspectServer. The caller runs the cache.
func NewServer(cache *lag.Cache) *Server {
	return &Server{cache: cache}
}

// GetLag returns the report of one group from the cache. The request keeps
// the group in the cache, so repeated calls are served from the background
// refresh. Errors are mapped by scaler.ErrorStatus, except for invalid
// requests, which are InvalidArgument.
func (s *Server) GetLag(ctx context.Context, req *inspectv1.GetLagRequest) (*inspectv1.GetLagResponse, error) {
	q, policy, err := queryFromRequest(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	snap, err := s.cache.Get(ctx, q)
	if err != nil {
		return nil, scaler.ErrorStatus(err).Err()
	}
	return &inspectv1.GetLagResponse{Group: GroupToProto(NewGroupReport(snap, lag.Policy{Reset: policy}))}, nil
}

func queryFromRequest(req *inspectv1.GetLagRequest) (lag.Query, lag.ResetPolicy, error) {
	if req.GetCluster() == "" {
		return lag.Query{}, 0, errors.New("missing cluster: name a cluster from the scaler's configuration")
	}
	if req.GetGroup() == "" {
		return lag.Query{}, 0, errors.New("missing group: name a consumer group ID")
	}
	for _, topic := range req.GetTopics() {
		if err := lag.CheckTopicName(topic); err != nil {
			return lag.Query{}, 0, fmt.Errorf("invalid topic %q: %w", topic, err)
		}
	}
	isolation, err := IsolationFromProto(req.GetIsolation())
	if err != nil {
		return lag.Query{}, 0, err
	}
	policy, err := ResetPolicyFromProto(req.GetOffsetResetPolicy())
	if err != nil {
		return lag.Query{}, 0, err
	}
	q := lag.Query{
		Cluster:   req.GetCluster(),
		Group:     req.GetGroup(),
		Topics:    req.GetTopics(),
		Isolation: isolation,
	}
	return q.Normalize(), policy, nil
}

// ListSnapshots returns every query in the cache. It does no Kafka I/O.
func (s *Server) ListSnapshots(context.Context, *inspectv1.ListSnapshotsRequest) (*inspectv1.ListSnapshotsResponse, error) {
	resp := &inspectv1.ListSnapshotsResponse{}
	for _, e := range s.cache.Entries() {
		entry := &inspectv1.SnapshotEntry{
			Cluster:   e.Query.Cluster,
			Group:     e.Query.Group,
			Topics:    e.Query.Topics,
			Isolation: IsolationToProto(e.Query.Isolation),
		}
		if e.Snapshot != nil {
			entry.TakenAt = timestamppb.New(e.Snapshot.TakenAt)
		}
		if e.Err != nil {
			entry.Error = e.Err.Error()
		}
		resp.Entries = append(resp.Entries, entry)
	}
	return resp, nil
}
