package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/lagscaler/lagscaler/inspect"
)

// Output formats of the inspection commands.
const (
	outputTable = "table"
	outputJSON  = "json"
	outputYAML  = "yaml"
)

var outputFormats = []string{outputTable, outputJSON, outputYAML}

// Partition orders within a topic for --sort.
const (
	sortTopic        = "topic"
	sortLag          = "lag"
	sortEffectiveLag = "effective-lag"
)

var sortOrders = []string{sortTopic, sortLag, sortEffectiveLag}

// checkChoice returns an error naming flag unless value is one of allowed.
func checkChoice(flag, value string, allowed []string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return fmt.Errorf("invalid %s %q: use %s", flag, value, joinChoices(allowed))
}

// joinChoices lists choices as "a, b or c".
func joinChoices(choices []string) string {
	switch len(choices) {
	case 0:
		return ""
	case 1:
		return choices[0]
	}
	out := choices[0]
	for _, c := range choices[1 : len(choices)-1] {
		out += ", " + c
	}
	return out + " or " + choices[len(choices)-1]
}

// sortPartitions orders the partitions of g by topic, then within a topic
// by order. sortTopic orders by partition number. sortLag and
// sortEffectiveLag order from highest to lowest value, with unknown values
// last and ties by partition number.
func sortPartitions(g *inspect.GroupReport, order string) {
	value := func(p inspect.PartitionReport) *int64 { return nil }
	switch order {
	case sortLag:
		value = func(p inspect.PartitionReport) *int64 { return p.Lag }
	case sortEffectiveLag:
		value = func(p inspect.PartitionReport) *int64 { return p.EffectiveLag }
	}
	slices.SortStableFunc(g.Partitions, func(a, b inspect.PartitionReport) int {
		if c := cmp.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		if c := compareDescending(value(a), value(b)); c != 0 {
			return c
		}
		return cmp.Compare(a.Partition, b.Partition)
	})
}

// compareDescending orders higher values first and nil last.
func compareDescending(a, b *int64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*b, *a)
}

// writeDocument writes v as indented JSON or as YAML, followed by a newline.
func writeDocument(w io.Writer, format string, v any) error {
	var data []byte
	var err error
	switch format {
	case outputYAML:
		data, err = yaml.Marshal(v)
	default:
		data, err = json.MarshalIndent(v, "", "  ")
		data = append(data, '\n')
	}
	if err != nil {
		return fmt.Errorf("encoding %s output: %w", format, err)
	}
	_, err = w.Write(data)
	return err
}

// newReport wraps groups into the versioned document.
func newReport(groups []inspect.GroupReport) inspect.Report {
	if groups == nil {
		groups = []inspect.GroupReport{}
	}
	return inspect.Report{SchemaVersion: inspect.SchemaVersion, Groups: groups}
}
