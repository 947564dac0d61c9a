package kafkatest

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
)

const (
	modulePath = "github.com/lagscaler/lagscaler"
	importPath = modulePath + "/internal/kafkatest"
)

func TestClusterSeedsTopicAndCommits(t *testing.T) {
	c := New(t, kfake.NumBrokers(3))
	if got := len(c.Addrs()); got != 3 {
		t.Fatalf("len(Addrs()) = %d, want 3", got)
	}
	c.CreateTopic(t, "orders", []int{3, 0, 2})
	c.Produce(t, "orders", []int{1, 1, 0})
	c.Commit(t, "flink", "orders", []int64{2, -1, 1})

	ends, err := c.Admin.ListEndOffsets(t.Context(), "orders")
	if err != nil {
		t.Fatalf("ListEndOffsets: %v", err)
	}
	gotEnds := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { gotEnds[o.Partition] = o.Offset })
	if diff := cmp.Diff(map[int32]int64{0: 4, 1: 1, 2: 2}, gotEnds); diff != "" {
		t.Errorf("end offsets (-want +got):\n%s", diff)
	}

	fetched, err := c.Admin.FetchOffsets(t.Context(), "flink")
	if err != nil {
		t.Fatalf("FetchOffsets: %v", err)
	}
	gotCommits := map[int32]int64{}
	fetched.Each(func(o kadm.OffsetResponse) { gotCommits[o.Partition] = o.At })
	if diff := cmp.Diff(map[int32]int64{0: 2, 2: 1}, gotCommits); diff != "" {
		t.Errorf("commits (-want +got):\n%s", diff)
	}
}

// TestNoProductFileImportsKafkatest parses the imports of every non-test Go
// file of the module and fails when one imports this package.
func TestNoProductFileImportsKafkatest(t *testing.T) {
	root := filepath.Join("..", "..")
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatalf("read go.mod of the module: %v", err)
	}
	if !bytes.HasPrefix(mod, []byte("module "+modulePath+"\n")) {
		t.Fatalf("%s does not declare module %s", filepath.Join(root, "go.mod"), modulePath)
	}

	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	scanned := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return skipDir(root, path, d.Name())
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if abs, _ := filepath.Abs(filepath.Dir(path)); abs == self {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		scanned++
		for _, spec := range f.Imports {
			if p, _ := strconv.Unquote(spec.Path.Value); p == importPath {
				t.Errorf("%s imports %s, but only _test.go files may import it", path, importPath)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	if scanned == 0 {
		t.Fatalf("found no non-test Go files under %s", root)
	}
}

// skipDir returns filepath.SkipDir for directories that contain no files of
// this module: nested modules, which cannot import its internal packages, and
// the directories the go command ignores.
func skipDir(root, path, name string) error {
	if path == root {
		return nil
	}
	if name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return filepath.SkipDir
	}
	if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
		return filepath.SkipDir
	}
	return nil
}
