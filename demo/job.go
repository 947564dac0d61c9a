package demo

import (
	"slices"
	"sync"
	"time"
)

// JobConfig describes a simulated Flink job and its TaskManagers.
type JobConfig struct {
	// Partitions is the number of partitions of the source topic.
	Partitions int
	// SlotsPerTaskManager is taskmanager.numberOfTaskSlots.
	SlotsPerTaskManager int
	// SlotRate is the records per second one source subtask reads.
	SlotRate float64
	// CheckpointInterval is the time between two checkpoints while the job
	// runs.
	CheckpointInterval time.Duration
	// RestartDelay is how long the job reads nothing after a restart.
	RestartDelay time.Duration
}

// Job simulates a Flink job in reactive mode that reads one topic with a
// KafkaSource. The source runs one subtask per task slot but at most one per
// partition, and subtask i reads the partitions p with p mod parallelism = i.
// Flink's KafkaSource rotates that assignment by a hash of the topic name,
// which changes which subtask reads a partition but not how many partitions
// each subtask reads.
//
// Every change of the TaskManager count restarts the job, as reactive mode
// does: the job rewinds to its last completed checkpoint and reads nothing
// for RestartDelay. Checkpoints are taken every CheckpointInterval while the
// job runs, and the caller commits their offsets to the consumer group, as
// the KafkaSource does when a checkpoint completes.
//
// NOTE: the job reads nothing from Kafka. It moves a read position per
// partition, bounded by the end offsets the caller passes to Advance. Only
// the committed offsets reach the lag, and fetching the records would spend
// the demo's CPU on copies.
//
// A Job is safe for concurrent use.
type Job struct {
	cfg JobConfig

	mu           sync.Mutex
	taskManagers int
	// positions are the next offsets to read, per partition.
	positions []int64
	// checkpointed are the positions of the last completed checkpoint.
	checkpointed []int64
	// credit is the unread part of a record per subtask, carried to the
	// next Advance so that slow rates still make progress.
	credit []float64
	// runningAt is when the job reads again after its last restart.
	runningAt      time.Time
	advancedAt     time.Time
	nextCheckpoint time.Time
	restarts       int
}

// NewJob returns a job with taskManagers TaskManagers that starts reading at
// offsets, one per partition, at time now. offsets is also its first
// checkpoint.
func NewJob(cfg JobConfig, taskManagers int, offsets []int64, now time.Time) *Job {
	return &Job{
		cfg:            cfg,
		taskManagers:   taskManagers,
		positions:      slices.Clone(offsets),
		checkpointed:   slices.Clone(offsets),
		credit:         make([]float64, cfg.Partitions),
		runningAt:      now,
		advancedAt:     now,
		nextCheckpoint: now.Add(cfg.CheckpointInterval),
	}
}

// TaskManagers returns the current TaskManager count.
func (j *Job) TaskManagers() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.taskManagers
}

// Parallelism returns the number of source subtasks that read: one per task
// slot, at most one per partition.
func (j *Job) Parallelism() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.parallelism()
}

func (j *Job) parallelism() int {
	return min(j.taskManagers*j.cfg.SlotsPerTaskManager, j.cfg.Partitions)
}

// Positions returns the next offset the job reads, per partition.
func (j *Job) Positions() []int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.positions)
}

// Checkpointed returns the offsets of the last completed checkpoint.
func (j *Job) Checkpointed() []int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.checkpointed)
}

// Restarts returns how many times the TaskManager count changed.
func (j *Job) Restarts() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.restarts
}

// Restarting reports whether the job is in its restart delay at now.
func (j *Job) Restarting(now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.taskManagers > 0 && now.Before(j.runningAt)
}

// SetTaskManagers changes the TaskManager count to n at time now and reports
// whether the job restarted. A restart rewinds every partition to the last
// completed checkpoint, reads nothing until now + RestartDelay and takes its
// next checkpoint one CheckpointInterval after that. With n = 0 the job
// stops until TaskManagers return.
func (j *Job) SetTaskManagers(n int, now time.Time) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if n == j.taskManagers {
		return false
	}
	j.taskManagers = n
	j.restarts++
	copy(j.positions, j.checkpointed)
	clear(j.credit)
	j.runningAt = now.Add(j.cfg.RestartDelay)
	j.advancedAt = now
	j.nextCheckpoint = j.runningAt.Add(j.cfg.CheckpointInterval)
	return true
}

// Advance reads records from the time of the previous Advance (or restart)
// to now. Each subtask reads up to SlotRate records per second, shared
// evenly by its partitions that have records left. endOffsets contains each
// partition's log-end offset. A partition never reads past it, and an
// offset below the position, such as -1 for unknown, stops the partition.
func (j *Job) Advance(now time.Time, endOffsets []int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	from := j.advancedAt
	if j.runningAt.After(from) {
		from = j.runningAt
	}
	if now.After(j.advancedAt) {
		j.advancedAt = now
	}
	parallelism := j.parallelism()
	if parallelism == 0 || !now.After(from) {
		return
	}

	seconds := now.Sub(from).Seconds()
	for subtask := range parallelism {
		j.credit[subtask] = j.readSubtask(subtask, parallelism, j.credit[subtask]+j.cfg.SlotRate*seconds, endOffsets)
	}
}

// readSubtask moves the partitions of one subtask forward by up to budget
// records in total and returns the budget left over. A subtask that caught
// up keeps none, because a task slot cannot save idle time for later.
func (j *Job) readSubtask(subtask, parallelism int, budget float64, endOffsets []int64) float64 {
	// Sums of fractions can fall just short of a whole number: ten steps of
	// 0.1 records sum to 0.9999999999999999. The epsilon rounds them up.
	whole := int64(budget + 1e-9)
	allowed := whole
	var behind []int
	for {
		behind = behind[:0]
		for p := subtask; p < j.cfg.Partitions; p += parallelism {
			if p < len(endOffsets) && j.positions[p] < endOffsets[p] {
				behind = append(behind, p)
			}
		}
		if len(behind) == 0 {
			return 0
		}
		if allowed == 0 {
			return max(budget-float64(whole), 0)
		}

		// Each pass gives every partition with records left an equal share.
		// A partition that runs out returns the rest of its share to the
		// next pass.
		share := max(allowed/int64(len(behind)), 1)
		for _, p := range behind {
			n := min(share, endOffsets[p]-j.positions[p], allowed)
			j.positions[p] += n
			allowed -= n
			if allowed == 0 {
				break
			}
		}
	}
}

// Checkpoint completes a checkpoint at now when one is due and returns its
// offsets, one per partition, for the caller to commit. It returns false
// while the job has no TaskManagers, restarts or the next checkpoint is not
// due yet.
func (j *Job) Checkpoint(now time.Time) ([]int64, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.taskManagers == 0 || now.Before(j.runningAt) || now.Before(j.nextCheckpoint) {
		return nil, false
	}
	copy(j.checkpointed, j.positions)
	j.nextCheckpoint = now.Add(j.cfg.CheckpointInterval)
	return slices.Clone(j.checkpointed), true
}
