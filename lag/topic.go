package lag

import (
	"errors"
	"fmt"
)

// MaxTopicNameLength is the maximum length of a Kafka topic name.
const MaxTopicNameLength = 249

// CheckTopicName returns an error when name is not a legal Kafka topic name:
// 1 to 249 characters from [a-zA-Z0-9._-], other than "." and "..", as
// org.apache.kafka.common.internals.Topic in Kafka's client library checks
// it. The error does not repeat name, so that callers can prefix the flag or
// field it came from.
func CheckTopicName(name string) error {
	switch {
	case name == "":
		return errors.New("a topic name is required")
	case name == "." || name == "..":
		return errors.New(`"." and ".." are not legal Kafka topic names`)
	case len(name) > MaxTopicNameLength:
		return fmt.Errorf("it has %d characters, above Kafka's maximum of %d", len(name), MaxTopicNameLength)
	}
	for _, r := range name {
		legal := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !legal {
			return fmt.Errorf("it contains %q, but Kafka topic names use only ASCII letters, digits, '.', '_' and '-'", r)
		}
	}
	return nil
}
