package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// TestDeploymentArgsAreServeFlags runs the binary with the arguments of the
// Kubernetes base's Deployment plus --help, so a renamed or removed flag
// fails here instead of in a crash-looping pod.
func TestDeploymentArgsAreServeFlags(t *testing.T) {
	binary := needBinary(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "base", "deployment.yaml"))
	if err != nil {
		t.Fatalf("reading the Deployment: %v", err)
	}
	var deployment appsv1.Deployment
	if err := yaml.Unmarshal(data, &deployment); err != nil {
		t.Fatalf("decoding the Deployment: %v", err)
	}

	var args []string
	for _, c := range deployment.Spec.Template.Spec.Containers {
		if c.Name == "lagscaler" {
			args = c.Args
		}
	}
	if len(args) == 0 {
		t.Fatal("the Deployment has no lagscaler container with args")
	}
	out, err := exec.Command(binary, append(args, "--help")...).CombinedOutput()
	if err != nil {
		t.Errorf("lagscaler %v --help: %v\n%s", args, err, out)
	}
}
