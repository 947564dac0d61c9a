package deploy

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const scalerAddress = "lagscaler-grpc.lagscaler.svc.cluster.local:6000"

// Flink configuration keys that the examples set, as named in Flink 1.19
// and 1.20.
const (
	slotsKey                 = "taskmanager.numberOfTaskSlots"
	schedulerModeKey         = "scheduler-mode"
	stabilizationTimeoutKey  = "jobmanager.adaptive-scheduler.resource-stabilization-timeout"
	scalingIntervalMinKey    = "jobmanager.adaptive-scheduler.scaling-interval.min"
	slotsMetadataKey         = "taskSlotsPerTaskManager"
	spareTaskManagersInQuota = 1
)

// exampleScaledObjects returns every ScaledObject under deploy/examples.
func exampleScaledObjects(t *testing.T) []*kedav1alpha1.ScaledObject {
	t.Helper()
	objects := Find[*kedav1alpha1.ScaledObject](FindDocuments(deployTree(t), "deploy/examples/"))
	if len(objects) < 2 {
		t.Fatalf("deploy/examples has %d ScaledObjects, want one per Flink example", len(objects))
	}
	return objects
}

func TestScaledObjectTrigger(t *testing.T) {
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			if len(so.Spec.Triggers) != 1 {
				t.Fatalf("ScaledObject has %d triggers, want 1", len(so.Spec.Triggers))
			}
			trigger := so.Spec.Triggers[0]
			if trigger.Type != "external" {
				t.Errorf("trigger type = %q, want external", trigger.Type)
			}
			if trigger.MetricType != "" && trigger.MetricType != autoscalingv2.AverageValueMetricType {
				t.Errorf("trigger metricType = %q, want AverageValue, the only type KEDA's fallback supports", trigger.MetricType)
			}

			m := trigger.Metadata
			if m["scalerAddress"] != scalerAddress {
				t.Errorf("scalerAddress = %q, want %q", m["scalerAddress"], scalerAddress)
			}
			if m["enableTLS"] != "true" {
				t.Errorf("enableTLS = %q, want true", m["enableTLS"])
			}
			for _, key := range []string{"cluster", "consumerGroup", "topic"} {
				if m[key] == "" {
					t.Errorf("metadata %s is empty", key)
				}
			}
			if n, err := strconv.ParseInt(m["lagThreshold"], 10, 64); err != nil || n <= 0 {
				t.Errorf("lagThreshold = %q, want a positive integer", m["lagThreshold"])
			}
			if n, err := strconv.ParseInt(m["activationLagThreshold"], 10, 64); err != nil || n < 0 {
				t.Errorf("activationLagThreshold = %q, want a non-negative integer", m["activationLagThreshold"])
			}
			if m[slotsMetadataKey] != "2" {
				t.Errorf("%s = %q, want 2", slotsMetadataKey, m[slotsMetadataKey])
			}
		})
	}
}

func TestScaledObjectTLSAuthentication(t *testing.T) {
	docs := deployTree(t)
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			ref := so.Spec.Triggers[0].AuthenticationRef
			if ref == nil {
				t.Fatal("trigger has no authenticationRef")
			}
			if ref.Kind != "" && ref.Kind != "TriggerAuthentication" {
				t.Fatalf("authenticationRef kind = %q, want TriggerAuthentication", ref.Kind)
			}
			auth, ok := findNamed[*kedav1alpha1.TriggerAuthentication](docs, so.Namespace, ref.Name)
			if !ok {
				t.Fatalf("no TriggerAuthentication %s/%s", so.Namespace, ref.Name)
			}
			params := map[string]string{}
			secrets := map[string]bool{}
			for _, r := range auth.Spec.SecretTargetRef {
				params[r.Parameter] = r.Key
				secrets[r.Name] = true
			}
			want := map[string]string{"caCert": "ca.crt", "tlsClientCert": "tls.crt", "tlsClientKey": "tls.key"}
			for param, key := range want {
				if params[param] != key {
					t.Errorf("TriggerAuthentication parameter %s = key %q, want %q", param, params[param], key)
				}
			}
			if len(secrets) != 1 {
				t.Errorf("TriggerAuthentication reads %d Secrets, want the certificate, key and CA from one", len(secrets))
			}
		})
	}
}

