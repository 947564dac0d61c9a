package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
	"github.com/lagscaler/lagscaler/scaler"
)

// explainFlags are the flags of "lagscaler explain".
type explainFlags struct {
	target          kafkaTarget
	metadata        []string
	file            string
	snapshot        string
	currentReplicas int
	minReplicas     int
	maxReplicas     int

	// minSet and maxSet record whether --min-replicas and --max-replicas
	// were given, so that they override the ScaledObject only then.
	minSet, maxSet bool
}

func newExplainCommand() *cobra.Command {
	var f explainFlags
	cmd := &cobra.Command{
		Use:   "explain (-f SCALEDOBJECT.yaml | --metadata KEY=VALUE...) (--bootstrap-server B | --config FILE | --snapshot FILE)",
		Short: "Explain step by step how lagscaler turns lag into a replica count",
		Long: `explain reads the lag of a trigger's consumer group once and prints each step
of the scaling decision: the lag of every selected partition and how it
counts, partitions left out and why, the replica cap and why, activation,
the metric value and target sent to KEDA, and the replica count the
HorizontalPodAutoscaler picks from them.

The trigger metadata comes from a KEDA ScaledObject (-f; every trigger of
type external or external-push with a consumerGroup key) or from --metadata
flags. Lag is read from Kafka, or with --snapshot from a saved
"lagscaler lag --output json" document, which needs no Kafka.

Exit codes: 0 success, 1 Kafka could not be read or a partition's lag is
unknown, 2 invalid flags or metadata, 3 a group or topic does not exist.`,
		Example: `  lagscaler explain -f scaledobject.yaml --config lagscaler.yaml --current-replicas 3
  lagscaler explain --bootstrap-server localhost:9092 --metadata consumerGroup=orders \
      --metadata topic=orders --metadata lagThreshold=100 --max-replicas 12
  lagscaler lag --bootstrap-server localhost:9092 --group orders -o json > lag.json
  lagscaler explain -f scaledobject.yaml --snapshot lag.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.minSet = cmd.Flags().Changed("min-replicas")
			f.maxSet = cmd.Flags().Changed("max-replicas")
			return runExplain(cmd.Context(), cmd.OutOrStdout(), &f)
		},
	}
	flags := cmd.Flags()
	f.target.register(flags)
	flags.Lookup("cluster").Usage = `name of the --bootstrap-server cluster, for the trigger's cluster key ` +
		`(default "default"); with --config the trigger's metadata picks the cluster`
	flags.StringArrayVar(&f.metadata, "metadata", nil,
		"trigger metadata entry key=value, as in the ScaledObject's trigger; repeat for each key")
	flags.StringVarP(&f.file, "filename", "f", "", "YAML file with a KEDA ScaledObject whose lagscaler triggers to explain")
	flags.StringVar(&f.snapshot, "snapshot", "",
		`JSON file written by "lagscaler lag --output json" to explain instead of reading Kafka`)
	flags.IntVar(&f.currentReplicas, "current-replicas", -1,
		"replicas the scale target runs now, for the HPA's 10% tolerance and scaling from zero; -1 means unknown")
	flags.IntVar(&f.minReplicas, "min-replicas", kedaDefaultMinReplicas,
		"the ScaledObject's minReplicaCount; overrides the value in -f")
	flags.IntVar(&f.maxReplicas, "max-replicas", kedaDefaultMaxReplicas,
		"the ScaledObject's maxReplicaCount; overrides the value in -f")
	return cmd
}

// validate reports every problem with the flags at once.
func (f *explainFlags) validate() error {
	var errs []error
	switch {
	case f.file == "" && len(f.metadata) == 0:
		errs = append(errs, errors.New("no trigger: set -f SCALEDOBJECT.yaml or --metadata key=value"))
	case f.file != "" && len(f.metadata) > 0:
		errs = append(errs, errors.New("-f and --metadata are exclusive: set one of them"))
	}

	if f.snapshot == "" {
		errs = append(errs, f.target.validate()...)
	} else if f.target.bootstrapServer != "" {
		errs = append(errs, errors.New("--snapshot and --bootstrap-server are exclusive: --snapshot needs no Kafka"))
	}
	if f.target.configFile != "" && f.target.cluster != "" {
		errs = append(errs, errors.New("--cluster has no effect with --config: the trigger's cluster metadata key picks the cluster"))
	}
	if _, err := parseMetadataFlags(f.metadata); err != nil {
		errs = append(errs, err)
	}

	if f.currentReplicas < -1 {
		errs = append(errs, fmt.Errorf("invalid --current-replicas %d: use 0 or more", f.currentReplicas))
	}
	if f.minReplicas < 0 {
		errs = append(errs, fmt.Errorf("invalid --min-replicas %d: use 0 or more", f.minReplicas))
	}
	if f.maxReplicas < 1 {
		errs = append(errs, fmt.Errorf("invalid --max-replicas %d: use 1 or more", f.maxReplicas))
	}
	// With -f, a flag given alone is checked against the ScaledObject's
	// other count once the file is read.
	bothFromFlags := f.file == "" || f.minSet && f.maxSet
	if bothFromFlags && f.minReplicas > f.maxReplicas {
		errs = append(errs, fmt.Errorf("invalid --min-replicas %d: use a value no higher than --max-replicas %d",
			f.minReplicas, f.maxReplicas))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// explainTarget is a ScaledObject, or the --metadata flags, to explain.
type explainTarget struct {
	name        string
	triggers    []trigger
	minReplicas int
	maxReplicas int
	// results are the parsed triggers with their decisions, in the order of
	// triggers.
	results []*triggerResult
}

// triggerResult is the decision for one trigger, or why there is none.
type triggerResult struct {
	trigger
	parsed   scaler.Trigger
	snapshot *lag.Snapshot
	decision scaler.Decision
	err      error
}

func runExplain(ctx context.Context, out io.Writer, f *explainFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	targets, err := f.targets()
	if err != nil {
		return usageError(err)
	}

	var report *inspect.Report
	if f.snapshot != "" {
		if report, err = readSnapshotFile(f.snapshot); err != nil {
			return usageError(err)
		}
	}
	// The configuration is loaded once and serves both to check the
	// clusters that trigger metadata names and to read Kafka. --snapshot
	// needs it only with --config.
	var cfg *config.Config
	if report == nil || f.target.configFile != "" {
		if cfg, err = f.target.configuration(); err != nil {
			return err
		}
	}
	clusters, err := f.clusters(cfg, report, targets)
	if err != nil {
		return err
	}
	all, err := parseTriggers(targets, clusters)
	if err != nil {
		return usageError(err)
	}

	now := time.Now()
	if report != nil {
		attachSavedSnapshots(all, report)
	} else if err := f.readSnapshots(ctx, cfg, all); err != nil {
		return err
	}
	for _, r := range all {
		if r.err != nil {
			continue
		}
		decideAt := now
		if report != nil {
			// A saved report is explained as of the time it was taken.
			decideAt = r.snapshot.TakenAt
		}
		r.decision, r.err = scaler.Decide(r.parsed, r.snapshot, decideAt)
	}

	var buf bytes.Buffer
	for i := range targets {
		if i > 0 {
			buf.WriteString("\n")
		}
		writeTargetExplanation(&buf, &targets[i], f.currentReplicas, report == nil)
	}
	if _, err := out.Write(buf.Bytes()); err != nil {
		return err
	}
	return explainExitError(all)
}

// parseTriggers parses the metadata of every trigger of targets, stores the
// results in each target and returns all of them in order. It returns every
// metadata error at once.
func parseTriggers(targets []explainTarget, clusters []scaler.Cluster) ([]*triggerResult, error) {
	var all []*triggerResult
	var errs []error
	for i := range targets {
		t := &targets[i]
		for _, tr := range t.triggers {
			parsed, err := scaler.ParseMetadata(tr.metadata, clusters...)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s, trigger %d: %w", t.name, tr.index, err))
				continue
			}
			r := &triggerResult{trigger: tr, parsed: parsed}
			t.results = append(t.results, r)
			all = append(all, r)
		}
	}
	return all, errors.Join(errs...)
}

// targets returns what to explain: each ScaledObject of -f, or the
// --metadata flags as one target.
func (f *explainFlags) targets() ([]explainTarget, error) {
	if f.file == "" {
		md, err := parseMetadataFlags(f.metadata)
		if err != nil {
			return nil, err
		}
		return []explainTarget{{
			name:        "trigger from --metadata flags",
			triggers:    []trigger{{index: 0, kind: "external", metadata: md}},
			minReplicas: f.minReplicas,
			maxReplicas: f.maxReplicas,
		}}, nil
	}

	objects, err := readScaledObjects(f.file)
	if err != nil {
		return nil, err
	}
	var targets []explainTarget
	for _, so := range objects {
		t, err := f.scaledObjectTarget(so)
		if err != nil {
			return nil, err
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// scaledObjectTarget returns the lagscaler triggers and replica counts of
// so. --min-replicas and --max-replicas, when given, override the counts.
func (f *explainFlags) scaledObjectTarget(so scaledObject) (explainTarget, error) {
	triggers, err := so.lagTriggers()
	if err != nil {
		return explainTarget{}, err
	}
	t := explainTarget{
		name:        "ScaledObject " + so.name(),
		triggers:    triggers,
		minReplicas: kedaDefaultMinReplicas,
		maxReplicas: kedaDefaultMaxReplicas,
	}

	if so.Spec.MinReplicaCount != nil {
		t.minReplicas = int(*so.Spec.MinReplicaCount)
	}
	if so.Spec.MaxReplicaCount != nil {
		t.maxReplicas = int(*so.Spec.MaxReplicaCount)
	}
	if f.minSet {
		t.minReplicas = f.minReplicas
	}
	if f.maxSet {
		t.maxReplicas = f.maxReplicas
	}
	if t.minReplicas > t.maxReplicas {
		return explainTarget{}, fmt.Errorf("%s: minReplicaCount %d is above maxReplicaCount %d",
			t.name, t.minReplicas, t.maxReplicas)
	}
	return t, nil
}

// clusters returns the clusters trigger metadata may name: those of cfg,
// or without cfg those of the saved report. Each cluster of the report
// accepts every bootstrapServers value the triggers name, because nothing
// connects to it.
func (f *explainFlags) clusters(cfg *config.Config, report *inspect.Report, targets []explainTarget) ([]scaler.Cluster, error) {
	if cfg != nil {
		return scalerClusters(cfg), nil
	}

	var servers []string
	for _, t := range targets {
		for _, tr := range t.triggers {
			servers = append(servers, config.SplitList(tr.metadata[scaler.KeyBootstrapServers])...)
		}
	}
	var out []scaler.Cluster
	seen := map[string]bool{}
	for _, g := range report.Groups {
		if !seen[g.Cluster] {
			seen[g.Cluster] = true
			out = append(out, scaler.Cluster{Name: g.Cluster, BootstrapServers: servers})
		}
	}
	if len(out) == 0 {
		return nil, usageError(fmt.Errorf("--snapshot %s contains no group", f.snapshot))
	}
	return out, nil
}

func readSnapshotFile(path string) (*inspect.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading --snapshot: %w", err)
	}
	report, err := inspect.DecodeReport(data)
	if err != nil {
		return nil, fmt.Errorf("invalid --snapshot %s: %w", path, err)
	}
	return report, nil
}

// attachSavedSnapshots gives each trigger the saved report of its cluster
// and group.
func attachSavedSnapshots(results []*triggerResult, report *inspect.Report) {
	for _, r := range results {
		i := slices.IndexFunc(report.Groups, func(g inspect.GroupReport) bool {
			return g.Cluster == r.parsed.Cluster && g.Group == r.parsed.Group
		})
		if i < 0 {
			r.err = &exitError{code: exitNotFound, err: fmt.Errorf("the snapshot file has no report of group %q on cluster %q",
				r.parsed.Group, r.parsed.Cluster)}
			continue
		}
		r.snapshot = report.Groups[i].Snapshot()
	}
}

// readSnapshots reads the lag of every trigger from the clusters of cfg,
// with one batched read per cluster.
func (f *explainFlags) readSnapshots(ctx context.Context, cfg *config.Config, results []*triggerResult) error {
	byCluster := map[string][]*triggerResult{}
	for _, r := range results {
		byCluster[r.parsed.Cluster] = append(byCluster[r.parsed.Cluster], r)
	}
	for _, name := range slices.Sorted(maps.Keys(byCluster)) {
		cl, _ := cfg.Cluster(name)
		if err := f.readCluster(ctx, cl, byCluster[name]); err != nil {
			return err
		}
	}
	return nil
}

func (f *explainFlags) readCluster(ctx context.Context, cl config.Cluster, results []*triggerResult) error {
	kafka, err := newKafkaReader(cl, f.target.timeout)
	if err != nil {
		return err
	}
	defer kafka.close()
	ctx, cancel := context.WithTimeout(ctx, f.target.timeout)
	defer cancel()

	queries := make([]lag.Query, len(results))
	for i, r := range results {
		queries[i] = r.parsed.Query()
	}
	for i, res := range kafka.reader.Read(ctx, queries) {
		var unavailable *lag.UnavailableError
		switch {
		case errors.As(res.Err, &unavailable):
			return kafka.unreachable(res.Err)
		case res.Err != nil:
			results[i].err = res.Err
		default:
			results[i].snapshot = res.Snapshot
		}
	}
	return nil
}

// explainExitError returns the error of the first trigger that could not
// be decided, with the exit code its cause calls for.
func explainExitError(results []*triggerResult) error {
	failed := 0
	var first error
	for _, r := range results {
		if r.err != nil {
			failed++
			if first == nil {
				first = r.err
			}
		}
	}
	if first == nil {
		return nil
	}
	err := fmt.Errorf("%d of %d triggers could not be decided: %w", failed, len(results), first)
	var coded *exitError
	var metadataErr *scaler.MetadataError
	switch {
	case errors.As(first, &coded):
		return &exitError{code: coded.code, err: err}
	case errors.As(first, &metadataErr):
		return usageError(err)
	case errors.Is(first, lag.ErrGroupNotFound), errors.Is(first, lag.ErrTopicNotFound):
		return &exitError{code: exitNotFound, err: err}
	}
	return err
}
