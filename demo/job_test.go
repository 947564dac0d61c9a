package demo

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testJobConfig() JobConfig {
	return JobConfig{
		Partitions:          12,
		SlotsPerTaskManager: 2,
		SlotRate:            100,
		CheckpointInterval:  5 * time.Second,
		RestartDelay:        3 * time.Second,
	}
}

// filled returns n offsets, all equal to offset.
func filled(n int, offset int64) []int64 {
	offsets := make([]int64, n)
	for i := range offsets {
		offsets[i] = offset
	}
	return offsets
}

func sum(offsets []int64) int64 {
	var total int64
	for _, o := range offsets {
		total += o
	}
	return total
}

func TestJobCapacityCappedAtPartitions(t *testing.T) {
	tests := []struct {
		taskManagers    int
		wantParallelism int
	}{
		{taskManagers: 0, wantParallelism: 0},
		{taskManagers: 1, wantParallelism: 2},
		{taskManagers: 3, wantParallelism: 6},
		{taskManagers: 5, wantParallelism: 10},
		{taskManagers: 6, wantParallelism: 12},
		// Slots beyond one per partition have nothing to read.
		{taskManagers: 7, wantParallelism: 12},
		{taskManagers: 20, wantParallelism: 12},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d task managers", tt.taskManagers), func(t *testing.T) {
			cfg := testJobConfig()
			job := NewJob(cfg, tt.taskManagers, filled(cfg.Partitions, 0), epoch)
			if got := job.Parallelism(); got != tt.wantParallelism {
				t.Errorf("Parallelism() = %d, want %d", got, tt.wantParallelism)
			}

			// Every partition has far more records than one second reads.
			job.Advance(epoch.Add(time.Second), filled(cfg.Partitions, 1_000_000))
			want := int64(tt.wantParallelism) * 100
			if got := sum(job.Positions()); got != want {
				t.Errorf("records read in 1s = %d, want %d (%d subtasks at 100 records/s)",
					got, want, tt.wantParallelism)
			}
		})
	}
}

func TestJobSubtaskSharesItsPartitions(t *testing.T) {
	cfg := testJobConfig()
	// 5 TaskManagers: 10 subtasks for 12 partitions, so subtasks 0 and 1
	// read two partitions each (0 and 10, 1 and 11) at half the rate.
	job := NewJob(cfg, 5, filled(cfg.Partitions, 0), epoch)
	job.Advance(epoch.Add(time.Second), filled(cfg.Partitions, 1_000_000))

	want := []int64{50, 50, 100, 100, 100, 100, 100, 100, 100, 100, 50, 50}
	if diff := cmp.Diff(want, job.Positions()); diff != "" {
		t.Errorf("Positions() after 1s (-want +got):\n%s", diff)
	}
}

func TestJobSharedRateFlowsToPartitionsWithRecords(t *testing.T) {
	cfg := testJobConfig()
	cfg.Partitions = 3
	cfg.SlotsPerTaskManager = 1
	job := NewJob(cfg, 1, filled(3, 0), epoch)

	// One subtask reads 100 records/s from three partitions. The first has
	// only 10 records, so the other two share the rest.
	job.Advance(epoch.Add(time.Second), []int64{10, 1000, 1000})
	want := []int64{10, 45, 45}
	if diff := cmp.Diff(want, job.Positions()); diff != "" {
		t.Errorf("Positions() (-want +got):\n%s", diff)
	}
}

func TestJobStopsAtEndOffsets(t *testing.T) {
	cfg := testJobConfig()
	job := NewJob(cfg, 6, filled(cfg.Partitions, 0), epoch)
	ends := []int64{0, 5, 50, 500, -1, 7, 0, 5, 50, 500, -1, 7}

	job.Advance(epoch.Add(10*time.Second), ends)
	want := []int64{0, 5, 50, 500, 0, 7, 0, 5, 50, 500, 0, 7}
	if diff := cmp.Diff(want, job.Positions()); diff != "" {
		t.Errorf("Positions() (-want +got):\n%s", diff)
	}

	// A caught-up slot keeps no credit for later: new records are read at
	// the slot rate only.
	job.Advance(epoch.Add(10*time.Second+100*time.Millisecond), filled(cfg.Partitions, 1_000_000))
	if got, want := sum(job.Positions())-sum(want), int64(12*10); got != want {
		t.Errorf("records read in 100ms after catching up = %d, want %d", got, want)
	}
}

func TestJobSlowRateCarriesCredit(t *testing.T) {
	cfg := testJobConfig()
	cfg.Partitions = 1
	cfg.SlotsPerTaskManager = 1
	cfg.SlotRate = 1
	job := NewJob(cfg, 1, []int64{0}, epoch)

	// Each 100ms step reads a tenth of a record, so ten steps read one.
	for i := 1; i <= 10; i++ {
		job.Advance(epoch.Add(time.Duration(i)*100*time.Millisecond), []int64{100})
	}
	if got := job.Positions()[0]; got != 1 {
		t.Errorf("position after ten 100ms steps at 1 record/s = %d, want 1", got)
	}
}

