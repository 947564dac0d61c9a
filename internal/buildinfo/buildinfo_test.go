package buildinfo

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	withVCS := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/lagscaler/lagscaler", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.modified", Value: "false"},
		},
	}
	dirty := &debug.BuildInfo{
		Main: debug.Module{Version: "v0.2.1-0.20260101000000-0123abcd+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123abcd"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	noVCS := &debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}

	tests := []struct {
		name        string
		version     string
		commit      string
		info        *debug.BuildInfo
		ok          bool
		wantVersion string
		wantCommit  string
	}{
		{"stamped values win", "v1.0.0", "feedface", withVCS, true, "v1.0.0", "feedface"},
		{"empty values from vcs", "", "", withVCS, true, "(devel)", "0123abcd"},
		{"modified tree marks commit dirty", "", "", dirty, true,
			"v0.2.1-0.20260101000000-0123abcd+dirty", "0123abcd-dirty"},
		{"module version without vcs", "", "", noVCS, true, "v0.3.0", "unknown"},
		{"stamped version only", "v1.0.0", "", withVCS, true, "v1.0.0", "0123abcd"},
		{"no build info", "", "", nil, false, "unknown", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotVersion, gotCommit := resolve(tt.version, tt.commit, tt.info, tt.ok)
			if gotVersion != tt.wantVersion {
				t.Errorf("resolve() version = %q, want %q", gotVersion, tt.wantVersion)
			}
			if gotCommit != tt.wantCommit {
				t.Errorf("resolve() commit = %q, want %q", gotCommit, tt.wantCommit)
			}
		})
	}
}

// TestLinkerFlagsStampValues builds testdata/stamp with the -X flags that the
// Dockerfile passes and checks that the stamped values survive init.
func TestLinkerFlagsStampValues(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary; skipped with -short")
	}
	const pkg = "github.com/lagscaler/lagscaler/internal/buildinfo"
	binary := filepath.Join(t.TempDir(), "stamp")
	build := exec.Command("go", "build", "-trimpath",
		"-ldflags", "-X "+pkg+".Version=v9.8.7 -X "+pkg+".Commit=cafef00d",
		"-o", binary, "./testdata/stamp")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./testdata/stamp: %v\n%s", err, out)
	}

	out, err := exec.Command(binary).Output()
	if err != nil {
		t.Fatalf("run stamped binary: %v", err)
	}
	if got, want := strings.TrimSpace(string(out)), "v9.8.7 cafef00d"; got != want {
		t.Errorf("stamped binary printed %q, want %q", got, want)
	}
}
