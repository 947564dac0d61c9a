package lag

import (
	"regexp"
	"strings"
	"testing"
)

func TestCheckTopicName(t *testing.T) {
	tests := []struct {
		name string
		// wantErr is a substring of the error, or "" for a legal name.
		wantErr string
	}{
		{"orders", ""},
		{"Orders.EU_2024-v1", ""},
		{"...", ""},
		{"_", ""},
		{strings.Repeat("t", MaxTopicNameLength), ""},
		{"", "required"},
		{".", `"." and ".."`},
		{"..", `"." and ".."`},
		{strings.Repeat("t", MaxTopicNameLength+1), "250 characters"},
		{"orders,payments", "contains ','"},
		{"orders payments", "contains ' '"},
		{"orders/eu", "contains '/'"},
		{"bestellungen-ä", "contains 'ä'"},
	}
	for _, tc := range tests {
		err := CheckTopicName(tc.name)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("CheckTopicName(%q) = %v, want nil", tc.name, err)
		case tc.wantErr != "" && err == nil:
			t.Errorf("CheckTopicName(%q) = nil, want an error containing %q", tc.name, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("CheckTopicName(%q) = %v, want an error containing %q", tc.name, err, tc.wantErr)
		}
	}
}

// legalTopicName is Kafka's topic-name rule written as a regular expression,
// as an independent statement of what CheckTopicName accepts.
var legalTopicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func FuzzCheckTopicName(f *testing.F) {
	for _, seed := range []string{"orders", "", ".", "..", "...", "a,b", "a b", "ä", strings.Repeat("x", 250)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		want := legalTopicName.MatchString(name) && name != "." && name != ".."
		if got := CheckTopicName(name) == nil; got != want {
			t.Errorf("CheckTopicName(%q) accepts = %t, want %t", name, got, want)
		}
	})
}
