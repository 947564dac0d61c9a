package demo

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Profile is the produce rate over a run. It is BaseRate for the first 8% of
// Duration and rises linearly to PeakRate until 30%. It stays at PeakRate
// until 42%, falls linearly to BaseRate until 55% and stays at BaseRate to
// the end. The last 45% leave time for the lag to drain and the TaskManagers
// to scale in.
type Profile struct {
	// BaseRate and PeakRate are in records per second.
	BaseRate float64
	PeakRate float64
	Duration time.Duration
}

// profileShape lists the corners of the profile as (fraction of the
// duration, fraction of the way from BaseRate to PeakRate).
var profileShape = [...][2]float64{{0, 0}, {0.08, 0}, {0.30, 1}, {0.42, 1}, {0.55, 0}, {1, 0}}

// Rate returns the produce rate in records per second at elapsed.
func (p Profile) Rate(elapsed time.Duration) float64 {
	if p.Duration <= 0 {
		return p.BaseRate
	}
	x := min(max(elapsed.Seconds()/p.Duration.Seconds(), 0), 1)
	for i := 1; i < len(profileShape); i++ {
		x0, y0 := profileShape[i-1][0], profileShape[i-1][1]
		x1, y1 := profileShape[i][0], profileShape[i][1]
		if x <= x1 {
			y := y0 + (y1-y0)*(x-x0)/(x1-x0)
			return p.BaseRate + (p.PeakRate-p.BaseRate)*y
		}
	}
	return p.BaseRate
}

// produceTick is how often the producer sends the records that fell due.
const produceTick = 20 * time.Millisecond

// producer writes records to every partition of a topic, in turn, at the
// rate of a Profile.
type producer struct {
	client     *kgo.Client
	topic      string
	partitions int
	profile    Profile
	log        *slog.Logger

	// acked counts records the broker acknowledged.
	acked  atomic.Int64
	failed atomic.Int64
}

// run produces from start until ctx ends. Records still in flight then are
// left to the client, which fails them when it is closed.
func (p *producer) run(ctx context.Context, start time.Time) {
	ticker := time.NewTicker(produceTick)
	defer ticker.Stop()

	// due is the number of records the profile scheduled so far: the
	// integral of the rate, summed per tick.
	var due float64
	var sent int64
	last := start
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			due += p.profile.Rate(now.Sub(start)) * now.Sub(last).Seconds()
			last = now
			for ; sent < int64(due); sent++ {
				p.produce(ctx, sent)
			}
		}
	}
}

func (p *producer) produce(ctx context.Context, seq int64) {
	record := &kgo.Record{
		Topic:     p.topic,
		Partition: int32(seq % int64(p.partitions)),
		Value:     fmt.Appendf(nil, `{"order":%d}`, seq),
	}
	p.client.Produce(ctx, record, func(_ *kgo.Record, err error) {
		if err == nil {
			p.acked.Add(1)
			return
		}
		// Only the first failure is logged, and not when ctx has ended,
		// because then the failures are the shutdown.
		if p.failed.Add(1) == 1 && ctx.Err() == nil {
			p.log.Warn("producing a record failed", "topic", p.topic, "err", err)
		}
	})
}