func TestJobRestartRewindsToCheckpoint(t *testing.T) {
	cfg := testJobConfig()
	ends := filled(cfg.Partitions, 1_000_000)
	job := NewJob(cfg, 1, filled(cfg.Partitions, 0), epoch)

	job.Advance(epoch.Add(5*time.Second), ends)
	checkpoint, ok := job.Checkpoint(epoch.Add(5 * time.Second))
	if !ok {
		t.Fatal("Checkpoint(start+5s) = false, want a checkpoint one interval after the start")
	}
	if got, want := sum(checkpoint), int64(1000); got != want {
		t.Errorf("records in the checkpoint = %d, want %d", got, want)
	}

	// Two more seconds of reading are lost by the restart.
	job.Advance(epoch.Add(7*time.Second), ends)
	restartAt := epoch.Add(7 * time.Second)
	if !job.SetTaskManagers(3, restartAt) {
		t.Fatal("SetTaskManagers(3) = false, want a restart")
	}
	if diff := cmp.Diff(checkpoint, job.Positions()); diff != "" {
		t.Errorf("Positions() after the restart (-checkpoint +got):\n%s", diff)
	}
	if got := job.Restarts(); got != 1 {
		t.Errorf("Restarts() = %d, want 1", got)
	}

	// Nothing is read and no checkpoint completes during the restart delay.
	job.Advance(restartAt.Add(3*time.Second), ends)
	if diff := cmp.Diff(checkpoint, job.Positions()); diff != "" {
		t.Errorf("Positions() at the end of the restart delay (-checkpoint +got):\n%s", diff)
	}
	if !job.Restarting(restartAt.Add(2 * time.Second)) {
		t.Error("Restarting(restart+2s) = false, want true")
	}
	if _, ok := job.Checkpoint(restartAt.Add(2 * time.Second)); ok {
		t.Error("Checkpoint(restart+2s) = true, want none during the restart")
	}

	// Then 3 TaskManagers read at 600 records/s.
	job.Advance(restartAt.Add(4*time.Second), ends)
	if got, want := sum(job.Positions())-sum(checkpoint), int64(600); got != want {
		t.Errorf("records read in the first second after the restart = %d, want %d", got, want)
	}

	// The next checkpoint is due one interval after the job runs again.
	if _, ok := job.Checkpoint(restartAt.Add(7 * time.Second)); ok {
		t.Error("Checkpoint(restart+7s) = true, want none before restart delay + interval")
	}
	if _, ok := job.Checkpoint(restartAt.Add(8 * time.Second)); !ok {
		t.Error("Checkpoint(restart+8s) = false, want one at restart delay + interval")
	}
}

func TestJobRestartBeforeFirstCheckpoint(t *testing.T) {
	cfg := testJobConfig()
	start := []int64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}
	job := NewJob(cfg, 2, start, epoch)
	job.Advance(epoch.Add(2*time.Second), filled(cfg.Partitions, 1_000_000))

	job.SetTaskManagers(1, epoch.Add(2*time.Second))
	if diff := cmp.Diff(start, job.Positions()); diff != "" {
		t.Errorf("Positions() (-start +got):\n%s", diff)
	}
	if diff := cmp.Diff(start, job.Checkpointed()); diff != "" {
		t.Errorf("Checkpointed() (-start +got):\n%s", diff)
	}
}

func TestJobSameCountDoesNotRestart(t *testing.T) {
	cfg := testJobConfig()
	job := NewJob(cfg, 2, filled(cfg.Partitions, 0), epoch)
	job.Advance(epoch.Add(time.Second), filled(cfg.Partitions, 1_000_000))
	before := job.Positions()

	if job.SetTaskManagers(2, epoch.Add(time.Second)) {
		t.Error("SetTaskManagers(2) with 2 TaskManagers = true, want false")
	}
	if diff := cmp.Diff(before, job.Positions()); diff != "" {
		t.Errorf("Positions() (-before +got):\n%s", diff)
	}
	if job.Restarting(epoch.Add(time.Second)) {
		t.Error("Restarting() = true, want false")
	}
}

func TestJobWithoutTaskManagersIsIdle(t *testing.T) {
	cfg := testJobConfig()
	job := NewJob(cfg, 0, filled(cfg.Partitions, 0), epoch)
	job.Advance(epoch.Add(time.Minute), filled(cfg.Partitions, 1_000_000))

	if got := sum(job.Positions()); got != 0 {
		t.Errorf("records read without TaskManagers = %d, want 0", got)
	}
	if _, ok := job.Checkpoint(epoch.Add(time.Minute)); ok {
		t.Error("Checkpoint() without TaskManagers = true, want false")
	}
	if job.Restarting(epoch.Add(time.Minute)) {
		t.Error("Restarting() without TaskManagers = true, want false")
	}
}

func TestJobCheckpointInterval(t *testing.T) {
	cfg := testJobConfig()
	job := NewJob(cfg, 1, filled(cfg.Partitions, 0), epoch)

	var due []time.Duration
	for at := time.Duration(0); at <= 16*time.Second; at += time.Second {
		if _, ok := job.Checkpoint(epoch.Add(at)); ok {
			due = append(due, at)
		}
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 15 * time.Second}
	if !slices.Equal(due, want) {
		t.Errorf("checkpoints at %v, want %v", due, want)
	}
}
