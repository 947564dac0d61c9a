package metrics

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lagscaler/lagscaler/lag"
)

// BenchmarkLagCollector measures one scrape of 200 groups with 50 partitions
// each, every group on one of 20 shared topics, with per-partition series on.
func BenchmarkLagCollector(b *testing.B) {
	const groups, partitions, topics = 200, 50, 20
	var src entries
	for g := range groups {
		topic := fmt.Sprintf("topic-%02d", g%topics)
		rows := make([]lag.Partition, partitions)
		for p := range rows {
			rows[p] = row(topic, int32(p), int64(1000+g), 0, int64(2000+p))
		}
		src = append(src, snapshotEntry("main", fmt.Sprintf("group-%03d", g), nil, t0, rows...))
	}
	c := newLagCollector(src, LagOptions{})

	b.Run("collect", func(b *testing.B) {
		ch := make(chan prometheus.Metric, 1024)
		done := make(chan int)
		go func() {
			n := 0
			for range ch {
				n++
			}
			done <- n
		}()
		b.ReportAllocs()
		for b.Loop() {
			c.Collect(ch)
		}
		close(ch)
		b.ReportMetric(float64(<-done)/float64(b.N), "series/op")
	})

	b.Run("gather", func(b *testing.B) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := reg.Gather(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
