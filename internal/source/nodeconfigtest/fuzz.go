package nodeconfigtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// AddFiles adds the files matching a glob pattern to a fuzz target's seed
// corpus.
func AddFiles(f *testing.F, pattern string) {
	f.Helper()
	seeds, _ := filepath.Glob(pattern)
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
}

// Fuzz returns a fuzz target that decodes arbitrary input and parses it as
// lines 11 on of "in.yaml": parse must not panic, and every error must
// point at a line of the input.
func Fuzz(parse ParseFunc) func(*testing.T, []byte) {
	return func(t *testing.T, data []byte) {
		var root yaml.Node
		if yaml.Unmarshal(data, &root) != nil {
			return
		}
		_, errs := parse("in.yaml", 10, &root)
		lines := bytes.Count(data, []byte("\n")) + bytes.Count(data, []byte("\r")) + 1
		for _, e := range errs {
			if e.Source.File != "in.yaml" || e.Source.Line < 11 || e.Source.Line > 10+lines+1 {
				t.Errorf("error without a valid file:line: %q (input has %d lines)", e.Error(), lines)
			}
		}
	}
}
