// Package buildinfo exposes the version and the commit the lagscaler binary
// was built from.
//
// Release builds stamp both at link time:
//
//	go build -ldflags "-X github.com/lagscaler/lagscaler/internal/buildinfo.Version=v0.3.0 \
//	  -X github.com/lagscaler/lagscaler/internal/buildinfo.Commit=$(git rev-parse HEAD)"
//
// A build without those flags fills the empty variables at start-up from the
// information the Go toolchain embeds (runtime/debug.ReadBuildInfo): the main
// module version and the vcs.revision and vcs.modified settings. Nothing here
// fails: a value that no source provides reads "unknown".
package buildinfo

import (
	"runtime/debug"
)

// Version is the release version, such as "v0.3.0", set by the -X linker
// flag. When the flag is absent, init fills it from the main module version
// that the Go toolchain records. That is "(devel)" for most work-tree builds.
var Version string

// Commit is the full VCS revision, set by the -X linker flag. When the flag is
// absent, init fills it from the embedded vcs.revision setting and appends
// "-dirty" when the work tree had uncommitted changes (vcs.modified=true).
var Commit string

// unknown is the value of a field that neither the linker flags nor the
// embedded build information provide.
const unknown = "unknown"

func init() {
	info, ok := debug.ReadBuildInfo()
	Version, Commit = resolve(Version, Commit, info, ok)
}

// resolve returns the stamped version and commit, filling each empty one from
// info. The linker writes -X values before any init runs, so a stamped value
// always wins over the embedded information.
func resolve(version, commit string, info *debug.BuildInfo, ok bool) (string, string) {
	if version == "" && ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	if commit == "" && ok {
		commit = vcsCommit(info.Settings)
	}

	if version == "" {
		version = unknown
	}
	if commit == "" {
		commit = unknown
	}
	return version, commit
}

// vcsCommit returns the vcs.revision setting with "-dirty" appended when
// vcs.modified is true, or "" when the build recorded no revision (as with
// -buildvcs=false or a build outside a repository).
func vcsCommit(settings []debug.BuildSetting) string {
	var revision string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}

	if revision == "" {
		return ""
	}
	if modified {
		return revision + "-dirty"
	}
	return revision
}
