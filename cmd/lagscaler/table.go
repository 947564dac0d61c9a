package main

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lagscaler/lagscaler/inspect"
)

// writeGroupTables writes one table per group, separated by blank lines.
// rates is nil outside --watch. Under --watch it maps each group to its
// rates, and the tables get the rate and catch-up columns.
func writeGroupTables(w io.Writer, groups []inspect.GroupReport, rates map[groupKey]*groupRates) error {
	var buf bytes.Buffer
	for i, g := range groups {
		if i > 0 {
			buf.WriteByte('\n')
		}
		var r *groupRates
		if rates != nil {
			r = rates[keyOf(g)]
			if r == nil {
				r = &groupRates{}
			}
		}
		writeGroupTable(&buf, g, r)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// writeGroupTable writes the header line, one row per partition and the
// per-topic and group totals of g.
func writeGroupTable(buf *bytes.Buffer, g inspect.GroupReport, rates *groupRates) {
	fmt.Fprintf(buf, "GROUP %s (cluster %s): state %s, %s\n",
		g.Group, g.Cluster, stateText(g.State), plural(g.Members, "member"))
	if len(g.DeletedTopics) > 0 {
		fmt.Fprintf(buf, "not shown: the group has commits for deleted topics %s\n", strings.Join(g.DeletedTopics, ", "))
	}
	if len(g.Partitions) == 0 {
		buf.WriteString("no partitions to show\n")
		return
	}

	t := newTable(buf)
	header := []string{"TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-START-OFFSET", "LOG-END-OFFSET", "LAG", "EFFECTIVE-LAG"}
	if rates != nil {
		header = append(header, "CONSUME/S", "PRODUCE/S", "CATCH-UP")
	}
	t.row(append(header, "NOTE")...)

	// A partition or topic without a measured rate gets the zero flowRate,
	// which prints as unknown.
	var r groupRates
	if rates != nil {
		r = *rates
	}
	// row writes cells, the effective lag, the rate cells under --watch and
	// the note.
	row := func(cells []string, rate flowRate, effectiveLag *int64, note string) {
		cells = append(cells, offsetText(effectiveLag))
		if rates != nil {
			cells = append(cells, rate.cells(effectiveLag)...)
		}
		t.row(append(cells, note)...)
	}

	for _, p := range g.Partitions {
		row([]string{p.Topic, partitionText(p.Partition), offsetText(p.CurrentOffset),
			offsetText(p.LogStartOffset), offsetText(p.LogEndOffset), offsetText(p.Lag)},
			r.partitions[topicPartition{p.Topic, p.Partition}], p.EffectiveLag, noteText(p))
	}
	for _, topic := range g.Topics {
		row([]string{topic.Topic, "total", "", "", "", offsetText(topic.Lag)},
			r.topics[topic.Topic], topic.EffectiveLag, "")
	}
	row([]string{"TOTAL", "", "", "", "", offsetText(g.Lag)}, r.total, g.EffectiveLag, "")
	t.flush()
}

// table aligns columns with text/tabwriter and drops the padding that
// tabwriter leaves before an empty last cell.
type table struct {
	out *bytes.Buffer
	tw  *tabwriter.Writer
	buf bytes.Buffer
}

func newTable(out *bytes.Buffer) *table {
	t := &table{out: out}
	t.tw = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

// row writes one line. Every cell but the last is tab-terminated, so that
// all rows share the same column blocks even when the last cell is empty.
func (t *table) row(cells ...string) {
	t.tw.Write([]byte(strings.Join(cells, "\t") + "\n"))
}

func (t *table) flush() {
	t.tw.Flush()
	for line := range strings.Lines(t.buf.String()) {
		t.out.WriteString(strings.TrimRight(line, " \n"))
		t.out.WriteByte('\n')
	}
}

func offsetText(v *int64) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatInt(*v, 10)
}

// partitionText returns "-" for the single row of a topic whose metadata
// could not be read.
func partitionText(p int32) string {
	if p < 0 {
		return "-"
	}
	return strconv.Itoa(int(p))
}

// noteText returns the NOTE cell: the partition's error, or its anomaly in
// words.
func noteText(p inspect.PartitionReport) string {
	if p.Error != "" {
		return "offsets unknown: " + p.Error
	}
	return strings.ReplaceAll(p.Note, "_", " ")
}

func stateText(state string) string {
	if state == "" {
		return "unknown"
	}
	return state
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
