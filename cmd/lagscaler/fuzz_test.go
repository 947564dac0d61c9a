package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestCompileGroupPattern(t *testing.T) {
	tests := []struct {
		pattern string
		name    string
		want    bool
	}{
		{"orders", "orders", true},
		{"orders", "orders-flink", false},
		{"orders", "old-orders", false},
		{"orders-.*", "orders-flink", true},
		{"a|ab", "ab", true},
		{"flink|pay.*", "payments", true},
		{"flink|pay.*", "xflink", false},
	}
	for _, tc := range tests {
		re, err := compileGroupPattern(tc.pattern)
		if err != nil {
			t.Fatalf("compileGroupPattern(%q): %v", tc.pattern, err)
		}
		if got := re.MatchString(tc.name); got != tc.want {
			t.Errorf("compileGroupPattern(%q).MatchString(%q) = %t, want %t", tc.pattern, tc.name, got, tc.want)
		}
	}
	for _, bad := range []string{"(", "a)|(b", "[z-a]", "a**"} {
		if _, err := compileGroupPattern(bad); err == nil {
			t.Errorf("compileGroupPattern(%q) = nil error, want an error", bad)
		}
	}
}

// FuzzCompileGroupPattern checks that a pattern is accepted exactly when Go
// accepts it as a regular expression, and that a match always covers the
// whole group name.
func FuzzCompileGroupPattern(f *testing.F) {
	for _, seed := range [][2]string{
		{"orders", "orders"}, {"orders-.*", "orders-flink"}, {"a)|(b", "a"}, {"a|ab", "ab"},
		{"^x$", "x"}, {`\Qa)\E`, "a)"}, {"(?i)ORDERS", "orders"}, {"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		re, err := compileGroupPattern(pattern)
		_, plainErr := regexp.Compile(pattern)
		if (err == nil) != (plainErr == nil) {
			t.Fatalf("compileGroupPattern(%q) error = %v, regexp.Compile error = %v; want both or neither", pattern, err, plainErr)
		}
		if err != nil || !re.MatchString(name) {
			return
		}
		plain := regexp.MustCompile(pattern)
		if !plain.MatchString(name) {
			t.Errorf("compileGroupPattern(%q) matches %q but the bare pattern does not", pattern, name)
		}
		if loc := re.FindStringIndex(name); loc == nil || loc[0] != 0 || loc[1] != len(name) {
			t.Errorf("compileGroupPattern(%q) match in %q = %v, want the whole name", pattern, name, loc)
		}
	})
}

func TestParseMetadataFlags(t *testing.T) {
	got, err := parseMetadataFlags([]string{"consumerGroup=orders", " topic =a,b", "sasl=", "x==y"})
	if err != nil {
		t.Fatalf("parseMetadataFlags: %v", err)
	}
	want := map[string]string{"consumerGroup": "orders", "topic": "a,b", "sasl": "", "x": "=y"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseMetadataFlags: %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("parseMetadataFlags returned %d keys, want %d: %v", len(got), len(want), got)
	}
	for _, bad := range [][]string{{"noequals"}, {"=value"}, {" =value"}, {"a=1", "a=2"}} {
		if _, err := parseMetadataFlags(bad); err == nil {
			t.Errorf("parseMetadataFlags(%q) = nil error, want an error", bad)
		}
	}
}

// FuzzParseMetadataFlags checks that accepted input maps every key, trimmed,
// to the text after its first '=' and that every problem is reported.
func FuzzParseMetadataFlags(f *testing.F) {
	f.Add("consumerGroup=orders", "topic=a,b")
	f.Add("a=1", "a=2")
	f.Add("=x", "y")
	f.Add(" k = v ", "k2==")
	f.Fuzz(func(t *testing.T, first, second string) {
		values := []string{first, second}
		md, err := parseMetadataFlags(values)

		keys := map[string]bool{}
		valid := true
		for _, v := range values {
			key, _, ok := strings.Cut(v, "=")
			key = strings.TrimSpace(key)
			if !ok || key == "" || keys[key] {
				valid = false
			}
			keys[key] = true
		}
		if valid != (err == nil) {
			t.Fatalf("parseMetadataFlags(%q) error = %v, want an error: %t", values, err, !valid)
		}
		if err != nil {
			return
		}
		if len(md) != len(values) {
			t.Errorf("parseMetadataFlags(%q) has %d keys, want %d", values, len(md), len(values))
		}
		for _, v := range values {
			key, value, _ := strings.Cut(v, "=")
			if got := md[strings.TrimSpace(key)]; got != value {
				t.Errorf("parseMetadataFlags(%q)[%q] = %q, want %q", values, strings.TrimSpace(key), got, value)
			}
		}
	})
}
