package demo

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/status"
)

// Row is one poll of a run.
type Row struct {
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// ProduceRate is the records per second the broker acknowledged since
	// the previous row.
	ProduceRate float64
	// Lag is the metric value GetMetrics returned: the total lag, capped at
	// lagThreshold times the useful TaskManager count.
	Lag    float64
	Active bool
	// Err is the error of the poll's calls. Lag and Active are unset then.
	Err error
	// Previous and TaskManagers are the TaskManager counts before and after
	// the poll's scaling decision.
	Previous     int
	TaskManagers int
	// Restarting is set while the job is in its restart delay after the
	// poll.
	Restarting bool
}

// Event returns a short description of what the poll changed, or "".
func (r Row) Event() string {
	switch {
	case r.Err != nil:
		s := status.Convert(r.Err)
		return fmt.Sprintf("scaler error %s: %s", s.Code(), s.Message())
	case r.Previous == 0 && r.TaskManagers > 0:
		return fmt.Sprintf("activate 0→%d, job starts", r.TaskManagers)
	case r.TaskManagers == 0 && r.Previous > 0:
		return fmt.Sprintf("deactivate %d→0, job stops", r.Previous)
	case r.TaskManagers != r.Previous:
		return fmt.Sprintf("scale %d→%d, job restarts", r.Previous, r.TaskManagers)
	case r.Restarting:
		return "job restarting"
	}
	return ""
}

// Result is the outcome of a run.
type Result struct {
	Rows     []Row
	Duration time.Duration
	// MaxTaskManagers is the highest TaskManager count of the run.
	MaxTaskManagers   int
	FinalTaskManagers int
	// Rescales counts the changes of the TaskManager count. Each one
	// restarted the job.
	Rescales int
}

// add appends row and updates the totals.
func (r *Result) add(row Row) {
	r.Rows = append(r.Rows, row)
	r.MaxTaskManagers = max(r.MaxTaskManagers, row.TaskManagers)
	r.FinalTaskManagers = row.TaskManagers
	if row.TaskManagers != row.Previous {
		r.Rescales++
	}
}

// printer writes the run's table and keeps the first write error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// header describes the setup, then prints the table's column names.
func (p *printer) header(cfg Config, kafkaAddr, scalerAddr string) {
	p.printf("Kafka (in-process kfake) on %s, topic %q with %d partitions\n", kafkaAddr, Topic, cfg.Partitions)
	p.printf("producer: %g → %g → %g records/s over %s\n", cfg.BaseRate, cfg.PeakRate, cfg.BaseRate, cfg.Duration)
	p.printf("Flink job (reactive mode): %d task slots per TaskManager, %g records/s per slot, "+
		"checkpoint every %s, restart takes %s\n",
		cfg.SlotsPerTaskManager, cfg.SlotRate, cfg.CheckpointInterval, cfg.RestartDelay)
	p.printf("lagscaler: gRPC on %s, trigger metadata %s\n", scalerAddr, formatMetadata(cfg.TriggerMetadata()))
	p.printf("KEDA + HPA: poll every %s, %d to %d TaskManagers, scale-up window %s, scale-down window %s\n",
		cfg.PollInterval, cfg.MinTaskManagers, cfg.MaxTaskManagers, cfg.ScaleUpWindow, cfg.ScaleDownWindow)
	useful := (cfg.Partitions + cfg.SlotsPerTaskManager - 1) / cfg.SlotsPerTaskManager
	p.printf("lag: the value GetMetrics returns, capped at lagThreshold × %d = %g "+
		"(%d partitions fill %d TaskManagers of %d slots)\n\n",
		useful, cfg.LagThreshold*float64(useful), cfg.Partitions, useful, cfg.SlotsPerTaskManager)
	p.printf("%7s  %7s  %8s  %3s  %-6s  %s\n", "time", "rate/s", "lag", "TMs", "active", "event")
}

func (p *printer) row(r Row) {
	lag, active := "-", "-"
	if r.Err == nil {
		lag = fmt.Sprintf("%.0f", r.Lag)
		active = fmt.Sprint(r.Active)
	}
	p.printf("%6.1fs  %7.0f  %8s  %3d  %-6s  %s\n",
		r.Elapsed.Seconds(), r.ProduceRate, lag, r.TaskManagers, active, r.Event())
}

func (p *printer) summary(r *Result) {
	rescales := "no rescale"
	if r.Rescales > 0 {
		rescales = fmt.Sprintf("%d rescales (each restarted the job from its last checkpoint)", r.Rescales)
	}
	p.printf("\nran %s: TaskManagers max %d, final %d, %s\n",
		r.Duration.Round(100*time.Millisecond), r.MaxTaskManagers, r.FinalTaskManagers, rescales)
}

// formatMetadata returns md as key=value pairs sorted by key.
func formatMetadata(md map[string]string) string {
	pairs := make([]string, 0, len(md))
	for _, key := range slices.Sorted(maps.Keys(md)) {
		pairs = append(pairs, key+"="+md[key])
	}
	return strings.Join(pairs, " ")
}
