package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/internal/config"
	"github.com/lagscaler/lagscaler/lag"
	inspectv1 "github.com/lagscaler/lagscaler/proto/inspect/v1"
)

// Isolation levels and reset policies as the flags spell them.
var (
	isolationLevels = []string{lag.ReadUncommitted.String(), lag.ReadCommitted.String()}
	resetPolicies   = []string{lag.Latest.String(), lag.Earliest.String()}
)

// effectiveLagFlags are --isolation and --offset-reset-policy, which set how
// EFFECTIVE-LAG is counted.
type effectiveLagFlags struct {
	isolation   string
	resetPolicy string
}

func (f *effectiveLagFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.isolation, "isolation", lag.ReadUncommitted.String(),
		"end offset for EFFECTIVE-LAG: read_uncommitted (high watermark) or read_committed (last stable offset)")
	flags.StringVar(&f.resetPolicy, "offset-reset-policy", lag.Latest.String(),
		"the consumers' auto.offset.reset, which sets the EFFECTIVE-LAG of partitions without a usable commit: latest or earliest")
}

// validate returns one error per invalid flag value.
func (f *effectiveLagFlags) validate() []error {
	var errs []error
	if err := checkChoice("--isolation", f.isolation, isolationLevels); err != nil {
		errs = append(errs, err)
	}
	if err := checkChoice("--offset-reset-policy", f.resetPolicy, resetPolicies); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// values returns the isolation level and reset policy the flags name. The
// flags must be valid.
func (f *effectiveLagFlags) values() (lag.Isolation, lag.ResetPolicy) {
	isolation := lag.ReadUncommitted
	if f.isolation == lag.ReadCommitted.String() {
		isolation = lag.ReadCommitted
	}
	policy := lag.Latest
	if f.resetPolicy == lag.Earliest.String() {
		policy = lag.Earliest
	}
	return isolation, policy
}

// lagFlags are the flags of "lagscaler lag".
type lagFlags struct {
	target       kafkaTarget
	server       serverFlags
	effectiveLag effectiveLagFlags
	groups       []string
	groupPattern string
	topics       []string
	output       string
	sort         string
	watch        time.Duration
}

func newLagCommand() *cobra.Command {
	var f lagFlags
	cmd := &cobra.Command{
		Use:   "lag (--bootstrap-server B | --config FILE | --server ADDR) (--group G... | --group-pattern REGEX)",
		Short: "Print the lag of consumer groups per partition",
		Long: `lag prints, per partition, the committed offset, the log-start and log-end
offsets, the lag as kafka-consumer-groups prints it, and the effective lag
that lagscaler scales on, with per-topic and per-group totals.

LAG is log-end minus committed offset, unclamped, and "-" without a commit.
EFFECTIVE-LAG counts the records the group still has to read: 0 for a commit
ahead of the log end or with only transaction markers left, and for a
partition without a commit 1 under --offset-reset-policy latest or the whole
log under earliest.

It reads all groups in one batched round of Kafka requests, or with --server
from the cache of a running "lagscaler serve". Exit codes: 0 success,
1 Kafka or the server could not be read, 2 invalid flags, 3 a group or topic
does not exist.`,
		Example: `  lagscaler lag --bootstrap-server localhost:9092 --group orders-flink
  lagscaler lag --config lagscaler.yaml --cluster main --group-pattern 'orders-.*' --output json
  lagscaler lag --bootstrap-server localhost:9092 --group orders-flink --watch 5s --sort effective-lag`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLag(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f)
		},
	}
	flags := cmd.Flags()
	f.target.register(flags)
	f.server.register(flags)
	flags.Lookup("timeout").Usage = "time limit for reading lag from Kafka or --server, per refresh with --watch (for example 10s)"
	flags.Lookup("cluster").Usage = `cluster name: with --config or --server, the configured cluster to read ` +
		`(with --config optional when it has one cluster, with --server default "default"); ` +
		`with --bootstrap-server, the name shown in output (default "default")`
	flags.StringArrayVar(&f.groups, "group", nil, "consumer group ID to report; repeat for several groups")
	flags.StringVar(&f.groupPattern, "group-pattern", "",
		"report every consumer group whose whole ID matches this Go regular expression")
	flags.StringArrayVar(&f.topics, "topic", nil,
		"report only this topic; repeat for several (default: every topic the group has commits for)")
	flags.StringVarP(&f.output, "output", "o", outputTable, "output format: "+joinChoices(outputFormats))
	flags.StringVar(&f.sort, "sort", sortTopic,
		"partition order within each topic: topic (partition number), lag or effective-lag (highest first)")
	flags.DurationVar(&f.watch, "watch", 0,
		"refresh at this interval (at least 1s) and add consume and produce rates in offsets/s "+
			"and an estimated catch-up time, until Ctrl-C (default: print once)")
	f.effectiveLag.register(flags)
	return cmd
}

