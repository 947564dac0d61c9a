package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kjson "sigs.k8s.io/json"
)

// Fields of the FlinkDeployment spec (flink.apache.org/v1beta1), from the
// custom resource reference of the Flink Kubernetes Operator 1.10. A field
// outside these lists is most likely a typo, which the API server would
// prune without an error.
var (
	flinkSpecFields = []string{
		"job", "restartNonce", "flinkConfiguration", "image", "imagePullPolicy",
		"serviceAccount", "flinkVersion", "ingress", "podTemplate", "jobManager",
		"taskManager", "logConfiguration", "mode",
	}
	flinkComponentFields = []string{"resource", "replicas", "podTemplate"}
	flinkResourceFields  = []string{"cpu", "memory", "ephemeralStorage"}
	flinkJobFields       = []string{
		"jarURI", "parallelism", "entryClass", "args", "state",
		"savepointTriggerNonce", "initialSavepointPath", "initialStateReference",
		"checkpointTriggerNonce", "upgradeMode", "allowNonRestoredState",
		"savepointRedeployNonce",
	}
	flinkVersionPattern = regexp.MustCompile(`^v\d+_\d+$`)
)

// CheckFlinkDeployment checks the fields of a FlinkDeployment that the
// examples and KEDA rely on. It rejects unknown field names and checks the
// types of image, flinkVersion, mode and flinkConfiguration. Replicas must be
// integers, because KEDA's /scale subresource writes
// spec.taskManager.replicas. It also checks the resource sizes, the job's
// upgrade mode and state, and that pod templates decode strictly into
// corev1.PodTemplateSpec.
func CheckFlinkDeployment(u *unstructured.Unstructured) []error {
	spec, ok := u.Object["spec"].(map[string]any)
	if !ok {
		return []error{errors.New("spec is missing or not an object")}
	}
	errs := checkFieldNames("spec", spec, flinkSpecFields)

	for _, field := range []string{"image", "serviceAccount"} {
		if s, ok := spec[field].(string); !ok || s == "" {
			errs = append(errs, fmt.Errorf("spec.%s is not a non-empty string", field))
		}
	}
	if v, _ := spec["flinkVersion"].(string); !flinkVersionPattern.MatchString(v) {
		errs = append(errs, fmt.Errorf("spec.flinkVersion %q is not of the form v1_20", v))
	}
	if mode, _ := spec["mode"].(string); mode != "native" && mode != "standalone" {
		errs = append(errs, fmt.Errorf("spec.mode %q is neither native nor standalone", mode))
	}
	if _, err := FlinkConfiguration(u); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, checkPodTemplate("spec.podTemplate", spec["podTemplate"])...)

	for _, component := range []string{"jobManager", "taskManager"} {
		errs = append(errs, checkFlinkComponent(spec, component)...)
	}
	errs = append(errs, checkFlinkJob(spec)...)
	return errs
}

func checkFlinkComponent(spec map[string]any, component string) []error {
	path := "spec." + component
	c, ok := spec[component].(map[string]any)
	if !ok {
		return []error{fmt.Errorf("%s is missing or not an object", path)}
	}
	errs := checkFieldNames(path, c, flinkComponentFields)
	if replicas, ok := c["replicas"].(int64); !ok || replicas < 1 {
		errs = append(errs, fmt.Errorf("%s.replicas is not an integer of at least 1", path))
	}
	if _, _, err := FlinkResources(spec, component); err != nil {
		errs = append(errs, err)
	}
	if r, ok := c["resource"].(map[string]any); ok {
		errs = append(errs, checkFieldNames(path+".resource", r, flinkResourceFields)...)
	}
	return append(errs, checkPodTemplate(path+".podTemplate", c["podTemplate"])...)
}

func checkFlinkJob(spec map[string]any) []error {
	job, ok := spec["job"].(map[string]any)
	if !ok {
		return []error{errors.New("spec.job is missing: an application cluster needs one")}
	}
	errs := checkFieldNames("spec.job", job, flinkJobFields)
	if mode, _ := job["upgradeMode"].(string); !slices.Contains([]string{"stateless", "savepoint", "last-state"}, mode) {
		errs = append(errs, fmt.Errorf("spec.job.upgradeMode %q is not stateless, savepoint or last-state", mode))
	}
	if state, _ := job["state"].(string); state != "running" && state != "suspended" {
		errs = append(errs, fmt.Errorf("spec.job.state %q is neither running nor suspended", state))
	}
	return errs
}

