package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// unknown is how kafka-consumer-groups prints a value it does not have, such
// as the current offset of a partition without a commit.
const unknown = "-"

// partitionKey identifies one row of a lag table.
type partitionKey struct {
	Topic     string
	Partition int32
}

// offsetColumns are the columns that kafka-consumer-groups and lagscaler
// share. Each is a decimal number or unknown.
type offsetColumns struct {
	CurrentOffset string
	LogEndOffset  string
	Lag           string
}

// groupDescription is the parsed output of kafka-consumer-groups --describe
// for one group.
type groupDescription struct {
	Offsets map[partitionKey]offsetColumns
	// ConsumerIDs holds the CONSUMER-ID column, unknown for partitions
	// that no member is assigned.
	ConsumerIDs map[partitionKey]string
}

// describeGroup runs Apache Kafka's kafka-consumer-groups --describe for
// group and parses its table. The tool exits 0 even when it fails, so errors
// are detected from its "Error:" line.
func describeGroup(ctx context.Context, bootstrap, group string) (groupDescription, error) {
	stdout, err := runKafkaScript(ctx, "consumer-groups",
		"--bootstrap-server", bootstrap, "--describe", "--group", group)
	if err == nil && strings.Contains(stdout, "Error:") {
		err = errors.New("the tool printed an error")
	}
	if err != nil {
		return groupDescription{}, fmt.Errorf("kafka-consumer-groups --describe --group %s: %w\n%s",
			group, err, stdout)
	}

	// For a group without members the tool first prints "Consumer group
	// 'g' has no active members.", so the table starts at its header.
	rows, err := parseTable(stdout, "GROUP")
	if err != nil {
		return groupDescription{}, fmt.Errorf("parse kafka-consumer-groups output: %w\n%s",
			err, stdout)
	}
	desc := groupDescription{
		Offsets:     make(map[partitionKey]offsetColumns),
		ConsumerIDs: make(map[partitionKey]string),
	}
	for _, row := range rows {
		key, err := row.key()
		if err != nil {
			return groupDescription{}, err
		}
		desc.Offsets[key] = row.offsets()
		desc.ConsumerIDs[key] = row["CONSUMER-ID"]
	}
	return desc, nil
}

// tableRow maps column headers to the cell text of one row.
type tableRow map[string]string

func (r tableRow) key() (partitionKey, error) {
	p, err := strconv.ParseInt(r["PARTITION"], 10, 32)
	if err != nil {
		return partitionKey{}, fmt.Errorf("row %v: invalid PARTITION: %w", r, err)
	}
	return partitionKey{Topic: r["TOPIC"], Partition: int32(p)}, nil
}

func (r tableRow) offsets() offsetColumns {
	return offsetColumns{
		CurrentOffset: r["CURRENT-OFFSET"],
		LogEndOffset:  r["LOG-END-OFFSET"],
		Lag:           r["LAG"],
	}
}

// parseTable parses the first table in text whose header line starts with
// firstHeader. Cells are cut at the header's column starts, so an empty
// cell is read as "" rather than shifting the row. This needs
// left-aligned columns, which both kafka-consumer-groups and lagscaler
// print. The table ends at a blank line or at the end of text.
func parseTable(text, firstHeader string) ([]tableRow, error) {
	lines := strings.Split(text, "\n")
	start := -1
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), firstHeader+" ") {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no table header starting with %q", firstHeader)
	}

	header := lines[start]
	names, starts := headerColumns(header)
	var rows []tableRow
	for _, line := range lines[start+1:] {
		if strings.TrimSpace(line) == "" {
			break
		}
		row := make(tableRow, len(names))
		for i, name := range names {
			end := len(line)
			if i+1 < len(starts) {
				end = min(starts[i+1], len(line))
			}
			if starts[i] < end {
				row[name] = strings.TrimSpace(line[starts[i]:end])
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// headerColumns returns the names in a header line and the byte offset at
// which each starts.
func headerColumns(header string) (names []string, starts []int) {
	inName := false
	for i, r := range header {
		switch {
		case !unicode.IsSpace(r) && !inName:
			inName = true
			starts = append(starts, i)
		case unicode.IsSpace(r) && inName:
			inName = false
			names = append(names, header[starts[len(starts)-1]:i])
		}
	}
	if inName {
		names = append(names, header[starts[len(starts)-1]:])
	}
	return names, starts
}
