package cloudformation

import (
	"os"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// parseWithParams parses a testdata template with the overrides its
// "# param: NAME=VALUE" comments give.
func parseWithParams(file string, base int, root *yaml.Node) ([]*model.NodeConfig, []*yamlfield.Error) {
	b, err := os.ReadFile(file)
	if err != nil {
		// Reported as an unexpected error by the table.
		return nil, []*yamlfield.Error{{Source: model.Source{File: file}, Msg: err.Error()}}
	}
	opts := Options{Parameters: map[string]string{}}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "# param: "); ok {
			k, v, _ := strings.Cut(rest, "=")
			opts.Parameters[k] = v
		}
	}
	return Parse(file, base, root, opts)
}

// TestValid parses each testdata/valid-* template, expects no error, and
// compares the node configs with the golden file.
func TestValid(t *testing.T) { nodeconfigtest.Valid(t, parseWithParams) }

// TestInvalid parses each testdata/invalid-* template and expects exactly
// the errors its "# want: LINE: TEXT" comments name.
func TestInvalid(t *testing.T) { nodeconfigtest.Invalid(t, parseWithParams) }
