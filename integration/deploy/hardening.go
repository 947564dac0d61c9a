package deploy

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// PodCheck is one hardening condition on a pod spec. Check returns nil when
// the spec meets the condition and otherwise an error naming the container
// and the field.
type PodCheck struct {
	Name  string
	Check func(spec *corev1.PodSpec) error
}

// LagscalerUID is the numeric user and group of the nonroot user in
// distroless images, which the lagscaler image runs as.
const LagscalerUID = 65532

// PodChecks returns the conditions that every pod in the deploy tree meets:
// the restricted Pod Security Standard, set at both pod and container level,
// plus no service account token, resource requests and limits, and pinned
// images.
func PodChecks() []PodCheck {
	return []PodCheck{
		{"pod runAsNonRoot", func(s *corev1.PodSpec) error {
			if sc := s.SecurityContext; sc == nil || !isTrue(sc.RunAsNonRoot) {
				return errors.New("spec.securityContext.runAsNonRoot is not true")
			}
			return nil
		}},
		{"pod seccompProfile RuntimeDefault", func(s *corev1.PodSpec) error {
			if sc := s.SecurityContext; sc == nil || !isRuntimeDefault(sc.SeccompProfile) {
				return errors.New("spec.securityContext.seccompProfile.type is not RuntimeDefault")
			}
			return nil
		}},
		{"no host namespaces", func(s *corev1.PodSpec) error {
			if s.HostNetwork || s.HostPID || s.HostIPC {
				return errors.New("hostNetwork, hostPID or hostIPC is set")
			}
			return nil
		}},
		{"no service account token", func(s *corev1.PodSpec) error {
			if s.AutomountServiceAccountToken == nil || *s.AutomountServiceAccountToken {
				return errors.New("spec.automountServiceAccountToken is not false")
			}
			return nil
		}},
		containerCheck("container runAsNonRoot", func(c *corev1.Container) error {
			if sc := c.SecurityContext; sc == nil || !isTrue(sc.RunAsNonRoot) {
				return errors.New("securityContext.runAsNonRoot is not true")
			}
			return nil
		}),
		containerCheck("container allowPrivilegeEscalation false", func(c *corev1.Container) error {
			sc := c.SecurityContext
			if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				return errors.New("securityContext.allowPrivilegeEscalation is not false")
			}
			return nil
		}),
		containerCheck("container drops ALL capabilities", func(c *corev1.Container) error {
			sc := c.SecurityContext
			if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				return errors.New("securityContext.capabilities.drop does not contain ALL")
			}
			return nil
		}),
		containerCheck("container adds no capabilities", func(c *corev1.Container) error {
			if sc := c.SecurityContext; sc != nil && sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
				return fmt.Errorf("securityContext.capabilities.add is %v", sc.Capabilities.Add)
			}
			return nil
		}),
		containerCheck("container not privileged", func(c *corev1.Container) error {
			if sc := c.SecurityContext; sc != nil && isTrue(sc.Privileged) {
				return errors.New("securityContext.privileged is true")
			}
			return nil
		}),
		containerCheck("container seccompProfile RuntimeDefault", func(c *corev1.Container) error {
			if sc := c.SecurityContext; sc == nil || !isRuntimeDefault(sc.SeccompProfile) {
				return errors.New("securityContext.seccompProfile.type is not RuntimeDefault")
			}
			return nil
		}),
		containerCheck("container resource requests", func(c *corev1.Container) error {
			return requireResources("requests", c.Resources.Requests)
		}),
		containerCheck("container resource limits", func(c *corev1.Container) error {
			return requireResources("limits", c.Resources.Limits)
		}),
		containerCheck("container image pinned", func(c *corev1.Container) error {
			return checkImagePinned(c.Image)
		}),
	}
}

