package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lagscaler/lagscaler/scaler"
)

// Names of the demo's topic, consumer group and ScaledObject.
const (
	Topic        = "orders"
	Group        = "orders-flink"
	ScaledObject = "flink-taskmanagers"
	Namespace    = "demo"
	clusterName  = "demo"
)

// MaxPeakRate is the highest produce rate a run accepts, in records per
// second. The in-process Kafka keeps every record in memory.
//
// NOTE: an estimate: 100,000 records/s for the default 75 seconds is about
// 7.5 million records, a few hundred MiB.
const MaxPeakRate = 100_000

// Config configures a demo run. DefaultConfig returns the values the
// lagscaler demo command starts with.
type Config struct {
	// Duration is the length of the run.
	Duration time.Duration
	// BaseRate and PeakRate are the lowest and highest produce rates, in
	// records per second. See Profile for the shape.
	BaseRate float64
	PeakRate float64
	// Partitions is the number of partitions of the topic.
	Partitions int

	// SlotsPerTaskManager is each TaskManager's task slot count, sent as
	// taskSlotsPerTaskManager.
	SlotsPerTaskManager int
	// SlotRate is the records per second one task slot reads.
	SlotRate float64
	// CheckpointInterval is the time between checkpoints, and so between
	// commits.
	CheckpointInterval time.Duration
	// RestartDelay is how long the job reads nothing after a rescale.
	RestartDelay time.Duration
	// Step is how often the simulated job reads and checks for a due
	// checkpoint.
	Step time.Duration

	// PollInterval is how often KEDA and the HPA read the scaler, and how
	// often the lag cache refreshes.
	PollInterval time.Duration
	// LagThreshold is the trigger's lagThreshold: the target lag per
	// TaskManager.
	LagThreshold float64
	// MinTaskManagers and MaxTaskManagers are the ScaledObject's
	// minReplicaCount and maxReplicaCount.
	MinTaskManagers int
	MaxTaskManagers int
	// ScaleUpWindow and ScaleDownWindow are the HPA's stabilization windows.
	ScaleUpWindow   time.Duration
	ScaleDownWindow time.Duration
	// Cooldown is KEDA's cooldownPeriod, used only when MinTaskManagers is 0.
	Cooldown time.Duration

	// Logger receives warnings from the lag cache, the scaler and the
	// simulated job. Nil discards them.
	Logger *slog.Logger
}

// DefaultConfig returns a configuration whose run shows a rise to about six
// TaskManagers and a fall back to one within 75 seconds.
func DefaultConfig() Config {
	return Config{
		Duration:            75 * time.Second,
		BaseRate:            50,
		PeakRate:            1000,
		Partitions:          12,
		SlotsPerTaskManager: 2,
		SlotRate:            100,
		CheckpointInterval:  5 * time.Second,
		RestartDelay:        3 * time.Second,
		Step:                100 * time.Millisecond,
		PollInterval:        time.Second,
		LagThreshold:        1000,
		MinTaskManagers:     1,
		MaxTaskManagers:     10,
		ScaleUpWindow:       0,
		ScaleDownWindow:     15 * time.Second,
		Cooldown:            15 * time.Second,
	}
}

// Validate reports every invalid field at once.
func (c Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Duration > 0, "duration %s must be above 0", c.Duration)
	check(c.BaseRate >= 0, "base rate %g records/s must be 0 or more", c.BaseRate)
	check(c.PeakRate >= c.BaseRate, "peak rate %g records/s must be at least the base rate %g records/s",
		c.PeakRate, c.BaseRate)
	check(c.PeakRate <= MaxPeakRate, "peak rate %g records/s is above the maximum %d records/s",
		c.PeakRate, MaxPeakRate)
	check(c.Partitions >= 1, "partitions %d must be 1 or more", c.Partitions)
	check(c.SlotsPerTaskManager >= 1, "task slots per TaskManager %d must be 1 or more", c.SlotsPerTaskManager)
	check(c.SlotRate > 0, "slot rate %g records/s must be above 0", c.SlotRate)
	check(c.CheckpointInterval > 0, "checkpoint interval %s must be above 0", c.CheckpointInterval)
	check(c.RestartDelay >= 0, "restart delay %s must be 0 or more", c.RestartDelay)
	check(c.Step > 0, "simulation step %s must be above 0", c.Step)
	check(c.PollInterval > 0, "poll interval %s must be above 0", c.PollInterval)
	check(c.LagThreshold >= scaler.MinLagThreshold, "lag threshold %g must be at least %g",
		c.LagThreshold, scaler.MinLagThreshold)
	check(c.MinTaskManagers >= 0, "minimum TaskManagers %d must be 0 or more", c.MinTaskManagers)
	check(c.MaxTaskManagers >= max(c.MinTaskManagers, 1),
		"maximum TaskManagers %d must be at least 1 and at least the minimum %d", c.MaxTaskManagers, c.MinTaskManagers)
	check(c.ScaleUpWindow >= 0, "scale-up window %s must be 0 or more", c.ScaleUpWindow)
	check(c.ScaleDownWindow >= 0, "scale-down window %s must be 0 or more", c.ScaleDownWindow)
	check(c.Cooldown >= 0, "cooldown %s must be 0 or more", c.Cooldown)
	return errors.Join(errs...)
}

// profile returns the produce rate profile of the run.
func (c Config) profile() Profile {
	return Profile{BaseRate: c.BaseRate, PeakRate: c.PeakRate, Duration: c.Duration}
}

// jobConfig returns the configuration of the simulated job.
func (c Config) jobConfig() JobConfig {
	return JobConfig{
		Partitions:          c.Partitions,
		SlotsPerTaskManager: c.SlotsPerTaskManager,
		SlotRate:            c.SlotRate,
		CheckpointInterval:  c.CheckpointInterval,
		RestartDelay:        c.RestartDelay,
	}
}

// TriggerMetadata returns the trigger metadata the demo's KEDA sends, as it
// would appear in a ScaledObject.
func (c Config) TriggerMetadata() map[string]string {
	return map[string]string{
		scaler.KeyConsumerGroup:           Group,
		scaler.KeyTopic:                   Topic,
		scaler.KeyLagThreshold:            formatFloat(c.LagThreshold),
		scaler.KeyTaskSlotsPerTaskManager: fmt.Sprint(c.SlotsPerTaskManager),
	}
}

func formatFloat(f float64) string {
	return fmt.Sprintf("%g", f)
}
