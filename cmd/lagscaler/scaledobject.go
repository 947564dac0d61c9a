package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/lagscaler/lagscaler/scaler"
)

// KEDA's defaults for a ScaledObject without replica counts.
const (
	kedaDefaultMinReplicas = 0
	kedaDefaultMaxReplicas = 100
)

// scaledObject is the part of a KEDA ScaledObject that explain reads.
type scaledObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Spec struct {
		MinReplicaCount *int32             `json:"minReplicaCount"`
		MaxReplicaCount *int32             `json:"maxReplicaCount"`
		Triggers        []scaledObjectTrig `json:"triggers"`
	} `json:"spec"`
}

// scaledObjectTrig is one entry of spec.triggers.
type scaledObjectTrig struct {
	Type     string            `json:"type"`
	Name     string            `json:"name"`
	Metadata map[string]string `json:"metadata"`
}

// trigger is one trigger to explain, with its position in the ScaledObject.
type trigger struct {
	index    int
	kind     string
	metadata map[string]string
}

// documentSeparator splits a multi-document YAML stream.
var documentSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// readScaledObjects decodes every ScaledObject in the YAML file at path.
// Other kinds, such as the Deployment next to it, are skipped.
func readScaledObjects(path string) ([]scaledObject, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading -f: %w", err)
	}
	var out []scaledObject
	for i, doc := range documentSeparator.Split(string(data), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var so scaledObject
		if err := yaml.Unmarshal([]byte(doc), &so); err != nil {
			return nil, fmt.Errorf("decoding document %d of %s: %w", i+1, path, err)
		}
		if so.Kind == "ScaledObject" {
			out = append(out, so)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s contains no document of kind ScaledObject", path)
	}
	return out, nil
}

// lagTriggers returns the triggers of so that lagscaler serves: type
// external or external-push with a consumerGroup key.
func (so *scaledObject) lagTriggers() ([]trigger, error) {
	var out []trigger
	for i, t := range so.Spec.Triggers {
		if t.Type != "external" && t.Type != "external-push" {
			continue
		}
		if _, ok := t.Metadata[scaler.KeyConsumerGroup]; !ok {
			continue
		}
		out = append(out, trigger{index: i, kind: t.Type, metadata: t.Metadata})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("ScaledObject %s has no trigger of type external or external-push with metadata %s",
			so.name(), scaler.KeyConsumerGroup)
	}
	return out, nil
}

// name returns namespace/name, or name alone without a namespace.
func (so *scaledObject) name() string {
	if so.Metadata.Namespace == "" {
		return so.Metadata.Name
	}
	return so.Metadata.Namespace + "/" + so.Metadata.Name
}

// parseMetadataFlags parses --metadata values of the form key=value. The
// value may contain '=' and may be empty, but the key may not.
func parseMetadataFlags(values []string) (map[string]string, error) {
	md := make(map[string]string, len(values))
	var errs []error
	for _, v := range values {
		key, value, ok := strings.Cut(v, "=")
		key = strings.TrimSpace(key)
		switch {
		case !ok || key == "":
			errs = append(errs, fmt.Errorf("invalid --metadata %q: use key=value, such as consumerGroup=orders", v))
		case hasKey(md, key):
			errs = append(errs, fmt.Errorf("invalid --metadata %q: key %s is set twice", v, key))
		default:
			md[key] = value
		}
	}
	return md, errors.Join(errs...)
}

func hasKey(m map[string]string, key string) bool {
	_, ok := m[key]
	return ok
}