func TestScaledObjectReplicasAndFallback(t *testing.T) {
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			spec := so.Spec
			if spec.MinReplicaCount == nil || *spec.MinReplicaCount < 1 {
				t.Error("minReplicaCount is not at least 1")
			}
			if spec.MaxReplicaCount == nil || *spec.MaxReplicaCount < 2 {
				t.Fatal("maxReplicaCount is not set to at least 2")
			}
			fb := spec.Fallback
			if fb == nil {
				t.Fatal("fallback is not set")
			}
			if fb.FailureThreshold < 1 {
				t.Errorf("fallback.failureThreshold = %d, want at least 1", fb.FailureThreshold)
			}
			if fb.Replicas < 1 || fb.Replicas > *spec.MaxReplicaCount {
				t.Errorf("fallback.replicas = %d, want 1..maxReplicaCount", fb.Replicas)
			}
			if fb.Behavior != "currentReplicasIfHigher" {
				t.Errorf("fallback.behavior = %q, want currentReplicasIfHigher so a failing scaler never shrinks the job", fb.Behavior)
			}
		})
	}
}

func hpaBehavior(t *testing.T, so *kedav1alpha1.ScaledObject) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	t.Helper()
	a := so.Spec.Advanced
	if a == nil || a.HorizontalPodAutoscalerConfig == nil || a.HorizontalPodAutoscalerConfig.Behavior == nil {
		t.Fatal("advanced.horizontalPodAutoscalerConfig.behavior is not set")
	}
	return a.HorizontalPodAutoscalerConfig.Behavior
}

func TestScaledObjectDampsRescaleStorms(t *testing.T) {
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			b := hpaBehavior(t, so)
			if b.ScaleUp == nil || b.ScaleDown == nil {
				t.Fatal("behavior lacks scaleUp or scaleDown")
			}
			if w := b.ScaleUp.StabilizationWindowSeconds; w == nil || *w <= 0 {
				t.Error("scaleUp.stabilizationWindowSeconds is not positive")
			}
			if w := b.ScaleDown.StabilizationWindowSeconds; w == nil || *w != 600 {
				t.Errorf("scaleDown.stabilizationWindowSeconds = %v, want 600", w)
			}
			if len(b.ScaleUp.Policies) == 0 {
				t.Error("scaleUp has no policies, so the HPA may add any number of pods every 15 s")
			}
			for _, p := range b.ScaleDown.Policies {
				if p.Type != autoscalingv2.PodsScalingPolicy || p.Value != 1 {
					t.Errorf("scaleDown policy %s %d, want one pod per period", p.Type, p.Value)
				}
			}
			if len(b.ScaleDown.Policies) == 0 {
				t.Error("scaleDown has no policies")
			}
		})
	}
}

// flinkTarget is the Flink cluster a ScaledObject scales, reduced to what the
// checks compare.
type flinkTarget struct {
	config map[string]string
	// pods are the per-pod requests and limits and the maximum pod count of
	// every workload in the namespace at maxReplicaCount.
	pods []podBudget
}

type podBudget struct {
	name               string
	count              int64
	requests, limits   corev1.ResourceList
	containerMaxLimits corev1.ResourceList
}

func resolveTarget(t *testing.T, docs []Document, so *kedav1alpha1.ScaledObject) flinkTarget {
	t.Helper()
	ref := so.Spec.ScaleTargetRef
	if ref == nil {
		t.Fatal("scaleTargetRef is not set")
	}
	switch {
	case ref.APIVersion == "apps/v1" && ref.Kind == "Deployment":
		return deploymentTarget(t, docs, so)
	case ref.APIVersion == "flink.apache.org/v1beta1" && ref.Kind == "FlinkDeployment":
		return flinkDeploymentTarget(t, docs, so)
	}
	t.Fatalf("scaleTargetRef %s %s is neither a Deployment nor a FlinkDeployment", ref.APIVersion, ref.Kind)
	return flinkTarget{}
}

func deploymentTarget(t *testing.T, docs []Document, so *kedav1alpha1.ScaledObject) flinkTarget {
	t.Helper()
	target, ok := findNamed[*appsv1.Deployment](docs, so.Namespace, so.Spec.ScaleTargetRef.Name)
	if !ok {
		t.Fatalf("scaleTargetRef names no Deployment %s/%s", so.Namespace, so.Spec.ScaleTargetRef.Name)
	}
	if target.Spec.Replicas != nil {
		t.Errorf("Deployment %s sets spec.replicas, which every apply resets under the HPA", target.Name)
	}

	var target2 flinkTarget
	target2.config = flinkProperties(t, docs, target)
	for _, d := range Find[*appsv1.Deployment](docs) {
		if d.Namespace != so.Namespace {
			continue
		}
		count := int64(1)
		if d.Spec.Replicas != nil {
			count = int64(*d.Spec.Replicas)
		}
		if d == target {
			count = int64(*so.Spec.MaxReplicaCount)
		}
		target2.pods = append(target2.pods, deploymentBudget(d, count))
	}
	return target2
}

