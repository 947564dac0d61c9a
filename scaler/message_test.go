package scaler

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/lagscaler/lagscaler/lag"
)

// maxTestMessage is the size every error message of a pathological request
// must stay under.
const maxTestMessage = 4 << 10

// unknownKeys returns metadata with a valid consumerGroup and n unknown keys.
func unknownKeys(n int) map[string]string {
	md := map[string]string{KeyConsumerGroup: "g"}
	for i := range n {
		md[fmt.Sprintf("unknownKey%06d", i)] = "1"
	}
	return md
}

var moreProblemsPattern = regexp.MustCompile(`\nand (\d+) more problems$`)

func TestParseMetadataManyUnknownKeys(t *testing.T) {
	const keys = 100_000
	_, err := ParseMetadata(unknownKeys(keys), mainCluster)
	if err == nil {
		t.Fatal("ParseMetadata accepted unknown keys")
	}
	msg := err.Error()
	if len(msg) > maxTestMessage {
		t.Fatalf("ParseMetadata error is %d bytes, want at most %d", len(msg), maxTestMessage)
	}
	if n := strings.Count(msg, "allowed keys are"); n != 1 {
		t.Errorf("error lists the allowed keys %d times, want once:\n%s", n, msg)
	}

	listed := strings.Count(msg, "metadata ")
	if listed < 1 || listed > 10 {
		t.Errorf("error lists %d problems, want 1 to 10:\n%s", listed, msg)
	}
	m := moreProblemsPattern.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("error does not end with the number of other problems:\n%s", msg)
	}
	if more, _ := strconv.Atoi(m[1]); listed+more != keys {
		t.Errorf("error lists %d problems and %d more, want %d in all", listed, more, keys)
	}

	var metadataErr *MetadataError
	if !errors.As(err, &metadataErr) {
		t.Errorf("error %T is not a *MetadataError", err)
	}
}

// Each listed problem repeats a 100-byte key made of escapes, and the message
// still fits.
func TestParseMetadataManyEscapedKeys(t *testing.T) {
	md := map[string]string{KeyConsumerGroup: "g"}
	for i := range 50 {
		md[fmt.Sprintf("%s%02d", strings.Repeat("\xff", 5000), i)] = "1"
	}
	_, err := ParseMetadata(md, mainCluster)
	if err == nil {
		t.Fatal("ParseMetadata accepted unknown keys")
	}
	if msg := err.Error(); len(msg) > maxTestMessage {
		t.Errorf("ParseMetadata error is %d bytes, want at most %d", len(msg), maxTestMessage)
	}
	if !strings.Contains(err.Error(), "more problems") {
		t.Errorf("ParseMetadata error does not count the problems it leaves out:\n%s", err)
	}
}

// Every key or value that a message repeats from the request is cut to 100
// bytes and followed by its full length.
func TestParseMetadataQuotesLongInput(t *testing.T) {
	long := strings.Repeat("x", 5000)
	tests := []struct {
		name   string
		md     map[string]string
		length string
	}{
		{"unknown key", map[string]string{"consumerGroup": "g", long: "1"}, "(5000 bytes)"},
		{"key in wrong case", map[string]string{"consumerGroup": "g", "LAGTHRESHOLD": long}, ""},
		{"number", map[string]string{"consumerGroup": "g", "lagThreshold": long}, "(5000 bytes)"},
		{"topic item", map[string]string{"consumerGroup": "g", "topic": "a," + long + "/"}, "(5003 bytes)"},
		{"topic item with illegal character", map[string]string{"consumerGroup": "g", "topic": "x/" + long[:200]}, "(202 bytes)"},
		{"partition item", map[string]string{"consumerGroup": "g", "topic": "a",
			"partitionLimitation": "1," + long}, "(5000 bytes)"},
		{"consumerGroup", map[string]string{"consumerGroup": long}, "(5000 bytes)"},
		{"credential", map[string]string{"consumerGroup": "g", "password": long}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMetadata(tt.md, mainCluster)
			if err == nil {
				t.Fatal("ParseMetadata accepted invalid metadata")
			}
			msg := err.Error()
			if len(msg) > 1500 {
				t.Errorf("error is %d bytes, want at most 1500:\n%.2000s", len(msg), msg)
			}
			if strings.Contains(msg, long[:101]) {
				t.Errorf("error repeats more than 100 bytes of the input:\n%.2000s", msg)
			}
			if !strings.Contains(msg, tt.length) {
				t.Errorf("error lacks the full length %s:\n%.2000s", tt.length, msg)
			}
		})
	}
}

func TestUnknownLagErrorBounded(t *testing.T) {
	const partitions = 100_000
	e := &UnknownLagError{Cluster: "main", Group: "g"}
	var errs []error
	for i := range partitions {
		e.Partitions = append(e.Partitions, fmt.Sprintf("orders[%d]", i))
		errs = append(errs, fmt.Errorf("orders[%d]: offsets unknown: NOT_LEADER_OR_FOLLOWER", i))
	}
	e.Err = errors.Join(errs...)

	msg := e.Error()
	if len(msg) > maxTestMessage {
		t.Fatalf("UnknownLagError.Error() is %d bytes, want at most %d", len(msg), maxTestMessage)
	}
	for _, want := range []string{"lag unknown for 100000 partitions", "orders[0]", "and 99990 more",
		"NOT_LEADER_OR_FOLLOWER"} {
		if !strings.Contains(msg, want) {
			t.Errorf("UnknownLagError.Error() = %q, want it to contain %q", msg, want)
		}
	}
	if !errors.Is(e, errs[partitions-1]) {
		t.Error("UnknownLagError does not wrap the last partition's error")
	}
}

func TestDecideManyMissingTopics(t *testing.T) {
	tr := trigger(func(t *Trigger) {
		t.Topics = nil
		for i := range 4000 {
			t.Topics = append(t.Topics, fmt.Sprintf("topic-%04d-%s", i, strings.Repeat("t", 200)))
		}
	})
	_, err := Decide(tr, &lag.Snapshot{MissingTopics: tr.Topics}, decideNow)
	if !errors.Is(err, lag.ErrTopicNotFound) {
		t.Fatalf("Decide() error = %.200v, want %v", err, lag.ErrTopicNotFound)
	}
	if msg := err.Error(); len(msg) > maxTestMessage {
		t.Errorf("Decide() error is %d bytes, want at most %d", len(msg), maxTestMessage)
	}
	if !strings.Contains(err.Error(), "and 3990 more") {
		t.Errorf("Decide() error = %q, want it to count the topics it leaves out", err)
	}
}

func TestErrorStatusBoundsMessage(t *testing.T) {
	huge := strings.Repeat("x", 1<<20)
	st := ErrorStatus(fmt.Errorf("cluster %q: %w", huge, lag.ErrStale))
	if got := len(st.Message()); got > maxTestMessage {
		t.Errorf("ErrorStatus message is %d bytes, want at most %d", got, maxTestMessage)
	}
	if want := fmt.Sprintf("(%d bytes)", len(huge)+len(`cluster "": lag snapshot is stale`)); !strings.HasSuffix(st.Message(), want) {
		t.Errorf("ErrorStatus message ends %q, want the full length %s", st.Message()[len(st.Message())-40:], want)
	}
}
