package scaler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lagscaler/lagscaler/lag"
)

// UnknownLagError reports selected partitions whose offsets could not be read.
// The scaler returns it instead of a lag that leaves them out, because a
// lower number would scale the workload in.
type UnknownLagError struct {
	Cluster string
	Group   string
	// Partitions names each partition as topic[partition].
	Partitions []string
	// Err joins the per-partition errors.
	Err error
}

func (e *UnknownLagError) Error() string {
	return fmt.Sprintf("cluster %q, group %q: lag unknown for %d partitions (%s): %v",
		e.Cluster, e.Group, len(e.Partitions), strings.Join(e.Partitions, ", "), e.Err)
}

func (e *UnknownLagError) Unwrap() error { return e.Err }

// ErrorStatus maps an error of this package or of the lag engine to the gRPC
// status KEDA receives. The checks run in this order:
//   - an error that already carries a gRPC status keeps it;
//   - *MetadataError and lag.ErrUnknownCluster: InvalidArgument;
//   - *lag.UnavailableError, lag.ErrStale and *UnknownLagError: Unavailable,
//     even when they wrap a context error, because Kafka was the part that
//     failed;
//   - context.DeadlineExceeded: DeadlineExceeded; context.Canceled: Canceled;
//   - lag.ErrGroupNotFound and lag.ErrTopicNotFound: NotFound;
//   - anything else: Internal.
//
// The message is err's text, which names the cluster and group for errors
// from Decide and from the server's calls to its LagSource.
func ErrorStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	return status.New(errorCode(err), err.Error())
}

func errorCode(err error) codes.Code {
	var metadataErr *MetadataError
	var unavailableErr *lag.UnavailableError
	var unknownErr *UnknownLagError
	switch {
	case errors.As(err, &metadataErr), errors.Is(err, lag.ErrUnknownCluster):
		return codes.InvalidArgument
	case errors.As(err, &unavailableErr), errors.As(err, &unknownErr), errors.Is(err, lag.ErrStale):
		return codes.Unavailable
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, lag.ErrGroupNotFound), errors.Is(err, lag.ErrTopicNotFound):
		return codes.NotFound
	}
	return codes.Internal
}
