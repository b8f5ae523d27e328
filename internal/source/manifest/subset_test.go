package manifest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/synth"
)

// loadBoth loads the same input with the subset parser and with yaml.v3
// alone, and reports any difference in what was read. stdin, when not nil,
// is the input of the path "-".
func loadBoth(t *testing.T, paths []string, stdin []byte) {
	t.Helper()
	opts := Options{MaxDocumentBytes: 1 << 16}
	if stdin != nil {
		opts.Stdin = bytes.NewReader(stdin)
	}
	fast := Load(context.Background(), paths, opts)
	if stdin != nil {
		opts.Stdin = bytes.NewReader(stdin)
	}
	opts.yamlOnly = true
	slow := Load(context.Background(), paths, opts)
	if d := cmp.Diff(renderAll(slow), renderAll(fast)); d != "" {
		t.Errorf("%v: the subset parser reads differently from yaml.v3 (-yaml.v3 +subset):\n%s", paths, d)
	}
}

// renderAll is render plus the node settings.
func renderAll(r *Result) string {
	s := render(r)
	for _, nc := range r.Inventory.NodeConfigs {
		s += fmt.Sprintf("nodeconfig %s %s %s %s %+v %+v %+v\n", nc.Cloud, nc.Kind, nc.Name, nc.Source, nc.AWS, nc.GKE, nc.AKS)
	}
	return s
}

// TestSubsetMatchesYAMLv3 is the differential test of the two decoding
// paths on every test input, the examples and a synthetic cluster.
func TestSubsetMatchesYAMLv3(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*.json")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	for _, f := range files {
		loadBoth(t, []string{f}, nil)
	}
	loadBoth(t, []string{"../../../examples"}, nil)
	dir := t.TempDir()
	if _, err := synth.Write(dir, synth.Spec{Namespaces: 30, WorkloadsPerNS: 10, PoliciesPerNS: 6, Seed: 7, NamespacesPerFile: 10}); err != nil {
		t.Fatal(err)
	}
	loadBoth(t, []string{dir}, nil)
	corpus, _ := filepath.Glob("testdata/fuzz/FuzzLoad/*")
	for _, f := range corpus {
		if data, ok := fuzzInput(t, f); ok {
			loadBoth(t, []string{"-"}, data)
		}
	}
}

// fuzzInput reads the []byte of a go test fuzz corpus file.
func fuzzInput(t *testing.T, path string) ([]byte, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v []byte
	if _, err := fmt.Sscanf(string(bytes.TrimPrefix(b, []byte("go test fuzz v1\n"))), "[]byte(%q)", &v); err != nil {
		return nil, false
	}
	return v, true
}