// deploymentBudget returns the pods of d at count replicas, plus the surge
// of a rolling update.
func deploymentBudget(d *appsv1.Deployment, count int64) podBudget {
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		surge := int64(1)
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxSurge != nil {
			if ru.MaxSurge.StrVal != "" {
				percent, _ := strconv.Atoi(strings.TrimSuffix(ru.MaxSurge.StrVal, "%"))
				surge = int64(math.Ceil(float64(count) * float64(percent) / 100))
			} else {
				surge = int64(ru.MaxSurge.IntVal)
			}
		}
		count += surge
	}
	budget := podBudget{name: "Deployment " + d.Name, count: count,
		requests: corev1.ResourceList{}, limits: corev1.ResourceList{}, containerMaxLimits: corev1.ResourceList{}}
	for _, c := range d.Spec.Template.Spec.Containers {
		addResources(budget.requests, c.Resources.Requests)
		addResources(budget.limits, c.Resources.Limits)
		maxResources(budget.containerMaxLimits, c.Resources.Limits)
	}
	return budget
}

func addResources(sum, add corev1.ResourceList) {
	for name, q := range add {
		total := sum[name]
		total.Add(q)
		sum[name] = total
	}
}

func maxResources(max, other corev1.ResourceList) {
	for name, q := range other {
		if current, ok := max[name]; !ok || q.Cmp(current) > 0 {
			max[name] = q
		}
	}
}

// flinkProperties returns the FLINK_PROPERTIES of the Deployment's first
// container, read from the ConfigMap key it references.
func flinkProperties(t *testing.T, docs []Document, d *appsv1.Deployment) map[string]string {
	t.Helper()
	for _, env := range d.Spec.Template.Spec.Containers[0].Env {
		if env.Name != "FLINK_PROPERTIES" {
			continue
		}
		if env.ValueFrom == nil || env.ValueFrom.ConfigMapKeyRef == nil {
			return parseFlinkProperties(env.Value)
		}
		ref := env.ValueFrom.ConfigMapKeyRef
		cm, ok := findNamed[*corev1.ConfigMap](docs, d.Namespace, ref.Name)
		if !ok {
			t.Fatalf("FLINK_PROPERTIES references missing ConfigMap %s/%s", d.Namespace, ref.Name)
		}
		return parseFlinkProperties(cm.Data[ref.Key])
	}
	t.Fatalf("Deployment %s has no FLINK_PROPERTIES", d.Name)
	return nil
}

// parseFlinkProperties reads "key: value" lines, skipping comments.
func parseFlinkProperties(text string) map[string]string {
	props := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if key, value, ok := strings.Cut(line, ":"); ok {
			props[strings.TrimSpace(key)] = strings.TrimSpace(value)
		}
	}
	return props
}

func flinkDeploymentTarget(t *testing.T, docs []Document, so *kedav1alpha1.ScaledObject) flinkTarget {
	t.Helper()
	var fd *unstructured.Unstructured
	for _, u := range Find[*unstructured.Unstructured](docs) {
		if u.GetKind() == "FlinkDeployment" && u.GetNamespace() == so.Namespace && u.GetName() == so.Spec.ScaleTargetRef.Name {
			fd = u
		}
	}
	if fd == nil {
		t.Fatalf("scaleTargetRef names no FlinkDeployment %s/%s", so.Namespace, so.Spec.ScaleTargetRef.Name)
	}
	for _, err := range CheckFlinkDeployment(fd) {
		t.Errorf("FlinkDeployment %s: %v", fd.GetName(), err)
	}
	if mode, _, _ := unstructured.NestedString(fd.Object, "spec", "mode"); mode != "standalone" {
		t.Errorf("FlinkDeployment spec.mode = %q, want standalone, which reactive mode needs", mode)
	}

	config, err := FlinkConfiguration(fd)
	if err != nil {
		t.Fatal(err)
	}
	spec := fd.Object["spec"].(map[string]any)
	budget := func(component string, count int64) podBudget {
		cpu, memory, err := FlinkResources(spec, component)
		if err != nil {
			t.Fatal(err)
		}
		list := corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: memory}
		return podBudget{name: "FlinkDeployment " + component, count: count,
			requests: list, limits: list, containerMaxLimits: list}
	}
	jobManagers, _, _ := unstructured.NestedInt64(fd.Object, "spec", "jobManager", "replicas")
	return flinkTarget{config: config, pods: []podBudget{
		budget("taskManager", int64(*so.Spec.MaxReplicaCount)+spareTaskManagersInQuota),
		budget("jobManager", jobManagers),
	}}
}

