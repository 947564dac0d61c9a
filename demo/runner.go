package demo

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// jobRunner drives a Job against Kafka: every step it reads the topic's end
// offsets, advances the job and commits each completed checkpoint to the
// consumer group.
type jobRunner struct {
	job        *Job
	admin      *kadm.Client
	topic      string
	group      string
	partitions int
	step       time.Duration
	log        *slog.Logger

	// failing is set after a failure was logged, so that a run of failures
	// logs one warning.
	failing bool
}

// run advances the job every step until ctx ends.
func (r *jobRunner) run(ctx context.Context) {
	ticker := time.NewTicker(r.step)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			r.advance(ctx, now)
		}
	}
}

func (r *jobRunner) advance(ctx context.Context, now time.Time) {
	endOffsets, err := r.endOffsets(ctx)
	if err != nil {
		r.report(ctx, "listing end offsets failed", err)
		return
	}
	r.job.Advance(now, endOffsets)

	offsets, ok := r.job.Checkpoint(now)
	if !ok {
		return
	}
	// Like Flink's KafkaSource, a failed commit does not fail the job: the
	// next checkpoint commits newer offsets.
	if err := r.commit(ctx, offsets); err != nil {
		r.report(ctx, "committing checkpoint offsets failed", err)
		return
	}
	if r.failing {
		r.failing = false
		r.log.Info("committing checkpoint offsets succeeded again", "group", r.group, "topic", r.topic)
	}
}

// report logs the first of a run of failures as a warning and the rest at
// debug level. Failures after ctx ended are the shutdown and are not logged.
func (r *jobRunner) report(ctx context.Context, msg string, err error) {
	if ctx.Err() != nil {
		return
	}
	level := slog.LevelWarn
	if r.failing {
		level = slog.LevelDebug
	}
	r.failing = true
	r.log.Log(ctx, level, msg, "group", r.group, "topic", r.topic, "err", err)
}

// endOffsets returns the log-end offset of each partition, -1 where it is
// unknown.
func (r *jobRunner) endOffsets(ctx context.Context) ([]int64, error) {
	listed, err := r.admin.ListEndOffsets(ctx, r.topic)
	if err != nil {
		return nil, err
	}
	ends := make([]int64, r.partitions)
	for p := range ends {
		ends[p] = -1
		if o, ok := listed.Lookup(r.topic, int32(p)); ok && o.Err == nil {
			ends[p] = o.Offset
		}
	}
	return ends, nil
}

// commit commits one offset per partition to the group without joining it,
// as Flink's KafkaSource does, so the group stays Empty.
func (r *jobRunner) commit(ctx context.Context, offsets []int64) error {
	commits := make(kadm.Offsets)
	for p, at := range offsets {
		commits.Add(kadm.Offset{Topic: r.topic, Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	if err := r.admin.CommitAllOffsets(ctx, r.group, commits); err != nil {
		return fmt.Errorf("group %q, topic %q: %w", r.group, r.topic, err)
	}
	return nil
}
