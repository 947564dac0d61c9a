package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// SASL mechanism names, as Kafka spells them.
const (
	mechanismPlain       = "PLAIN"
	mechanismSCRAMSHA256 = "SCRAM-SHA-256"
	mechanismSCRAMSHA512 = "SCRAM-SHA-512"
)

// SASL configures SASL authentication to the brokers of one cluster. The zero
// value connects without SASL.
//
// The user name and password are read from files, normally keys of a mounted
// Secret, so that they are never in the configuration file or its ConfigMap.
// SASL without TLS is allowed, but PLAIN then sends the password in clear
// text and no mechanism encrypts the session: enable TLS as well.
type SASL struct {
	// Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, in any letter case.
	// The KEDA Kafka scaler's names plaintext (meaning SASL/PLAIN),
	// scram_sha256 and scram_sha512 are accepted too.
	Mechanism string `json:"mechanism"`
	// UsernameFile is the file that contains the user name.
	UsernameFile string `json:"usernameFile"`
	// PasswordFile is the file that contains the password.
	PasswordFile string `json:"passwordFile"`
}

// configured reports whether any SASL field is set.
func (s SASL) configured() bool {
	return s != SASL{}
}

// mechanismName returns the Kafka name of s.Mechanism, or false when the
// mechanism is not supported.
func (s SASL) mechanismName() (string, bool) {
	switch strings.ToLower(s.Mechanism) {
	case "plain", "plaintext":
		return mechanismPlain, true
	case "scram-sha-256", "scram_sha256":
		return mechanismSCRAMSHA256, true
	case "scram-sha-512", "scram_sha512":
		return mechanismSCRAMSHA512, true
	}
	return "", false
}

// UnmarshalJSON decodes s strictly and rejects inline credentials with a
// message that points to the file fields.
func (s *SASL) UnmarshalJSON(data []byte) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return err
	}
	for _, inline := range []string{"username", "password"} {
		if _, ok := keys[inline]; ok {
			return fmt.Errorf("sasl.%s is not supported: lagscaler reads credentials only from files, "+
				"so put the value in a file (such as a mounted Secret key) and set sasl.%sFile", inline, inline)
		}
	}

	// The alias has the fields of SASL without this method, so decoding it
	// does not recurse.
	type fields SASL
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode((*fields)(s))
}

// validate appends the problems of s, named under the field path at.
func (s SASL) validate(at string, errs []error) []error {
	if !s.configured() {
		return errs
	}
	if s.Mechanism == "" {
		errs = append(errs, fmt.Errorf("%s.mechanism is missing: use %s, %s or %s",
			at, mechanismPlain, mechanismSCRAMSHA256, mechanismSCRAMSHA512))
	} else if _, ok := s.mechanismName(); !ok {
		errs = append(errs, fmt.Errorf("%s.mechanism %q is not supported: use %s, %s or %s",
			at, s.Mechanism, mechanismPlain, mechanismSCRAMSHA256, mechanismSCRAMSHA512))
	}
	if s.UsernameFile == "" {
		errs = append(errs, fmt.Errorf("%s.usernameFile is missing: name a file that contains the user name", at))
	}
	if s.PasswordFile == "" {
		errs = append(errs, fmt.Errorf("%s.passwordFile is missing: name a file that contains the password", at))
	}
	errs = checkFile(at+".usernameFile", s.UsernameFile, errs)
	return checkFile(at+".passwordFile", s.PasswordFile, errs)
}

// mechanism reads the credential files and returns the franz-go mechanism.
// Errors name the files but never contain their content.
func (s SASL) mechanism() (sasl.Mechanism, error) {
	name, ok := s.mechanismName()
	if !ok {
		return nil, fmt.Errorf("sasl.mechanism %q is not supported", s.Mechanism)
	}
	user, err := readSecretFile("sasl.usernameFile", s.UsernameFile)
	if err != nil {
		return nil, err
	}
	pass, err := readSecretFile("sasl.passwordFile", s.PasswordFile)
	if err != nil {
		return nil, err
	}

	switch name {
	case mechanismPlain:
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case mechanismSCRAMSHA256:
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
}

// readSecretFile returns the content of path without one trailing newline,
// which editors and `echo` add but Secrets made with --from-literal lack.
func readSecretFile(field, path string) (string, error) {
	if path == "" {
		return "", fmt.Errorf("%s is missing", field)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError of os.ReadFile names the path, not the content.
		return "", fmt.Errorf("reading %s: %w", field, err)
	}
	value := strings.TrimSuffix(string(data), "\n")
	value = strings.TrimSuffix(value, "\r")
	if value == "" {
		return "", fmt.Errorf("%s %q is empty", field, path)
	}
	return value, nil
}