func TestScaledObjectMatchesFlinkConfiguration(t *testing.T) {
	docs := deployTree(t)
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			target := resolveTarget(t, docs, so)
			c := target.config
			if got, want := c[slotsKey], so.Spec.Triggers[0].Metadata[slotsMetadataKey]; got != want {
				t.Errorf("Flink %s = %q, but the trigger's %s = %q", slotsKey, got, slotsMetadataKey, want)
			}
			if c[schedulerModeKey] != "reactive" {
				t.Errorf("Flink %s = %q, want reactive", schedulerModeKey, c[schedulerModeKey])
			}
			if _, err := parseFlinkDuration(c[stabilizationTimeoutKey]); err != nil {
				t.Errorf("Flink %s: %v", stabilizationTimeoutKey, err)
			}

			// One HPA step per period and one Flink rescale per cooldown:
			// the two intervals must agree.
			cooldown, err := parseFlinkDuration(c[scalingIntervalMinKey])
			if err != nil {
				t.Fatalf("Flink %s: %v", scalingIntervalMinKey, err)
			}
			b := hpaBehavior(t, so)
			for _, rules := range []*autoscalingv2.HPAScalingRules{b.ScaleUp, b.ScaleDown} {
				for _, p := range rules.Policies {
					if period := time.Duration(p.PeriodSeconds) * time.Second; period != cooldown {
						t.Errorf("HPA policy period %v differs from Flink %s %v", period, scalingIntervalMinKey, cooldown)
					}
				}
			}
		})
	}
}

var flinkDuration = regexp.MustCompile(`^(\d+)\s*(ms|s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hour|hours)?$`)

// parseFlinkDuration parses Flink's duration syntax, such as "30 s" or
// "5 min". A number without a unit is milliseconds.
func parseFlinkDuration(text string) (time.Duration, error) {
	match := flinkDuration.FindStringSubmatch(strings.TrimSpace(text))
	if match == nil {
		return 0, fmt.Errorf("%q is not a Flink duration such as 30 s", text)
	}
	n, _ := strconv.Atoi(match[1])
	units := map[string]time.Duration{"": time.Millisecond, "ms": time.Millisecond}
	for _, u := range []string{"s", "sec", "secs", "second", "seconds"} {
		units[u] = time.Second
	}
	for _, u := range []string{"m", "min", "mins", "minute", "minutes"} {
		units[u] = time.Minute
	}
	for _, u := range []string{"h", "hour", "hours"} {
		units[u] = time.Hour
	}
	return time.Duration(n) * units[match[2]], nil
}

func TestResourceQuotaFitsMaxReplicas(t *testing.T) {
	docs := deployTree(t)
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			quotas := namespaced[*corev1.ResourceQuota](docs, so.Namespace)
			if len(quotas) != 1 {
				t.Fatalf("namespace %s has %d ResourceQuotas, want 1", so.Namespace, len(quotas))
			}
			hard := quotas[0].Spec.Hard
			target := resolveTarget(t, docs, so)

			need := corev1.ResourceList{}
			var pods int64
			for _, p := range target.pods {
				pods += p.count
				for field, list := range map[string]corev1.ResourceList{"requests": p.requests, "limits": p.limits} {
					for name, q := range list {
						total := need[corev1.ResourceName(field+"."+string(name))]
						total.Add(multiply(q, p.count))
						need[corev1.ResourceName(field+"."+string(name))] = total
					}
				}
			}
			need[corev1.ResourcePods] = *resource.NewQuantity(pods, resource.DecimalSI)

			for name, want := range need {
				got, ok := hard[name]
				if !ok {
					t.Errorf("ResourceQuota sets no %s (needs %s)", name, want.String())
					continue
				}
				if got.Cmp(want) < 0 {
					t.Errorf("ResourceQuota %s = %s, below the %s needed at maxReplicaCount", name, got.String(), want.String())
				}
			}
		})
	}
}

