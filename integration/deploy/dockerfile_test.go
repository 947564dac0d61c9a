package deploy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readDockerfile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDockerfile(t *testing.T) {
	stages, err := ParseDockerfile(readDockerfile(t))
	if err != nil {
		t.Fatalf("ParseDockerfile() = %v", err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final stage", len(stages))
	}
	for _, c := range DockerfileChecks() {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Check(stages); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestDockerfileChecksDetectChanges edits the real Dockerfile in memory and
// expects exactly the check for the edited property to fail.
func TestDockerfileChecksDetectChanges(t *testing.T) {
	original := readDockerfile(t)
	tests := []struct {
		check   string
		old     string
		new     string
		finalOK bool
	}{
		{"every FROM pinned by tag or digest", "golang:1.26.8-bookworm", "golang", true},
		{"every FROM pinned by tag or digest", "golang:1.26.8-bookworm", "golang:latest", true},
		{"final stage distroless or scratch", "gcr.io/distroless/static-debian12:nonroot", "debian:bookworm-slim", true},
		{"final stage numeric non-root USER", "USER 65532:65532", "USER nonroot", true},
		{"final stage numeric non-root USER", "USER 65532:65532", "USER 0", true},
		{"final stage exec-form ENTRYPOINT", `ENTRYPOINT ["/lagscaler"]`, "ENTRYPOINT /lagscaler", true},
		{"final stage exec-form CMD", `CMD ["serve"]`, "CMD serve", true},
		{"final stage has no RUN", `CMD ["serve"]`, "CMD [\"serve\"]\nRUN ls /", true},
		{"static reproducible build", "CGO_ENABLED=0", "CGO_ENABLED=1", true},
		{"static reproducible build", "-trimpath", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.check+" "+tt.new, func(t *testing.T) {
			if !strings.Contains(original, tt.old) {
				t.Fatalf("Dockerfile no longer contains %q; update this test", tt.old)
			}
			stages, err := ParseDockerfile(strings.Replace(original, tt.old, tt.new, 1))
			if err != nil {
				t.Fatalf("ParseDockerfile(edited) = %v", err)
			}
			var failed []string
			for _, c := range DockerfileChecks() {
				if c.Check(stages) != nil {
					failed = append(failed, c.Name)
				}
			}
			if !slices.Equal(failed, []string{tt.check}) {
				t.Errorf("after replacing %q with %q, failing checks = %q, want only %q", tt.old, tt.new, failed, tt.check)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	stages, err := ParseDockerfile(`ARG BASE=x
# comment
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
RUN go build \
    # comment inside a continuation
    -o /out/app .
FROM build AS test
FROM scratch
COPY --from=build /out/app /app
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 3 {
		t.Fatalf("ParseDockerfile() = %d stages, want 3", len(stages))
	}
	if s := stages[0]; s.Image != "golang:1.26" || s.Name != "build" {
		t.Errorf("stage 0 = %s AS %s, want golang:1.26 AS build", s.Image, s.Name)
	}
	if got := stages[0].Find("RUN"); len(got) != 1 || got[0].Args != "go build -o /out/app ." || got[0].Line != 4 {
		t.Errorf("stage 0 RUN = %+v, want one joined instruction on line 4", got)
	}
	if err := checkBaseImagesPinned(stages); err != nil {
		t.Errorf("checkBaseImagesPinned() = %v, want nil: FROM build names a stage", err)
	}
}

func TestDockerignoreExcludesRepositoryData(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for _, want := range []string{".git", "deploy/", "integration/"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
}
