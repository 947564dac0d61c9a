package scaler

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/lagscaler/lagscaler/proto/externalscaler"
)

// errShuttingDown ends streams on Shutdown. Unavailable makes KEDA reconnect,
// possibly to another replica of the scaler.
var errShuttingDown = status.Error(codes.Unavailable, "lagscaler is shutting down")

// StreamIsActive sends the trigger's activity as soon as it is known and then
// whenever it changes, re-evaluating every Options.StreamInterval. A failed
// evaluation is logged and sends nothing, because KEDA acts on true at once
// and guessing could wake or keep a workload for no reason. The stream ends
// with the call's context or with Shutdown.
func (s *Server) StreamIsActive(
	ref *pb.ScaledObjectRef, stream grpc.ServerStreamingServer[pb.IsActiveResponse],
) error {
	t, err := s.parse(ref)
	if err != nil {
		return s.fail(stream.Context(), "StreamIsActive", ref, t.Group, err)
	}
	if s.life.Err() != nil {
		return errShuttingDown
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()

	ticker := time.NewTicker(s.interval)
	defer ticker.Stop()

	sent, last := false, false
	for {
		d, err := s.decide(ctx, ref, t)
		switch {
		case err != nil && ctx.Err() == nil:
			s.logFailure(ctx, "stream evaluation failed", "StreamIsActive", ref, t.Group, err)
		case err == nil && (!sent || d.Active != last):
			if err := stream.Send(&pb.IsActiveResponse{Result: d.Active}); err != nil {
				return err
			}
			s.log.DebugContext(ctx, "stream is active", refAttrs(ref, t.Group, "active", d.Active)...)
			sent, last = true, d.Active
		}

		select {
		case <-ctx.Done():
			return s.streamEnd(stream.Context())
		case <-ticker.C:
		}
	}
}

// StreamMetricSpec sends the trigger's metric spec once and keeps the stream
// open until the call's context ends or Shutdown is called. The spec depends
// only on the metadata, which cannot change during a call, so nothing else is
// ever sent.
func (s *Server) StreamMetricSpec(
	ref *pb.ScaledObjectRef, stream grpc.ServerStreamingServer[pb.GetMetricSpecResponse],
) error {
	t, err := s.parse(ref)
	if err != nil {
		return s.fail(stream.Context(), "StreamMetricSpec", ref, t.Group, err)
	}
	if s.life.Err() != nil {
		return errShuttingDown
	}
	ctx, cancel := s.streamContext(stream.Context())
	defer cancel()

	if err := stream.Send(metricSpec(t)); err != nil {
		return err
	}
	<-ctx.Done()
	return s.streamEnd(stream.Context())
}

// streamContext returns a context that ends with parent or with Shutdown.
func (s *Server) streamContext(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	stop := context.AfterFunc(s.life, cancel)
	return ctx, func() {
		stop()
		cancel()
	}
}

// streamEnd returns the status that ends a stream whose context is done.
func (s *Server) streamEnd(callCtx context.Context) error {
	if err := callCtx.Err(); err != nil {
		return ErrorStatus(err).Err()
	}
	return errShuttingDown
}
