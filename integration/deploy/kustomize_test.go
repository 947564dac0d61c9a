package deploy

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// kustomizeDirs returns every directory under deploy/ with a
// kustomization.yaml, relative to the repository root.
func kustomizeDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(filepath.Join(root, "deploy"), func(path string, entry os.DirEntry, err error) error {
		if err == nil && entry.Name() == "kustomization.yaml" {
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// rendering is the output of kubectl kustomize for one directory.
type rendering struct {
	docs []Document
	err  error
}

// renderings caches each directory's rendering, because several tests
// render the same kustomization.
var (
	renderingsMu sync.Mutex
	renderings   = map[string]rendering{}
)

// render returns the output of kubectl kustomize for dir, running kubectl
// once per directory and test binary. It skips the test without kubectl.
// Callers must not change the returned objects, or must copy them first.
func render(t *testing.T, root, dir string) []Document {
	t.Helper()
	kubectl := KubectlPath()
	if kubectl == "" {
		t.Skip("kubectl is not on PATH and KUBECTL is unset, so kustomize output cannot be rendered")
	}
	renderingsMu.Lock()
	r, ok := renderings[dir]
	if !ok {
		r.docs, r.err = Kustomize(context.Background(), kubectl, filepath.Join(root, dir))
		renderings[dir] = r
	}
	renderingsMu.Unlock()

	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.docs) == 0 {
		t.Fatalf("kubectl kustomize %s rendered nothing", dir)
	}
	return r.docs
}

func TestKustomizeOutputDecodesStrictly(t *testing.T) {
	root := repoRoot(t)
	dirs := kustomizeDirs(t, root)
	if len(dirs) < 5 {
		t.Fatalf("found kustomizations %v, want base, monitoring and three examples", dirs)
	}
	for _, dir := range dirs {
		t.Run(dir, func(t *testing.T) {
			for _, d := range render(t, root, dir) {
				if d.Kind == "Kustomization" {
					t.Errorf("%s: kustomize output contains a Kustomization", d.Name())
				}
			}
		})
	}
}

func TestKustomizeBase(t *testing.T) {
	docs := render(t, repoRoot(t), "deploy/base")
	for _, d := range docs {
		meta := objectMeta(d.Object)
		if d.Kind != "Namespace" && meta.namespace != lagscalerNamespace {
			t.Errorf("%s is not in namespace %s", d.Name(), lagscalerNamespace)
		}
	}

	deployment := lagscalerDeployment(t, docs)
	runPodChecks(t, &deployment.Spec.Template.Spec, append(PodChecks(), LagscalerPodChecks()...))

	// The generated ConfigMap name carries a hash suffix, and kustomize must
	// have rewritten the Deployment's reference to it.
	var configMap string
	for _, v := range deployment.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil {
			configMap = v.ConfigMap.Name
		}
	}
	cm, ok := findNamed[*corev1.ConfigMap](docs, lagscalerNamespace, configMap)
	if !ok {
		t.Fatalf("Deployment mounts ConfigMap %q, which kustomize did not generate", configMap)
	}
	if cm.Data["config.yaml"] == "" {
		t.Errorf("ConfigMap %s has no config.yaml", cm.Name)
	}
}

func TestKustomizeKafkaEgressOverlay(t *testing.T) {
	docs := render(t, repoRoot(t), "deploy/examples/kafka-egress-ipblock")
	np, ok := findNamed[*networkingv1.NetworkPolicy](docs, lagscalerNamespace, "lagscaler")
	if !ok {
		t.Fatal("overlay output has no NetworkPolicy lagscaler")
	}
	if len(np.Spec.Egress) < 2 {
		t.Fatalf("NetworkPolicy has %d egress rules, want the DNS and Kafka rules", len(np.Spec.Egress))
	}
	kafka := np.Spec.Egress[1]
	if len(kafka.To) != 1 || kafka.To[0].IPBlock == nil || kafka.To[0].NamespaceSelector != nil {
		t.Errorf("Kafka egress peers = %+v, want one ipBlock", kafka.To)
	}
	if dns := np.Spec.Egress[0].To; len(dns) != 1 || dns[0].NamespaceSelector == nil {
		t.Error("the overlay changed the DNS egress rule")
	}
}

func TestKustomizeFlinkExamples(t *testing.T) {
	root := repoRoot(t)
	for _, dir := range []string{"deploy/examples/flink-standalone", "deploy/examples/flink-operator"} {
		t.Run(dir, func(t *testing.T) {
			docs := render(t, root, dir)
			objects := Find[*kedav1alpha1.ScaledObject](docs)
			if len(objects) != 1 {
				t.Fatalf("rendered %d ScaledObjects, want 1", len(objects))
			}
			namespace := objects[0].Namespace
			for _, d := range docs {
				if meta := objectMeta(d.Object); d.Kind != "Namespace" && meta.namespace != namespace {
					t.Errorf("%s is not in the example namespace %s", d.Name(), namespace)
				}
			}
			for _, d := range Find[*appsv1.Deployment](docs) {
				t.Run("Deployment "+d.Name, func(t *testing.T) {
					runPodChecks(t, &d.Spec.Template.Spec, PodChecks())
				})
			}
			for _, u := range Find[*unstructured.Unstructured](docs) {
				for _, err := range CheckFlinkDeployment(u) {
					t.Errorf("FlinkDeployment %s: %v", u.GetName(), err)
				}
			}
		})
	}
}

func TestKustomizeMonitoring(t *testing.T) {
	root := repoRoot(t)
	docs := render(t, root, "deploy/monitoring")
	cm, ok := findNamed[*corev1.ConfigMap](docs, "monitoring", "lagscaler-dashboard")
	if !ok {
		t.Fatal("no ConfigMap monitoring/lagscaler-dashboard in the output")
	}
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("ConfigMap lagscaler-dashboard label grafana_dashboard = %q, want \"1\"", cm.Labels["grafana_dashboard"])
	}
	file, err := os.ReadFile(filepath.Join(root, "deploy", "monitoring", "dashboards", "lagscaler.json"))
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["lagscaler.json"] != string(file) {
		t.Error("ConfigMap data lagscaler.json differs from dashboards/lagscaler.json")
	}
}
