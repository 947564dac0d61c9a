package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Instruction is one Dockerfile instruction with its continuation lines
// joined.
type Instruction struct {
	// Line is the 1-based line on which the instruction starts.
	Line int
	// Command is the upper-case instruction, such as FROM or RUN.
	Command string
	// Args is the rest of the instruction, trimmed.
	Args string
}

// Stage is one build stage: a FROM and the instructions up to the next.
type Stage struct {
	// Image is the FROM image, or the name of an earlier stage.
	Image string
	// Name is the stage name after AS, or "".
	Name         string
	Instructions []Instruction
}

// ParseDockerfile splits a Dockerfile into stages. It joins lines ending in
// a backslash, drops comments and blank lines, and reads FROM's --platform
// flag and AS name. Parser directives count as comments.
func ParseDockerfile(text string) ([]Stage, error) {
	instructions, err := splitInstructions(text)
	if err != nil {
		return nil, err
	}
	var stages []Stage
	for _, in := range instructions {
		if in.Command == "FROM" {
			stage, err := parseFrom(in)
			if err != nil {
				return nil, err
			}
			stages = append(stages, stage)
			continue
		}
		if len(stages) == 0 {
			if in.Command == "ARG" {
				continue // An ARG before the first FROM parameterises FROM lines.
			}
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Command)
		}
		last := &stages[len(stages)-1]
		last.Instructions = append(last.Instructions, in)
	}
	if len(stages) == 0 {
		return nil, errors.New("no FROM instruction")
	}
	return stages, nil
}

