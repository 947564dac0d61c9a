package scaler

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lagscaler/lagscaler/lag"
)

func TestErrorStatus(t *testing.T) {
	unavailable := &lag.UnavailableError{Cluster: "main", Group: "g", Err: errors.New("dial tcp: connection refused")}
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"nil", nil, codes.OK},
		{"metadata", errors.Join(&MetadataError{Key: "lagThreshold", Problem: "invalid"}), codes.InvalidArgument},
		{"wrapped metadata", fmt.Errorf("cluster: %w", &MetadataError{Key: "partitionLimitation"}), codes.InvalidArgument},
		{"kafka unavailable", unavailable, codes.Unavailable},
		{"wrapped kafka unavailable", fmt.Errorf("get: %w", unavailable), codes.Unavailable},
		{"kafka timeout", &lag.UnavailableError{Cluster: "main", Group: "g", Err: context.DeadlineExceeded}, codes.Unavailable},
		{"stale", fmt.Errorf("cluster %q: %w", "main", lag.ErrStale), codes.Unavailable},
		{"unknown partitions", &UnknownLagError{Cluster: "main", Group: "g", Partitions: []string{"t[0]"}, Err: errors.New("x")}, codes.Unavailable},
		{"deadline", fmt.Errorf("waiting: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"canceled", context.Canceled, codes.Canceled},
		{"group not found", fmt.Errorf("x: %w", lag.ErrGroupNotFound), codes.NotFound},
		{"too many queries", fmt.Errorf("x: %w", lag.ErrTooManyQueries), codes.ResourceExhausted},
		{"topic not found", fmt.Errorf("x: %w", lag.ErrTopicNotFound), codes.NotFound},
		{"status kept", status.Error(codes.ResourceExhausted, "slow down"), codes.ResourceExhausted},
		{"other", errors.New("boom"), codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorStatus(tt.err)
			if got.Code() != tt.want {
				t.Errorf("ErrorStatus(%v) code = %v, want %v", tt.err, got.Code(), tt.want)
			}
			if tt.err == nil {
				return
			}
			want := tt.err.Error()
			if s, ok := status.FromError(tt.err); ok {
				want = s.Message()
			}
			if got.Message() != want {
				t.Errorf("ErrorStatus(%v) message = %q, want %q", tt.err, got.Message(), want)
			}
		})
	}
}
