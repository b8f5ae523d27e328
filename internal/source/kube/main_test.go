package kube_test

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/testenv"
)

// The tests of this package share one control plane.
func TestMain(m *testing.M) { testenv.Main(m) }

// readObjects decodes every object (Lists expanded) of YAML or JSON files.
func readObjects(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testenv.DecodeObjects(t, b)...)
	}
	return out
}

// glob returns the files matching pattern.
func glob(t *testing.T, pattern string) []string {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no files match %s", pattern)
	}
	return files
}

// create creates fixtures in the API server as the admin (testenv.CreateAll).
func create(t *testing.T, env *testenv.Env, objs []*unstructured.Unstructured) {
	t.Helper()
	env.CreateAll(t, objs)
}
