package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Kustomization is the part of kustomize's Kustomization file that the deploy
// tree uses. Decoding is strict, so a kustomization that uses another field
// fails until the field is added here.
type Kustomization struct {
	APIVersion         string           `json:"apiVersion"`
	Kind               string           `json:"kind"`
	Namespace          string           `json:"namespace,omitempty"`
	Resources          []string         `json:"resources,omitempty"`
	ConfigMapGenerator []Generator      `json:"configMapGenerator,omitempty"`
	SecretGenerator    []Generator      `json:"secretGenerator,omitempty"`
	Images             []KustomizeImage `json:"images,omitempty"`
	Patches            []KustomizePatch `json:"patches,omitempty"`
}

// Generator is a configMapGenerator or secretGenerator entry.
type Generator struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace,omitempty"`
	Files     []string          `json:"files,omitempty"`
	Literals  []string          `json:"literals,omitempty"`
	Options   *GeneratorOptions `json:"options,omitempty"`
}

// GeneratorOptions are the labels, annotations and naming of generated
// objects.
type GeneratorOptions struct {
	Labels                map[string]string `json:"labels,omitempty"`
	Annotations           map[string]string `json:"annotations,omitempty"`
	DisableNameSuffixHash bool              `json:"disableNameSuffixHash,omitempty"`
}

// KustomizeImage overrides the name, tag or digest of a container image.
type KustomizeImage struct {
	Name    string `json:"name"`
	NewName string `json:"newName,omitempty"`
	NewTag  string `json:"newTag,omitempty"`
	Digest  string `json:"digest,omitempty"`
}

// KustomizePatch is a strategic-merge or JSON 6902 patch.
type KustomizePatch struct {
	Path   string           `json:"path,omitempty"`
	Patch  string           `json:"patch,omitempty"`
	Target *KustomizeTarget `json:"target,omitempty"`
}

// KustomizeTarget selects the objects a patch applies to.
type KustomizeTarget struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// GeneratorFiles returns the file paths, relative to the kustomization's
// directory, that its generators read. A "key=path" entry yields path.
func (k *Kustomization) GeneratorFiles() []string {
	var files []string
	for _, g := range append(append([]Generator{}, k.ConfigMapGenerator...), k.SecretGenerator...) {
		for _, f := range g.Files {
			if _, path, found := strings.Cut(f, "="); found {
				f = path
			}
			files = append(files, f)
		}
	}
	return files
}

// ReadKustomization decodes a kustomization.yaml strictly.
func ReadKustomization(path string) (*Kustomization, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid YAML: %w", path, err)
	}
	var k Kustomization
	strictErrs, err := kjson.UnmarshalStrict(js, &k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("%s: %w", path, errors.Join(strictErrs...))
	}
	return &k, nil
}

// KubectlPath returns the kubectl binary from $KUBECTL or $PATH, or "" when
// there is none.
func KubectlPath() string {
	if path := os.Getenv("KUBECTL"); path != "" {
		return path
	}
	path, err := exec.LookPath("kubectl")
	if err != nil {
		return ""
	}
	return path
}

// Kustomize renders dir with `kubectl kustomize` and decodes the output with
// DecodeAll. kubectl kustomize reads only local files and needs no cluster.
func Kustomize(ctx context.Context, kubectl, dir string) ([]Document, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, kubectl, "kustomize", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w: %s", dir, err, stderr.Bytes())
	}
	return DecodeAll("kustomize "+dir, out)
}
