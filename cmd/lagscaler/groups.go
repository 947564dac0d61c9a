package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/lagscaler/lagscaler/inspect"
	"github.com/lagscaler/lagscaler/lag"
)

// groupStates are the group states Kafka reports, as ListGroups filters
// expect them.
var groupStates = []string{"Stable", "Empty", "Dead", "PreparingRebalance", "CompletingRebalance", "Assigning", "Reconciling"}

// groupsFlags are the flags of "lagscaler groups".
type groupsFlags struct {
	target       kafkaTarget
	effectiveLag effectiveLagFlags
	states       []string
	pattern      string
	output       string
}

// groupSummary is one row of "lagscaler groups".
type groupSummary struct {
	Cluster string `json:"cluster"`
	Group   string `json:"group"`
	State   string `json:"state"`
	Members int    `json:"members"`
	// Topics are the topics the group has commits for.
	Topics       []string `json:"topics"`
	Lag          *int64   `json:"lag"`
	EffectiveLag *int64   `json:"effectiveLag"`
	// Note is no_commits for a group without committed offsets, or "".
	Note string `json:"note"`
}

// groupsReport is the document of "lagscaler groups --output json".
type groupsReport struct {
	SchemaVersion int            `json:"schemaVersion"`
	Groups        []groupSummary `json:"groups"`
}

func newGroupsCommand() *cobra.Command {
	var f groupsFlags
	cmd := &cobra.Command{
		Use:   "groups (--bootstrap-server B | --config FILE)",
		Short: "List consumer groups with their state, members, topics and total lag",
		Long: `groups lists the consumer groups of a cluster with their state, member
count, the topics they have commits for and their total lag and effective
lag (see "lagscaler lag --help"). It lists, describes and reads the lag of
all groups in one batched round of Kafka requests each.

Exit codes: 0 success, 1 Kafka could not be read, 2 invalid flags.`,
		Example: `  lagscaler groups --bootstrap-server localhost:9092
  lagscaler groups --config lagscaler.yaml --cluster main --state Empty --pattern 'flink-.*' -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGroups(cmd.Context(), cmd.OutOrStdout(), &f)
		},
	}
	flags := cmd.Flags()
	f.target.register(flags)
	flags.StringArrayVar(&f.states, "state", nil,
		"list only groups in this state ("+joinChoices(groupStates)+"); repeat for several")
	flags.StringVar(&f.pattern, "pattern", "", "list only groups whose whole ID matches this Go regular expression")
	flags.StringVarP(&f.output, "output", "o", outputTable, "output format: "+joinChoices(outputFormats))
	f.effectiveLag.register(flags)
	return cmd
}

// validate reports every problem at once and puts --state values into the
// spelling Kafka expects.
func (f *groupsFlags) validate() error {
	errs := f.target.validate()
	for i, s := range f.states {
		j := slices.IndexFunc(groupStates, func(known string) bool { return strings.EqualFold(known, s) })
		if j < 0 {
			errs = append(errs, fmt.Errorf("invalid --state %q: use %s", s, joinChoices(groupStates)))
			continue
		}
		f.states[i] = groupStates[j]
	}
	if f.pattern != "" {
		if _, err := compileGroupPattern(f.pattern); err != nil {
			errs = append(errs, fmt.Errorf("invalid --pattern %q: %w", f.pattern, err))
		}
	}
	errs = append(errs, checkChoice("--output", f.output, outputFormats))
	errs = append(errs, f.effectiveLag.validate()...)
	if err := errors.Join(errs...); err != nil {
		return usageError(err)
	}
	return nil
}

func runGroups(ctx context.Context, out io.Writer, f *groupsFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	cl, err := f.target.resolve()
	if err != nil {
		return err
	}
	kafka, err := newKafkaReader(cl, f.target.timeout)
	if err != nil {
		return err
	}
	defer kafka.close()

	summaries, err := listGroups(ctx, kafka, f)
	if err != nil {
		return err
	}
	if f.output == outputTable {
		return writeGroupsTable(out, summaries)
	}
	return writeDocument(out, f.output, groupsReport{SchemaVersion: inspect.SchemaVersion, Groups: summaries})
}

// listGroups lists, describes and measures the groups the flags select,
// sorted by group ID.
func listGroups(ctx context.Context, kafka *kafkaReader, f *groupsFlags) ([]groupSummary, error) {
	ctx, cancel := context.WithTimeout(ctx, kafka.timeout)
	defer cancel()
	admin := kadm.NewClient(kafka.client)

	listed, err := admin.ListGroups(ctx, f.states...)
	if err != nil {
		return nil, kafka.unreachable(fmt.Errorf("listing consumer groups: %w", err))
	}
	names := consumerGroupNames(listed)
	if f.pattern != "" {
		pattern, _ := compileGroupPattern(f.pattern)
		names = matchingGroups(names, pattern)
	}
	summaries := make([]groupSummary, 0, len(names))
	if len(names) == 0 {
		return summaries, nil
	}

	described, err := admin.DescribeGroups(ctx, names...)
	if err != nil {
		return nil, kafka.unreachable(fmt.Errorf("describing consumer groups: %w", err))
	}
	isolation, reset := f.effectiveLag.values()
	policy := lag.Policy{Reset: reset}
	queries := make([]lag.Query, len(names))
	for i, name := range names {
		queries[i] = lag.Query{Cluster: kafka.cluster.Name, Group: name, Isolation: isolation}
	}
	results := kafka.reader.Read(ctx, queries)

	for i, name := range names {
		s := groupSummary{Cluster: kafka.cluster.Name, Group: name, State: listed[name].State, Topics: []string{}}
		if d, ok := described[name]; ok && d.Err == nil {
			s.State, s.Members = d.State, len(d.Members)
		}
		switch r := results[i]; {
		case errors.Is(r.Err, lag.ErrGroupNotFound):
			s.Note = "no_commits"
		case r.Err != nil:
			return nil, kafka.unreachable(r.Err)
		default:
			g := inspect.NewGroupReport(r.Snapshot, policy)
			s.Topics = append(s.Topics, r.Snapshot.Topics()...)
			s.Lag, s.EffectiveLag = g.Lag, g.EffectiveLag
		}
		summaries = append(summaries, s)
	}
	return summaries, nil
}

// consumerGroupNames returns the sorted names of the listed groups that
// consumers use, as kafka-consumer-groups lists them. These are classic
// groups of protocol type "consumer" or without one, such as Flink's groups
// that only commit, and groups of the consumer protocol. Share and Connect
// groups are left out.
func consumerGroupNames(listed kadm.ListedGroups) []string {
	var names []string
	for name, g := range listed {
		typeOK := g.GroupType == "" || g.GroupType == "classic" || g.GroupType == "consumer"
		protocolOK := g.ProtocolType == "" || g.ProtocolType == "consumer"
		if typeOK && protocolOK {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

func writeGroupsTable(w io.Writer, summaries []groupSummary) error {
	var buf bytes.Buffer
	if len(summaries) == 0 {
		buf.WriteString("no consumer groups found\n")
	} else {
		t := newTable(&buf)
		t.row("GROUP", "STATE", "MEMBERS", "TOPICS", "LAG", "EFFECTIVE-LAG", "NOTE")
		for _, s := range summaries {
			topics := strings.Join(s.Topics, ",")
			if topics == "" {
				topics = "-"
			}
			t.row(s.Group, stateText(s.State), strconv.Itoa(s.Members), topics,
				offsetText(s.Lag), offsetText(s.EffectiveLag), strings.ReplaceAll(s.Note, "_", " "))
		}
		t.flush()
	}
	_, err := w.Write(buf.Bytes())
	return err
}