func checkFieldNames(path string, object map[string]any, allowed []string) []error {
	var errs []error
	for key := range object {
		if !slices.Contains(allowed, key) {
			errs = append(errs, fmt.Errorf("%s has unknown field %q", path, key))
		}
	}
	return errs
}

// checkPodTemplate decodes a pod template strictly, as the operator's CRD
// schema would validate it. A missing template is fine.
func checkPodTemplate(path string, template any) []error {
	if template == nil {
		return nil
	}
	_, err := DecodePodTemplate(template)
	if err != nil {
		return []error{fmt.Errorf("%s: %w", path, err)}
	}
	return nil
}

// DecodePodTemplate decodes an unstructured pod template strictly into
// corev1.PodTemplateSpec.
func DecodePodTemplate(template any) (*corev1.PodTemplateSpec, error) {
	js, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var spec corev1.PodTemplateSpec
	strictErrs, err := kjson.UnmarshalStrict(js, &spec)
	if err != nil {
		return nil, err
	}
	return &spec, errors.Join(strictErrs...)
}

// FlinkConfiguration returns spec.flinkConfiguration, whose values must all
// be strings.
func FlinkConfiguration(u *unstructured.Unstructured) (map[string]string, error) {
	raw, found, err := unstructured.NestedMap(u.Object, "spec", "flinkConfiguration")
	if err != nil || !found {
		return nil, fmt.Errorf("spec.flinkConfiguration is missing or not an object: %v", err)
	}
	conf := make(map[string]string, len(raw))
	var errs []error
	for key, value := range raw {
		s, ok := value.(string)
		if !ok {
			errs = append(errs, fmt.Errorf("spec.flinkConfiguration[%q] is %T, not a string", key, value))
		}
		conf[key] = s
	}
	return conf, errors.Join(errs...)
}

// FlinkResources returns the CPU and memory of a component ("jobManager" or
// "taskManager") of a FlinkDeployment spec. Memory uses Flink's units, in
// which "m" and "g" are mebibytes and gibibytes.
func FlinkResources(spec map[string]any, component string) (cpu, memory resource.Quantity, err error) {
	path := "spec." + component + ".resource"
	r, ok := unstructuredPath(spec, component, "resource").(map[string]any)
	if !ok {
		return cpu, memory, fmt.Errorf("%s is missing", path)
	}

	var cores float64
	switch v := r["cpu"].(type) {
	case int64:
		cores = float64(v)
	case float64:
		cores = v
	default:
		return cpu, memory, fmt.Errorf("%s.cpu is %T, not a number", path, r["cpu"])
	}
	if cores <= 0 {
		return cpu, memory, fmt.Errorf("%s.cpu is %v, not positive", path, cores)
	}
	cpu = *resource.NewMilliQuantity(int64(cores*1000), resource.DecimalSI)

	text, _ := r["memory"].(string)
	bytes, err := FlinkMemoryBytes(text)
	if err != nil {
		return cpu, memory, fmt.Errorf("%s.memory: %w", path, err)
	}
	return cpu, *resource.NewQuantity(bytes, resource.BinarySI), nil
}

func unstructuredPath(object map[string]any, keys ...string) any {
	var current any = object
	for _, k := range keys {
		m, ok := current.(map[string]any)
		if !ok {
			return nil
		}
		current = m[k]
	}
	return current
}

// flinkMemory matches Flink's MemorySize syntax: a number and an optional
// unit, with all units binary (1m = 1024k).
var flinkMemory = regexp.MustCompile(`^(\d+)\s*([a-z]*)$`)

// FlinkMemoryBytes parses a memory size the way Flink's MemorySize does:
// "4096m" and "4g" are both 4 GiB, and a number without a unit is bytes.
func FlinkMemoryBytes(text string) (int64, error) {
	match := flinkMemory.FindStringSubmatch(strings.ToLower(strings.TrimSpace(text)))
	if match == nil {
		return 0, fmt.Errorf("%q is not a Flink memory size such as 4096m", text)
	}
	n, err := strconv.ParseInt(match[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", text, err)
	}
	shifts := map[string]uint{
		"": 0, "b": 0, "bytes": 0,
		"k": 10, "kb": 10, "kibibytes": 10,
		"m": 20, "mb": 20, "mebibytes": 20,
		"g": 30, "gb": 30, "gibibytes": 30,
		"t": 40, "tb": 40, "tebibytes": 40,
	}
	shift, ok := shifts[match[2]]
	if !ok {
		return 0, fmt.Errorf("%q has unknown unit %q", text, match[2])
	}
	return n << shift, nil
}