// validate reports every problem with the flags at once.
func (f *lagFlags) validate() error {
	var errs []error
	if f.server.address != "" {
		if f.target.bootstrapServer != "" || f.target.configFile != "" {
			errs = append(errs, errors.New("--server reads from a running scaler and excludes --bootstrap-server and --config"))
		}
		if err := f.target.checkTimeout(); err != nil {
			errs = append(errs, err)
		}
	} else {
		errs = append(errs, f.target.validate()...)
	}
	errs = append(errs, f.server.validate()...)
	errs = append(errs, checkGroupSelection(f.groups, f.groupPattern)...)
	for _, topic := range f.topics {
		errs = append(errs, checkTopicFlag(topic))
	}
	errs = append(errs,
		checkChoice("--output", f.output, outputFormats),
		checkChoice("--sort", f.sort, sortOrders),
	)
	errs = append(errs, f.effectiveLag.validate()...)
	if f.watch != 0 && f.watch < minWatchInterval {
		errs = append(errs, fmt.Errorf("invalid --watch %s: use an interval of at least %s, such as 5s", f.watch, minWatchInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

// checkTopicFlag returns the problem with one --topic value, or nil.
func checkTopicFlag(topic string) error {
	err := lag.CheckTopicName(topic)
	switch {
	case err == nil:
		return nil
	case strings.Contains(topic, ","):
		return fmt.Errorf("invalid --topic %q: %w; repeat --topic for each topic", topic, err)
	}
	return fmt.Errorf("invalid --topic %q: %w", topic, err)
}

// checkGroupSelection returns the problems with --group and --group-pattern.
func checkGroupSelection(groups []string, pattern string) []error {
	var errs []error
	switch {
	case len(groups) == 0 && pattern == "":
		errs = append(errs, errors.New("no consumer group: set --group G (repeatable) or --group-pattern REGEX"))
	case len(groups) > 0 && pattern != "":
		errs = append(errs, errors.New("--group and --group-pattern are exclusive: set one of them"))
	}
	if slices.Contains(groups, "") {
		errs = append(errs, errors.New(`invalid --group "": a group ID is required`))
	}
	if pattern != "" {
		if _, err := compileGroupPattern(pattern); err != nil {
			errs = append(errs, fmt.Errorf("invalid --group-pattern %q: %w", pattern, err))
		}
	}
	return errs
}

func runLag(ctx context.Context, out, errOut io.Writer, f *lagFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	src, err := f.source()
	if err != nil {
		return err
	}
	defer src.close()

	render := func(w io.Writer, groups []inspect.GroupReport, rates map[groupKey]*groupRates) error {
		for i := range groups {
			sortPartitions(&groups[i], f.sort)
		}
		if f.output == outputTable {
			return writeGroupTables(w, groups, rates)
		}
		return writeDocument(w, f.output, newReport(groups))
	}

	if f.watch > 0 {
		w := &watcher{out: out, errOut: errOut, format: f.output, interval: f.watch, terminal: isTerminal(out), render: render}
		return w.run(ctx, src)
	}
	res, err := src.fetch(ctx)
	if err != nil {
		return err
	}
	if err := render(out, res.groups, nil); err != nil {
		return err
	}
	res.report(errOut, false)
	return res.err()
}

// source returns the Kafka or server source the flags select. The flags
// must be valid.
func (f *lagFlags) source() (lagSource, error) {
	req := lagRequest{
		groups:      uniqueInOrder(f.groups),
		patternText: f.groupPattern,
		topics:      f.topics,
	}
	if f.groupPattern != "" {
		req.pattern, _ = compileGroupPattern(f.groupPattern)
	}
	req.isolation, req.policy = f.effectiveLag.values()

	if f.server.address != "" {
		conn, err := f.server.dial()
		if err != nil {
			return nil, err
		}
		cluster := f.target.cluster
		if cluster == "" {
			cluster = config.DefaultClusterName
		}
		return &serverLagSource{
			lagRequest: req, conn: conn, client: inspectv1.NewInspectClient(conn),
			address: f.server.address, cluster: cluster, timeout: f.target.timeout,
		}, nil
	}

	cl, err := f.target.resolve()
	if err != nil {
		return nil, err
	}
	kafka, err := newKafkaReader(cl, f.target.timeout)
	if err != nil {
		return nil, err
	}
	return &kafkaLagSource{lagRequest: req, kafka: kafka}, nil
}

// uniqueInOrder returns values without repeats, in the order of their first
// appearance.
func uniqueInOrder(values []string) []string {
	var out []string
	for _, v := range values {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
