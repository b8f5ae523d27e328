package terraform

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
)

// FuzzLoad writes arbitrary bytes as a module's main.tf: the loader must
// not panic, and every error must point at a line of that file.
func FuzzLoad(f *testing.F) {
	nodeconfigtest.AddFiles(f, "testdata/*/main.tf")
	f.Add([]byte("locals {\n a = local.b\n b = local.a\n}\nresource \"aws_instance\" \"x\" {\n metadata_options { http_tokens = local.a }\n}\n"))
	f.Add([]byte("module \"m\" {\n source = \"./\"\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		file := filepath.Join(dir, "main.tf")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res := Load(context.Background(), []string{dir}, Options{})
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range res.Errors {
			if e.Source.File == "" || e.Source.Line < 1 || (e.Source.File == file && e.Source.Line > lines+1) {
				t.Errorf("error without a valid file:line: %q (input has %d lines)", e.Error(), lines)
			}
		}
	})
}