func splitInstructions(text string) ([]Instruction, error) {
	var instructions []Instruction
	var current *Instruction
	scanner := bufio.NewScanner(strings.NewReader(text))
	for lineNumber := 1; scanner.Scan(); lineNumber++ {
		line := strings.TrimSpace(scanner.Text())
		// Comment lines inside a continued instruction are dropped too, as
		// Docker does.
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		continued := strings.HasSuffix(line, `\`)
		line = strings.TrimSpace(strings.TrimSuffix(line, `\`))

		if current == nil {
			command, args, _ := strings.Cut(line, " ")
			current = &Instruction{Line: lineNumber, Command: strings.ToUpper(command), Args: strings.TrimSpace(args)}
		} else {
			current.Args = strings.TrimSpace(current.Args + " " + line)
		}
		if !continued {
			instructions = append(instructions, *current)
			current = nil
		}
	}
	if current != nil {
		return nil, fmt.Errorf("line %d: instruction ends with a line continuation", current.Line)
	}
	return instructions, scanner.Err()
}

func parseFrom(in Instruction) (Stage, error) {
	fields := strings.Fields(in.Args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		fields = fields[1:]
	}
	switch {
	case len(fields) == 1:
		return Stage{Image: fields[0]}, nil
	case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
		return Stage{Image: fields[0], Name: fields[2]}, nil
	}
	return Stage{}, fmt.Errorf("line %d: cannot parse FROM %s", in.Line, in.Args)
}

// Find returns the instructions of the stage with the given command.
func (s Stage) Find(command string) []Instruction {
	var found []Instruction
	for _, in := range s.Instructions {
		if in.Command == command {
			found = append(found, in)
		}
	}
	return found
}

// DockerfileCheck is one condition on a parsed Dockerfile.
type DockerfileCheck struct {
	Name  string
	Check func(stages []Stage) error
}

var numericUser = regexp.MustCompile(`^(\d+)(?::(\d+))?$`)

// DockerfileChecks returns the conditions on the lagscaler image build.
func DockerfileChecks() []DockerfileCheck {
	return []DockerfileCheck{
		{"every FROM pinned by tag or digest", checkBaseImagesPinned},
		{"final stage distroless or scratch", func(stages []Stage) error {
			image := final(stages).Image
			if image != "scratch" && !strings.HasPrefix(image, "gcr.io/distroless/") {
				return fmt.Errorf("final stage is FROM %s, not gcr.io/distroless/... or scratch", image)
			}
			return nil
		}},
		{"final stage numeric non-root USER", func(stages []Stage) error {
			users := final(stages).Find("USER")
			if len(users) == 0 {
				return errors.New("final stage sets no USER")
			}
			user := users[len(users)-1].Args
			match := numericUser.FindStringSubmatch(user)
			if match == nil {
				return fmt.Errorf("USER %s is not numeric, so the kubelet cannot verify runAsNonRoot", user)
			}
			if uid, _ := strconv.Atoi(match[1]); uid == 0 {
				return fmt.Errorf("USER %s is root", user)
			}
			return nil
		}},
		{"final stage exec-form ENTRYPOINT", func(stages []Stage) error {
			entrypoints := final(stages).Find("ENTRYPOINT")
			if len(entrypoints) == 0 {
				return errors.New("final stage has no ENTRYPOINT")
			}
			return checkExecForm(entrypoints[len(entrypoints)-1])
		}},
		{"final stage exec-form CMD", func(stages []Stage) error {
			for _, in := range final(stages).Find("CMD") {
				if err := checkExecForm(in); err != nil {
					return err
				}
			}
			return nil
		}},
		{"final stage has no RUN", func(stages []Stage) error {
			if runs := final(stages).Find("RUN"); len(runs) > 0 {
				return fmt.Errorf("line %d: RUN in the final stage, which has no shell", runs[0].Line)
			}
			return nil
		}},
		{"static reproducible build", checkGoBuild},
	}
}

func final(stages []Stage) Stage { return stages[len(stages)-1] }

func checkExecForm(in Instruction) error {
	var argv []string
	if err := json.Unmarshal([]byte(in.Args), &argv); err != nil || len(argv) == 0 {
		return fmt.Errorf("line %d: %s %s is not a JSON array of strings (exec form)", in.Line, in.Command, in.Args)
	}
	return nil
}

// checkBaseImagesPinned requires a tag other than latest, or a sha256 digest,
// on every FROM that does not name an earlier stage.
func checkBaseImagesPinned(stages []Stage) error {
	earlier := map[string]bool{}
	var errs []error
	for _, s := range stages {
		switch {
		case earlier[s.Image], s.Image == "scratch":
		case strings.Contains(s.Image, "$"):
			errs = append(errs, fmt.Errorf("FROM %s depends on a build argument", s.Image))
		default:
			if err := checkImagePinned(s.Image); err != nil {
				errs = append(errs, err)
			}
		}
		if s.Name != "" {
			earlier[s.Name] = true
		}
	}
	return errors.Join(errs...)
}

// checkGoBuild requires the go build of an earlier stage to be static
// (CGO_ENABLED=0), path-independent (-trimpath) and stamped with the
// buildinfo version and commit from build arguments.
func checkGoBuild(stages []Stage) error {
	const pkg = "github.com/lagscaler/lagscaler/internal/buildinfo"
	for _, s := range stages[:len(stages)-1] {
		for _, run := range s.Find("RUN") {
			if !strings.Contains(run.Args, "go build") {
				continue
			}
			var errs []error
			for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X " + pkg + ".Version=${VERSION}", "-X " + pkg + ".Commit=${COMMIT}"} {
				if !strings.Contains(strings.Join(strings.Fields(run.Args), " "), want) {
					errs = append(errs, fmt.Errorf("line %d: go build lacks %s", run.Line, want))
				}
			}
			for _, arg := range []string{"VERSION", "COMMIT"} {
				if !hasArg(s, arg) {
					errs = append(errs, fmt.Errorf("build stage declares no ARG %s", arg))
				}
			}
			return errors.Join(errs...)
		}
	}
	return errors.New("no RUN with go build before the final stage")
}

func hasArg(s Stage, name string) bool {
	for _, in := range s.Find("ARG") {
		if in.Args == name || strings.HasPrefix(in.Args, name+"=") {
			return true
		}
	}
	return false
}
