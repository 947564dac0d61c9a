package deploy

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
)

func TestLagscalerDeploymentHardening(t *testing.T) {
	d := lagscalerDeployment(t, deployTree(t))
	runPodChecks(t, &d.Spec.Template.Spec, append(PodChecks(), LagscalerPodChecks()...))
	for _, c := range LagscalerDeploymentChecks() {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Check(d); err != nil {
				t.Errorf("Deployment lagscaler: %v", err)
			}
		})
	}
}

func runPodChecks(t *testing.T, spec *corev1.PodSpec, checks []PodCheck) {
	t.Helper()
	for _, c := range checks {
		t.Run(c.Name, func(t *testing.T) {
			if err := c.Check(spec); err != nil {
				t.Error(err)
			}
		})
	}
}

// flinkTemplateChecks leaves out the checks of fields that the Flink
// operator fills in itself: resources from spec.*.resource and the image
// from spec.image.
func flinkTemplateChecks() []PodCheck {
	return slices.DeleteFunc(PodChecks(), func(c PodCheck) bool {
		return slices.Contains([]string{"container resource requests", "container resource limits", "container image pinned"}, c.Name)
	})
}

func TestEveryPodHardened(t *testing.T) {
	docs := deployTree(t)
	for _, d := range Find[*appsv1.Deployment](docs) {
		t.Run(d.Namespace+"/"+d.Name, func(t *testing.T) {
			runPodChecks(t, &d.Spec.Template.Spec, PodChecks())
		})
	}
	for _, u := range Find[*unstructured.Unstructured](docs) {
		template, found, err := unstructured.NestedMap(u.Object, "spec", "podTemplate")
		if err != nil || !found {
			t.Errorf("FlinkDeployment %s/%s has no spec.podTemplate to harden its pods", u.GetNamespace(), u.GetName())
			continue
		}
		spec, err := DecodePodTemplate(template)
		if err != nil {
			t.Errorf("FlinkDeployment %s/%s spec.podTemplate: %v", u.GetNamespace(), u.GetName(), err)
			continue
		}
		t.Run("FlinkDeployment "+u.GetNamespace()+"/"+u.GetName(), func(t *testing.T) {
			runPodChecks(t, &spec.Spec, flinkTemplateChecks())
		})
	}
}

// TestHardeningChecksDetectRemoval removes one hardening setting at a time
// from a copy of the lagscaler Deployment and expects exactly the check for
// that setting to fail, so a check that always passes cannot go unnoticed.
func TestHardeningChecksDetectRemoval(t *testing.T) {
	original := lagscalerDeployment(t, deployTree(t))
	container := func(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

	tests := []struct {
		check  string
		mutate func(d *appsv1.Deployment)
	}{
		{"readOnlyRootFilesystem", func(d *appsv1.Deployment) {
			container(d).SecurityContext.ReadOnlyRootFilesystem = nil
		}},
		{"container allowPrivilegeEscalation false", func(d *appsv1.Deployment) {
			container(d).SecurityContext.AllowPrivilegeEscalation = ptr.To(true)
		}},
		{"container drops ALL capabilities", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Drop = []corev1.Capability{"NET_RAW"}
		}},
		{"container adds no capabilities", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_ADMIN"}
		}},
		{"pod runAsNonRoot", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
		}},
		{"container seccompProfile RuntimeDefault", func(d *appsv1.Deployment) {
			container(d).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
		}},
		{"runs as user 65532", func(d *appsv1.Deployment) {
			container(d).SecurityContext.RunAsUser = ptr.To[int64](0)
		}},
		{"no service account token", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.AutomountServiceAccountToken = nil
		}},
		{"container resource limits", func(d *appsv1.Deployment) {
			delete(container(d).Resources.Limits, corev1.ResourceMemory)
		}},
		{"readiness probe on /readyz port 8080", func(d *appsv1.Deployment) {
			container(d).ReadinessProbe.HTTPGet.Path = "/healthz"
		}},
		{"container image pinned", func(d *appsv1.Deployment) {
			container(d).Image = "ghcr.io/lagscaler/lagscaler:latest"
		}},
		{"gRPC TLS files from a Secret", func(d *appsv1.Deployment) {
			args := container(d).Args
			container(d).Args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
				return a == "--grpc-client-ca=/etc/lagscaler/grpc-tls/ca.crt"
			})
		}},
		{"pod anti-affinity across nodes", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Affinity = nil
		}},
	}

	checks := append(PodChecks(), LagscalerPodChecks()...)
	for _, tt := range tests {
		t.Run(tt.check, func(t *testing.T) {
			d := original.DeepCopy()
			tt.mutate(d)

			var failed []string
			for _, c := range checks {
				if c.Check(&d.Spec.Template.Spec) != nil {
					failed = append(failed, c.Name)
				}
			}
			for _, c := range LagscalerDeploymentChecks() {
				if c.Check(d) != nil {
					failed = append(failed, c.Name)
				}
			}
			if !slices.Equal(failed, []string{tt.check}) {
				t.Errorf("after the change, failing checks = %q, want only %q", failed, tt.check)
			}
		})
	}
}

func TestCheckImagePinned(t *testing.T) {
	tests := []struct {
		image string
		ok    bool
	}{
		{"ghcr.io/lagscaler/lagscaler:v0.1.0", true},
		{"registry.example.com:5000/flink/job:1.0.0", true},
		{"flink@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", true},
		{"flink", false},
		{"registry.example.com:5000/flink/job", false},
		{"flink:latest", false},
		{"flink@sha256:abc", false},
	}
	for _, tt := range tests {
		err := checkImagePinned(tt.image)
		if (err == nil) != tt.ok {
			t.Errorf("checkImagePinned(%q) = %v, want ok = %v", tt.image, err, tt.ok)
		}
	}
}