// LagscalerPodChecks returns the conditions specific to the lagscaler pod:
// its user, read-only root filesystem, probes, ports, and the files that the
// serve arguments name.
func LagscalerPodChecks() []PodCheck {
	return []PodCheck{
		{"runs as user 65532", func(s *corev1.PodSpec) error {
			sc := s.SecurityContext
			if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != LagscalerUID {
				return fmt.Errorf("spec.securityContext.runAsUser is not %d", LagscalerUID)
			}
			return eachContainer(s, func(c *corev1.Container) error {
				if sc := c.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != LagscalerUID {
					return fmt.Errorf("securityContext.runAsUser is not %d", LagscalerUID)
				}
				return nil
			})
		}},
		containerCheck("readOnlyRootFilesystem", func(c *corev1.Container) error {
			if sc := c.SecurityContext; sc == nil || !isTrue(sc.ReadOnlyRootFilesystem) {
				return errors.New("securityContext.readOnlyRootFilesystem is not true")
			}
			return nil
		}),
		containerCheck("liveness probe on /healthz port 8080", func(c *corev1.Container) error {
			return checkHTTPProbe(c, "livenessProbe", c.LivenessProbe, "/healthz", 8080)
		}),
		containerCheck("readiness probe on /readyz port 8080", func(c *corev1.Container) error {
			return checkHTTPProbe(c, "readinessProbe", c.ReadinessProbe, "/readyz", 8080)
		}),
		containerCheck("ports grpc 6000 and http-metrics 8080", func(c *corev1.Container) error {
			var errs []error
			for name, port := range map[string]int32{"grpc": 6000, "http-metrics": 8080} {
				if got, ok := containerPort(c, name); !ok || got != port {
					errs = append(errs, fmt.Errorf("no container port %s = %d", name, port))
				}
			}
			return errors.Join(errs...)
		}),
		{"serve reads config.yaml from a ConfigMap", func(s *corev1.PodSpec) error {
			return eachContainer(s, func(c *corev1.Container) error {
				if len(c.Args) == 0 || c.Args[0] != "serve" {
					return fmt.Errorf("args %q do not start with serve", c.Args)
				}
				return checkFlagFile(s, c, "--config", "/etc/lagscaler/config.yaml", isConfigMapVolume)
			})
		}},
		{"gRPC TLS files from a Secret", func(s *corev1.PodSpec) error {
			return eachContainer(s, func(c *corev1.Container) error {
				var errs []error
				for _, flag := range []string{"--grpc-tls-cert", "--grpc-tls-key", "--grpc-client-ca"} {
					errs = append(errs, checkFlagFile(s, c, flag, "", isSecretVolume))
				}
				return errors.Join(errs...)
			})
		}},
		{"Kafka credentials Secret mounted", func(s *corev1.PodSpec) error {
			return eachContainer(s, func(c *corev1.Container) error {
				for _, m := range c.VolumeMounts {
					v := findVolume(s, m.Name)
					if v != nil && v.Secret != nil && v.Secret.SecretName == "lagscaler-kafka" {
						return nil
					}
				}
				return errors.New("no volume mount of the Secret lagscaler-kafka")
			})
		}},
		containerCheck("volume mounts read-only", func(c *corev1.Container) error {
			var errs []error
			for _, m := range c.VolumeMounts {
				if !m.ReadOnly {
					errs = append(errs, fmt.Errorf("volume mount %s at %s is writable", m.Name, m.MountPath))
				}
			}
			return errors.Join(errs...)
		}),
	}
}

// DeploymentCheck is one availability condition on the lagscaler Deployment.
type DeploymentCheck struct {
	Name  string
	Check func(d *appsv1.Deployment) error
}

// LagscalerDeploymentChecks returns the availability conditions of the
// lagscaler Deployment: two replicas, spread over nodes.
func LagscalerDeploymentChecks() []DeploymentCheck {
	return []DeploymentCheck{
		{"two replicas", func(d *appsv1.Deployment) error {
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
				return errors.New("spec.replicas is not 2")
			}
			return nil
		}},
		{"selector matches pod labels", func(d *appsv1.Deployment) error {
			if d.Spec.Selector == nil || len(d.Spec.Selector.MatchLabels) == 0 {
				return errors.New("spec.selector.matchLabels is empty")
			}
			if !labelsMatch(d.Spec.Selector.MatchLabels, d.Spec.Template.Labels) {
				return errors.New("spec.selector does not match spec.template.metadata.labels")
			}
			return nil
		}},
		{"pod anti-affinity across nodes", func(d *appsv1.Deployment) error {
			return checkAntiAffinity(d)
		}},
	}
}

func checkAntiAffinity(d *appsv1.Deployment) error {
	a := d.Spec.Template.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return errors.New("spec.template.spec.affinity.podAntiAffinity is not set")
	}
	terms := slices.Clone(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
	for _, w := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, w.PodAffinityTerm)
	}
	for _, term := range terms {
		if term.TopologyKey == corev1.LabelHostname && term.LabelSelector != nil &&
			labelsMatch(term.LabelSelector.MatchLabels, d.Spec.Template.Labels) {
			return nil
		}
	}
	return errors.New("no pod anti-affinity term on kubernetes.io/hostname selects the pod's own labels")
}

