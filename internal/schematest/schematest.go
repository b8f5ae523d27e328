// Package schematest compiles the JSON Schemas that tests validate reports
// against, offline. It is imported only by tests.
package schematest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// offline refuses every load, so that a schema reference not given to
// Compile fails the test instead of reaching the network.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, fmt.Errorf("refusing to fetch %s: tests run offline", url)
}

// Compile loads the schema files (each under its $id, or a made-up URL when
// it has none, so files can refer to each other) and compiles the first.
func Compile(t testing.TB, paths ...string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.AssertFormat()
	var first string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		url := "https://schemas.invalid/" + filepath.Base(p)
		if m, ok := doc.(map[string]any); ok {
			if id, ok := m["$id"].(string); ok && id != "" {
				url = id
			}
		}
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if first == "" {
			first = url
		}
	}
	s, err := c.Compile(first)
	if err != nil {
		t.Fatalf("compiling %s: %v", paths[0], err)
	}
	return s
}
