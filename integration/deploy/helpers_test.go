package deploy

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// repoRoot returns the repository root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy")); err != nil {
		t.Fatalf("repository root %s has no deploy directory: %v", root, err)
	}
	return root
}

var (
	treeOnce sync.Once
	treeDocs []Document
	treeErr  error
)

// deployTree returns every object under deploy/, decoded once per test
// binary. A decoding error fails the calling test.
func deployTree(t *testing.T) []Document {
	t.Helper()
	root := repoRoot(t)
	treeOnce.Do(func() {
		treeDocs, treeErr = LoadTree(filepath.Join(root, "deploy"))
	})
	if treeErr != nil {
		t.Fatalf("LoadTree(deploy) = %v", treeErr)
	}
	return treeDocs
}

// lagscalerDeployment returns the Deployment named lagscaler from docs.
func lagscalerDeployment(t *testing.T, docs []Document) *appsv1.Deployment {
	t.Helper()
	for _, d := range Find[*appsv1.Deployment](docs) {
		if d.Name == "lagscaler" {
			return d
		}
	}
	t.Fatal("no Deployment named lagscaler")
	return nil
}

// findNamed returns the object of type T with the given namespace and name.
func findNamed[T interface {
	GetName() string
	GetNamespace() string
}](docs []Document, namespace, name string) (T, bool) {
	for _, obj := range Find[T](docs) {
		if obj.GetName() == name && obj.GetNamespace() == namespace {
			return obj, true
		}
	}
	var zero T
	return zero, false
}