// labelsMatch reports whether every key and value of selector is in labels.
func labelsMatch(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func containerCheck(name string, check func(c *corev1.Container) error) PodCheck {
	return PodCheck{name, func(s *corev1.PodSpec) error { return eachContainer(s, check) }}
}

// eachContainer runs check on every init and regular container, naming the
// container in each error.
func eachContainer(s *corev1.PodSpec, check func(c *corev1.Container) error) error {
	if len(s.Containers) == 0 {
		return errors.New("pod has no containers")
	}
	var errs []error
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for i := range list {
			if err := check(&list[i]); err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", list[i].Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func isTrue(b *bool) bool { return b != nil && *b }

func isRuntimeDefault(p *corev1.SeccompProfile) bool {
	return p != nil && p.Type == corev1.SeccompProfileTypeRuntimeDefault
}

func requireResources(field string, list corev1.ResourceList) error {
	var errs []error
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		q, ok := list[name]
		if !ok || q.Sign() <= 0 {
			errs = append(errs, fmt.Errorf("resources.%s.%s is not set", field, name))
		}
	}
	return errors.Join(errs...)
}

// checkImagePinned accepts an image with a digest, or with a tag other than
// latest.
func checkImagePinned(image string) error {
	if _, digest, ok := strings.Cut(image, "@"); ok {
		if !strings.HasPrefix(digest, "sha256:") || len(digest) != len("sha256:")+64 {
			return fmt.Errorf("image %q has an invalid digest", image)
		}
		return nil
	}
	// A colon after the last slash separates the tag. A colon before it
	// belongs to a registry port.
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	if !ok || tag == "" {
		return fmt.Errorf("image %q has no tag or digest", image)
	}
	if tag == "latest" {
		return fmt.Errorf("image %q uses the moving tag latest", image)
	}
	return nil
}

func containerPort(c *corev1.Container, name string) (int32, bool) {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort, true
		}
	}
	return 0, false
}

func checkHTTPProbe(c *corev1.Container, field string, p *corev1.Probe, wantPath string, wantPort int32) error {
	if p == nil || p.HTTPGet == nil {
		return fmt.Errorf("%s.httpGet is not set", field)
	}
	if p.HTTPGet.Path != wantPath {
		return fmt.Errorf("%s.httpGet.path = %q, want %q", field, p.HTTPGet.Path, wantPath)
	}
	port := p.HTTPGet.Port
	got := port.IntVal
	if port.Type == intstr.String {
		var ok bool
		if got, ok = containerPort(c, port.StrVal); !ok {
			return fmt.Errorf("%s.httpGet.port names no container port %q", field, port.StrVal)
		}
	}
	if got != wantPort {
		return fmt.Errorf("%s.httpGet.port = %d, want %d", field, got, wantPort)
	}
	return nil
}

// FlagValue returns the value of a command-line flag given as "--name=value"
// or as "--name value".
func FlagValue(args []string, name string) (string, bool) {
	for i, arg := range args {
		if value, ok := strings.CutPrefix(arg, name+"="); ok {
			return value, true
		}
		if arg == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// checkFlagFile checks that flag names a file (want, when not empty) inside a
// volume mount whose volume passes isKind.
func checkFlagFile(s *corev1.PodSpec, c *corev1.Container, flag, want string, isKind func(*corev1.Volume) bool) error {
	file, ok := FlagValue(c.Args, flag)
	if !ok {
		return fmt.Errorf("args have no %s", flag)
	}
	if want != "" && file != want {
		return fmt.Errorf("%s = %q, want %q", flag, file, want)
	}
	for _, m := range c.VolumeMounts {
		inMount := file == m.MountPath || strings.HasPrefix(file, m.MountPath+"/")
		if m.SubPath != "" {
			inMount = file == m.MountPath
		}
		if !inMount {
			continue
		}
		if v := findVolume(s, m.Name); v != nil && isKind(v) {
			return nil
		}
		return fmt.Errorf("%s file %s is in volume %s of the wrong type", flag, file, m.Name)
	}
	return fmt.Errorf("%s file %s is in no volume mount (%s)", flag, file, path.Dir(file))
}

func findVolume(s *corev1.PodSpec, name string) *corev1.Volume {
	for i := range s.Volumes {
		if s.Volumes[i].Name == name {
			return &s.Volumes[i]
		}
	}
	return nil
}

func isConfigMapVolume(v *corev1.Volume) bool { return v.ConfigMap != nil }

func isSecretVolume(v *corev1.Volume) bool { return v.Secret != nil }
