package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lagscaler/lagscaler/demo"
)

func newDemoCommand() *cobra.Command {
	cfg := demo.DefaultConfig()
	var logs logFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Show autoscaling of Flink TaskManagers against an in-process Kafka",
		Long: `demo starts an in-process Kafka on 127.0.0.1, a producer whose rate rises
and falls, and a simulated Flink job in reactive mode whose TaskManagers
commit offsets when a checkpoint completes. It serves lagscaler's scaler over
gRPC and plays KEDA and the HorizontalPodAutoscaler against it, printing a
row per poll: produce rate, lag, TaskManagers and what changed. Every
rescale restarts the job from its last checkpoint, as Flink's reactive mode
does. The demo needs no setup and ends after --duration or Ctrl-C.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return usageError(fmt.Errorf("invalid flags: %w", err))
			}
			log, err := logs.logger(os.Stderr)
			if err != nil {
				return err
			}
			cfg.Logger = log
			_, err = demo.Run(cmd.Context(), cfg, cmd.OutOrStdout())
			return err
		},
	}
	registerDemoFlags(cmd.Flags(), &cfg)
	logs.register(cmd.Flags())
	return cmd
}

func registerDemoFlags(flags *pflag.FlagSet, cfg *demo.Config) {
	flags.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the run")
	flags.Float64Var(&cfg.BaseRate, "base-rate", cfg.BaseRate, "produce rate at the start and end, in records/s")
	flags.Float64Var(&cfg.PeakRate, "peak-rate", cfg.PeakRate, "produce rate at the peak, in records/s")
	flags.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topic")
	flags.IntVar(&cfg.SlotsPerTaskManager, "slots", cfg.SlotsPerTaskManager,
		"task slots per TaskManager, sent as taskSlotsPerTaskManager")
	flags.Float64Var(&cfg.SlotRate, "slot-rate", cfg.SlotRate, "records/s one task slot reads")
	flags.DurationVar(&cfg.CheckpointInterval, "checkpoint-interval", cfg.CheckpointInterval,
		"time between checkpoints, which are the only times offsets are committed")
	flags.DurationVar(&cfg.RestartDelay, "restart-delay", cfg.RestartDelay,
		"time the job reads nothing after each rescale")
	flags.DurationVar(&cfg.PollInterval, "poll-interval", cfg.PollInterval,
		"time between two reads of the scaler by KEDA and the HPA")
	flags.Float64Var(&cfg.LagThreshold, "lag-threshold", cfg.LagThreshold,
		"lagThreshold of the trigger: target lag per TaskManager, in records")
	flags.IntVar(&cfg.MinTaskManagers, "min-task-managers", cfg.MinTaskManagers,
		"minReplicaCount; with 0, KEDA scales between 0 and 1 by IsActive")
	flags.IntVar(&cfg.MaxTaskManagers, "max-task-managers", cfg.MaxTaskManagers, "maxReplicaCount")
	flags.DurationVar(&cfg.ScaleUpWindow, "scale-up-window", cfg.ScaleUpWindow,
		"HPA scale-up stabilization window (Kubernetes default 0s)")
	flags.DurationVar(&cfg.ScaleDownWindow, "scale-down-window", cfg.ScaleDownWindow,
		"HPA scale-down stabilization window (Kubernetes default 5m)")
	flags.DurationVar(&cfg.Cooldown, "cooldown", cfg.Cooldown,
		"KEDA cooldownPeriod before scaling to zero, used with --min-task-managers 0 (KEDA default 5m)")
}
