package deploy

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var familyName = regexp.MustCompile(`^(lagscaler|kafka)_[a-z_]+$`)

// TestCatalogMatchesMetricsPackage compares the Catalog names with the metric
// family names that the Go source of the metrics package declares. Labels
// are compared only against a running server (CheckExposition).
func TestCatalogMatchesMetricsPackage(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "metrics")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no metrics package at %s: %v", dir, err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}

	var declared []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(node ast.Node) bool {
			lit, ok := node.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			if value, err := strconv.Unquote(lit.Value); err == nil && familyName.MatchString(value) {
				declared = append(declared, value)
			}
			return true
		})
	}
	slices.Sort(declared)
	declared = slices.Compact(declared)

	var catalog []string
	for _, f := range Catalog {
		catalog = append(catalog, f.Name)
	}
	slices.Sort(catalog)
	for _, name := range declared {
		if !slices.Contains(catalog, name) {
			t.Errorf("metrics package declares %s, which Catalog lacks", name)
		}
	}
	for _, name := range catalog {
		if !slices.Contains(declared, name) {
			t.Errorf("Catalog lists %s, which the metrics package does not declare", name)
		}
	}
}