func TestLimitRangeAdmitsPods(t *testing.T) {
	docs := deployTree(t)
	for _, so := range exampleScaledObjects(t) {
		t.Run(so.Namespace+"/"+so.Name, func(t *testing.T) {
			ranges := namespaced[*corev1.LimitRange](docs, so.Namespace)
			if len(ranges) != 1 {
				t.Fatalf("namespace %s has %d LimitRanges, want 1", so.Namespace, len(ranges))
			}
			var max corev1.ResourceList
			for _, item := range ranges[0].Spec.Limits {
				if item.Type == corev1.LimitTypeContainer {
					max = item.Max
					if item.Default == nil || item.DefaultRequest == nil {
						t.Error("LimitRange gives containers no default and defaultRequest")
					}
				}
			}
			for _, p := range resolveTarget(t, docs, so).pods {
				for name, q := range p.containerMaxLimits {
					if limit, ok := max[name]; ok && q.Cmp(limit) > 0 {
						t.Errorf("%s container limit %s %s exceeds the LimitRange max %s", p.name, name, q.String(), limit.String())
					}
				}
			}
		})
	}
}

func namespaced[T interface{ GetNamespace() string }](docs []Document, namespace string) []T {
	var found []T
	for _, obj := range Find[T](docs) {
		if obj.GetNamespace() == namespace {
			found = append(found, obj)
		}
	}
	return found
}

func multiply(q resource.Quantity, n int64) resource.Quantity {
	return *resource.NewMilliQuantity(q.MilliValue()*n, q.Format)
}

func TestFlinkMemoryBytes(t *testing.T) {
	tests := []struct {
		text string
		want int64
	}{
		{"4096m", 4 << 30},
		{"4g", 4 << 30},
		{"2048 mb", 2 << 30},
		{"512k", 512 << 10},
		{"100", 100},
	}
	for _, tt := range tests {
		got, err := FlinkMemoryBytes(tt.text)
		if err != nil || got != tt.want {
			t.Errorf("FlinkMemoryBytes(%q) = %d, %v; want %d", tt.text, got, err, tt.want)
		}
	}
	if _, err := FlinkMemoryBytes("4 GiB"); err == nil {
		t.Error(`FlinkMemoryBytes("4 GiB") = nil error, want an error for a Kubernetes unit`)
	}
}

func TestCheckFlinkDeploymentRejects(t *testing.T) {
	var fd *unstructured.Unstructured
	for _, u := range Find[*unstructured.Unstructured](deployTree(t)) {
		fd = u
	}
	if fd == nil {
		t.Fatal("deploy/ has no FlinkDeployment")
	}
	if errs := CheckFlinkDeployment(fd); len(errs) > 0 {
		t.Fatalf("CheckFlinkDeployment(example) = %v, want no errors", errs)
	}

	tests := []struct {
		name   string
		mutate func(spec map[string]any)
	}{
		{"misspelled field", func(spec map[string]any) { spec["taskManagers"] = spec["taskManager"] }},
		{"replicas as string", func(spec map[string]any) {
			spec["taskManager"].(map[string]any)["replicas"] = "2"
		}},
		{"non-string configuration value", func(spec map[string]any) {
			spec["flinkConfiguration"].(map[string]any)[slotsKey] = int64(2)
		}},
		{"unknown pod template field", func(spec map[string]any) {
			spec["podTemplate"].(map[string]any)["spec"].(map[string]any)["hostNetwrk"] = true
		}},
		{"Kubernetes memory unit", func(spec map[string]any) {
			spec["jobManager"].(map[string]any)["resource"].(map[string]any)["memory"] = "2Gi"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := fd.DeepCopy()
			tt.mutate(broken.Object["spec"].(map[string]any))
			if errs := CheckFlinkDeployment(broken); len(errs) == 0 {
				t.Error("CheckFlinkDeployment() = no errors, want one")
			}
		})
	}
}

// propertyLine is the only line form that FLINK_PROPERTIES carries: the
// image's entrypoint adds each line to Flink's configuration file as is.
var propertyLine = regexp.MustCompile(`^[A-Za-z0-9_.-]+: \S.*$`)

func TestFlinkPropertiesFormat(t *testing.T) {
	found := false
	for _, cm := range Find[*corev1.ConfigMap](deployTree(t)) {
		text, ok := cm.Data["flink-properties"]
		if !ok {
			continue
		}
		found = true
		for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
			if !propertyLine.MatchString(line) {
				t.Errorf("ConfigMap %s flink-properties line %d %q is not \"key: value\"", cm.Name, i+1, line)
			}
		}
	}
	if !found {
		t.Error("no ConfigMap has a flink-properties key")
	}
}
