package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// fastConfig returns DefaultConfig with every time about 12 times shorter
// and the lag threshold shorter by the same factor, since the lag of a
// checkpoint interval shrinks with it. Rates stay.
func fastConfig(duration time.Duration) Config {
	cfg := DefaultConfig()
	cfg.Duration = duration
	cfg.CheckpointInterval = 400 * time.Millisecond
	cfg.RestartDelay = 240 * time.Millisecond
	cfg.Step = 20 * time.Millisecond
	cfg.PollInterval = 100 * time.Millisecond
	cfg.LagThreshold = 80
	cfg.ScaleDownWindow = 1200 * time.Millisecond
	cfg.Cooldown = 1200 * time.Millisecond
	return cfg
}

func TestRunScalesOutAndBackIn(t *testing.T) {
	t.Parallel()
	cfg := fastConfig(6 * time.Second)
	var out bytes.Buffer
	result, err := Run(t.Context(), cfg, &out)
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}
	t.Logf("output:\n%s", out.String())

	if len(result.Rows) < 20 {
		t.Fatalf("Run() returned %d rows, want one per poll of a 6s run at 100ms", len(result.Rows))
	}
	for _, row := range result.Rows {
		if row.Err != nil {
			t.Errorf("poll at %s failed: %v", row.Elapsed, row.Err)
		}
	}

	// The count rises above the minimum while the producer is near its peak.
	scaledAtPeak := false
	for _, row := range result.Rows {
		if row.TaskManagers > cfg.MinTaskManagers && row.ProduceRate >= cfg.PeakRate/2 {
			scaledAtPeak = true
		}
	}
	if !scaledAtPeak {
		t.Errorf("no poll had more than %d TaskManagers while producing at least %g records/s",
			cfg.MinTaskManagers, cfg.PeakRate/2)
	}
	if result.MaxTaskManagers <= cfg.MinTaskManagers {
		t.Errorf("MaxTaskManagers = %d, want above the minimum %d", result.MaxTaskManagers, cfg.MinTaskManagers)
	}
	if result.Rescales < 2 {
		t.Errorf("Rescales = %d, want at least one scale-out and one scale-in", result.Rescales)
	}

	// Once the rate is back at its base and the lag drained, the count is
	// back at the minimum.
	if result.FinalTaskManagers != cfg.MinTaskManagers {
		t.Errorf("FinalTaskManagers = %d, want the minimum %d", result.FinalTaskManagers, cfg.MinTaskManagers)
	}
	last := result.Rows[len(result.Rows)-1]
	if last.Lag > cfg.LagThreshold {
		t.Errorf("lag at the end = %g, want at most lagThreshold %g", last.Lag, cfg.LagThreshold)
	}

	if !strings.Contains(out.String(), "job restarts") {
		t.Errorf("output has no rescale event:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "TaskManagers max ") {
		t.Errorf("output has no summary line:\n%s", out.String())
	}
}

func TestRunScalesFromAndToZero(t *testing.T) {
	t.Parallel()
	cfg := fastConfig(7 * time.Second)
	cfg.MinTaskManagers = 0
	cfg.BaseRate = 0
	result, err := Run(t.Context(), cfg, &bytes.Buffer{})
	if err != nil {
		t.Fatalf("Run() error = %v", err)
	}

	first := result.Rows[0]
	if first.TaskManagers != 0 || first.Active {
		t.Errorf("first poll: %d TaskManagers, active %t, want 0 and inactive before any record",
			first.TaskManagers, first.Active)
	}
	activated := false
	for _, row := range result.Rows {
		if row.Previous == 0 && row.TaskManagers == 1 {
			activated = true
			if !row.Active {
				t.Errorf("poll at %s activated with IsActive false", row.Elapsed)
			}
		}
	}
	if !activated {
		t.Error("no poll scaled from 0 to 1")
	}
	if result.MaxTaskManagers <= 1 {
		t.Errorf("MaxTaskManagers = %d, want above 1", result.MaxTaskManagers)
	}
	if result.FinalTaskManagers != 0 {
		t.Errorf("FinalTaskManagers = %d, want 0 after the lag drained and the cooldown passed",
			result.FinalTaskManagers)
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	cfg := fastConfig(time.Hour)

	start := time.Now()
	var out bytes.Buffer
	result, err := Run(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Run() error = %v, want nil when the context ends", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("Run() took %s after its context ended at 1s", took)
	}
	if result.Duration >= time.Hour {
		t.Errorf("Result.Duration = %s, want the time until the context ended", result.Duration)
	}
	if !strings.Contains(out.String(), "TaskManagers max ") {
		t.Errorf("output has no summary line:\n%s", out.String())
	}
}

func TestRunRejectsInvalidConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Partitions = 0
	if _, err := Run(t.Context(), cfg, &bytes.Buffer{}); err == nil {
		t.Error("Run() with 0 partitions error = nil, want an error")
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v, want nil", err)
	}

	cfg := DefaultConfig()
	cfg.Duration = 0
	cfg.PeakRate = 10
	cfg.SlotsPerTaskManager = 0
	cfg.LagThreshold = 0
	cfg.MinTaskManagers = 5
	cfg.MaxTaskManagers = 2
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate() = nil, want an error")
	}
	// Every problem is reported at once.
	for _, want := range []string{"duration", "peak rate", "task slots", "lag threshold", "maximum TaskManagers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, want it to name %q", err, want)
		}
	}
}

func TestRowEvent(t *testing.T) {
	tests := []struct {
		row  Row
		want string
	}{
		{row: Row{Previous: 2, TaskManagers: 2}, want: ""},
		{row: Row{Previous: 2, TaskManagers: 4}, want: "scale 2→4, job restarts"},
		{row: Row{Previous: 4, TaskManagers: 1}, want: "scale 4→1, job restarts"},
		{row: Row{Previous: 0, TaskManagers: 1}, want: "activate 0→1, job starts"},
		{row: Row{Previous: 1, TaskManagers: 0}, want: "deactivate 1→0, job stops"},
		{row: Row{Previous: 3, TaskManagers: 3, Restarting: true}, want: "job restarting"},
	}
	for _, tt := range tests {
		if got := tt.row.Event(); got != tt.want {
			t.Errorf("Row{Previous: %d, TaskManagers: %d}.Event() = %q, want %q",
				tt.row.Previous, tt.row.TaskManagers, got, tt.want)
		}
	}
}
