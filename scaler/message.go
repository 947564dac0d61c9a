package scaler

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds on error messages. KEDA shares one gRPC connection among all
// ScaledObjects of a scaler address. A status message too large for the
// HTTP/2 trailers breaks that connection for all of them: in an in-process
// test with grpc-go v1.85.0 on both sides, a 20 MB message made the client
// fail with COMPRESSION_ERROR. So no message may grow with the request.
const (
	// maxQuotedBytes is how much of a key or value from a request a message
	// repeats.
	maxQuotedBytes = 100
	// maxListedItems is how many problems, partitions, topics or errors a
	// message lists before it counts the rest.
	maxListedItems = 10
	// maxProblemsMessage is the size in bytes up to which a ParseMetadata
	// error lists problems. The first problem is always listed, and no
	// single problem is longer than about 1.5 KB.
	maxProblemsMessage = 3000
	// maxStatusMessage is the largest status message ErrorStatus returns, in
	// bytes.
	maxStatusMessage = 4096
)

// cut returns the first max bytes of s, shortened to a UTF-8 character
// boundary, and whether anything was cut.
func cut(s string, max int) (string, bool) {
	if len(s) <= max {
		return s, false
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// truncate returns s, or for a string longer than maxQuotedBytes its start
// followed by "…" and its full length, such as "abc… (2048 bytes)".
func truncate(s string) string {
	start, cutOff := cut(s, maxQuotedBytes)
	if !cutOff {
		return s
	}
	return fmt.Sprintf("%s… (%d bytes)", start, len(s))
}

// quote returns s in Go's double-quoted syntax. A string longer than
// maxQuotedBytes is cut and followed by its full length, such as
// "abc…" (2048 bytes). Escapes can make the quoted text up to 4 times longer
// than the bytes it repeats.
func quote(s string) string {
	start, cutOff := cut(s, maxQuotedBytes)
	if !cutOff {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q (%d bytes)", start+"…", len(s))
}

// formatKey returns a metadata key as a message shows it: as is when it is
// short and made of letters, digits, '.', '_' and '-', and quoted otherwise.
func formatKey(key string) string {
	if key == "" || len(key) > maxQuotedBytes {
		return quote(key)
	}
	for _, r := range key {
		plain := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !plain {
			return quote(key)
		}
	}
	return key
}

// listItems joins the first maxListedItems items with ", " and counts the
// rest, as in "a, b and 3 more".
func listItems(items []string) string {
	if len(items) <= maxListedItems {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more",
		strings.Join(items[:maxListedItems], ", "), len(items)-maxListedItems)
}

// listErrors joins the messages of the first maxListedItems errors that err
// joins (see errors.Join) with "; " and counts the rest. Any other error,
// including nil, is formatted as by %v.
func listErrors(err error) string {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return fmt.Sprint(err)
	}
	errs := joined.Unwrap()
	texts := make([]string, 0, min(len(errs), maxListedItems))
	for _, e := range errs[:min(len(errs), maxListedItems)] {
		texts = append(texts, e.Error())
	}
	text := strings.Join(texts, "; ")
	if more := len(errs) - len(texts); more > 0 {
		text += fmt.Sprintf(" and %d more", more)
	}
	return text
}

// describeGroup returns the prefix that error messages of this package use
// for a cluster and consumer group.
func describeGroup(cluster, group string) string {
	return fmt.Sprintf("cluster %q, group %s", cluster, quote(group))
}

// metadataProblems is the error ParseMetadata returns. It keeps the first
// maxListedItems problems, each a *MetadataError, and counts the others.
type metadataProblems struct {
	problems []error
	omitted  int
}

// Error lists one problem per line while the message stays within
// maxProblemsMessage bytes, then the number of problems left out.
func (e *metadataProblems) Error() string {
	var b strings.Builder
	listed := 0
	for _, problem := range e.problems {
		text := problem.Error()
		if listed > 0 && b.Len()+1+len(text) > maxProblemsMessage {
			break
		}
		if listed > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(text)
		listed++
	}
	switch more := len(e.problems) - listed + e.omitted; more {
	case 0:
	case 1:
		b.WriteString("\nand 1 more problem")
	default:
		fmt.Fprintf(&b, "\nand %d more problems", more)
	}
	return b.String()
}

// Unwrap returns the problems kept, for errors.As.
func (e *metadataProblems) Unwrap() []error { return e.problems }

// boundMessage cuts a status message to maxStatusMessage bytes, ending it with
// "…" and the full length.
func boundMessage(msg string) string {
	if len(msg) <= maxStatusMessage {
		return msg
	}
	suffix := fmt.Sprintf("… (%d bytes)", len(msg))
	start, _ := cut(msg, maxStatusMessage-len(suffix))
	return start + suffix
}
