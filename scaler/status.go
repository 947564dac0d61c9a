package scaler

import (
	"context"
	"errors"
	"fmt"

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

// Error names the first 10 partitions and the first 10 errors that Err joins,
// and counts the others.
func (e *UnknownLagError) Error() string {
	return fmt.Sprintf("%s: lag unknown for %d partitions (%s): %s",
		describeGroup(e.Cluster, e.Group), len(e.Partitions), listItems(e.Partitions), listErrors(e.Err))
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
//   - lag.ErrTooManyQueries: ResourceExhausted;
//   - anything else: Internal.
//
// The message is err's text, which names the cluster and group for errors
// from Decide and from the server's calls to its LagSource. A text longer
// than 4096 bytes is cut and ends with "…" and its full length, because KEDA
// shares the connection that a huge status message would break.
func ErrorStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	if s, ok := status.FromError(err); ok {
		return s
	}
	return status.New(errorCode(err), boundMessage(err.Error()))
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
	case errors.Is(err, lag.ErrTooManyQueries):
		return codes.ResourceExhausted
	}
	return codes.Internal
}
