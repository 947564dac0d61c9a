package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Document is one YAML document of a manifest file.
type Document struct {
	// Path is the file the document came from, or the kustomize directory
	// whose output it is.
	Path string
	// Index is the 0-based position of the document in its file.
	Index int
	// APIVersion and Kind are the document's type.
	APIVersion string
	Kind       string
	// Object is a pointer to the decoded Go value, such as *appsv1.Deployment,
	// *unstructured.Unstructured for a FlinkDeployment, or *Kustomization.
	Object any
}

// Name returns "apiVersion/kind namespace/name" for messages.
func (d Document) Name() string {
	meta := objectMeta(d.Object)
	return fmt.Sprintf("%s %s %s/%s (%s, document %d)",
		d.APIVersion, d.Kind, meta.namespace, meta.name, d.Path, d.Index)
}

type nameAndNamespace struct{ name, namespace string }

func objectMeta(obj any) nameAndNamespace {
	switch o := obj.(type) {
	case interface {
		GetName() string
		GetNamespace() string
	}:
		return nameAndNamespace{o.GetName(), o.GetNamespace()}
	default:
		return nameAndNamespace{}
	}
}

// newObject returns an empty value for each apiVersion and kind that the
// deploy tree may contain. Anything else is rejected, so a new kind needs a
// deliberate entry here and the checks that go with it.
var newObject = map[string]func() any{
	"v1/Namespace":                  func() any { return &corev1.Namespace{} },
	"v1/ServiceAccount":             func() any { return &corev1.ServiceAccount{} },
	"v1/Service":                    func() any { return &corev1.Service{} },
	"v1/ConfigMap":                  func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                     func() any { return &corev1.Secret{} },
	"v1/ResourceQuota":              func() any { return &corev1.ResourceQuota{} },
	"v1/LimitRange":                 func() any { return &corev1.LimitRange{} },
	"apps/v1/Deployment":            func() any { return &appsv1.Deployment{} },
	"policy/v1/PodDisruptionBudget": func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy": func() any {
		return &networkingv1.NetworkPolicy{}
	},
	"keda.sh/v1alpha1/ScaledObject": func() any { return &kedav1alpha1.ScaledObject{} },
	"keda.sh/v1alpha1/TriggerAuthentication": func() any {
		return &kedav1alpha1.TriggerAuthentication{}
	},
	"monitoring.coreos.com/v1/ServiceMonitor": func() any {
		return &monitoringv1.ServiceMonitor{}
	},
	"monitoring.coreos.com/v1/PrometheusRule": func() any {
		return &monitoringv1.PrometheusRule{}
	},
	"kustomize.config.k8s.io/v1beta1/Kustomization": func() any { return &Kustomization{} },
	// The Flink Kubernetes Operator publishes no Go types.
	"flink.apache.org/v1beta1/FlinkDeployment": func() any { return &unstructured.Unstructured{} },
}

// ErrUnknownKind is returned for a document whose apiVersion and kind have no
// entry in the decoder's table.
var ErrUnknownKind = errors.New("unknown apiVersion and kind")

// ErrNotAnObject is returned for a YAML document without apiVersion or kind.
var ErrNotAnObject = errors.New("document has no apiVersion or kind")

// DecodeStrict decodes one YAML document into the Go type that its apiVersion
// and kind name. It fails on duplicate keys, on fields the type does not have
// (matching names case-sensitively, as the API server does), on
// ErrNotAnObject and on ErrUnknownKind. An empty document returns a nil
// object and no error.
func DecodeStrict(data []byte) (apiVersion, kind string, obj any, err error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return "", "", nil, fmt.Errorf("invalid YAML: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return "", "", nil, nil
	}

	var meta struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &meta); err != nil {
		return "", "", nil, fmt.Errorf("read apiVersion and kind: %w", err)
	}
	if meta.APIVersion == "" || meta.Kind == "" {
		return "", "", nil, ErrNotAnObject
	}
	newFunc, ok := newObject[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		return meta.APIVersion, meta.Kind, nil,
			fmt.Errorf("%w: %s %s", ErrUnknownKind, meta.APIVersion, meta.Kind)
	}

	obj = newFunc()
	if u, ok := obj.(*unstructured.Unstructured); ok {
		err = kjson.UnmarshalCaseSensitivePreserveInts(js, &u.Object)
		return meta.APIVersion, meta.Kind, obj, err
	}
	strictErrs, err := kjson.UnmarshalStrict(js, obj)
	if err != nil {
		return meta.APIVersion, meta.Kind, nil, fmt.Errorf("decode %s: %w", meta.Kind, err)
	}
	if len(strictErrs) > 0 {
		return meta.APIVersion, meta.Kind, nil,
			fmt.Errorf("decode %s: %w", meta.Kind, errors.Join(strictErrs...))
	}
	return meta.APIVersion, meta.Kind, obj, nil
}

// SplitDocuments returns the documents of a multi-document YAML stream.
func SplitDocuments(data []byte) ([][]byte, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, doc)
	}
}

// DecodeAll decodes every document of a YAML stream with DecodeStrict,
// naming path in errors. Empty documents are skipped.
func DecodeAll(path string, data []byte) ([]Document, error) {
	raw, err := SplitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%s: split documents: %w", path, err)
	}
	var docs []Document
	var errs []error
	for i, doc := range raw {
		apiVersion, kind, obj, err := DecodeStrict(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s document %d: %w", path, i, err))
			continue
		}
		if obj == nil {
			continue
		}
		docs = append(docs, Document{Path: path, Index: i, APIVersion: apiVersion, Kind: kind, Object: obj})
	}
	return docs, errors.Join(errs...)
}

// LoadTree decodes every .yaml and .yml file under dir with DecodeAll. It
// skips the data files that a kustomization's configMapGenerator or
// secretGenerator reads. Any other YAML document without apiVersion and kind
// is an error. Paths in the result are relative to dir's parent, such as
// deploy/base/deployment.yaml.
func LoadTree(dir string) ([]Document, error) {
	dataFiles, err := generatorFiles(dir)
	if err != nil {
		return nil, err
	}

	var docs []Document
	var errs []error
	err = filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		ext := filepath.Ext(path)
		if entry.IsDir() || (ext != ".yaml" && ext != ".yml") || dataFiles[path] {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fileDocs, err := DecodeAll(relativeToParent(dir, path), data)
		docs = append(docs, fileDocs...)
		if err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return docs, errors.Join(errs...)
}

func relativeToParent(dir, path string) string {
	rel, err := filepath.Rel(filepath.Dir(dir), path)
	if err != nil {
		return path
	}
	return filepath.ToSlash(rel)
}

// generatorFiles returns the paths of every file that a kustomization.yaml
// under dir names in a generator.
func generatorFiles(dir string) (map[string]bool, error) {
	files := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() || entry.Name() != "kustomization.yaml" {
			return err
		}
		k, err := ReadKustomization(path)
		if err != nil {
			return err
		}
		for _, f := range k.GeneratorFiles() {
			files[filepath.Join(filepath.Dir(path), f)] = true
		}
		return nil
	})
	return files, err
}

// Find returns the documents of the given kind, in input order.
func Find[T any](docs []Document) []T {
	var found []T
	for _, d := range docs {
		if obj, ok := d.Object.(T); ok {
			found = append(found, obj)
		}
	}
	return found
}

// FindDocuments returns the documents whose path starts with prefix.
func FindDocuments(docs []Document, prefix string) []Document {
	return slices.DeleteFunc(slices.Clone(docs), func(d Document) bool {
		return !strings.HasPrefix(d.Path, prefix)
	})
}
