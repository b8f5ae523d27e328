package awsjson

import (
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// reader reads typed fields out of one document and collects every
// problem. The CLI's output has no aliases and no merge keys; hostile input
// may, and yamlfield bounds them.
type reader struct {
	yamlfield.Reader
}

// setting reads a metadata option: a string one of two values, or with
// number set, an integer from 1 to 64.
func (r *reader) setting(m *yaml.Node, path, key string, allowed ...string) model.Value {
	n := r.Value(r.Get(m, path, key))
	if n == nil {
		return model.Value{}
	}
	path = yamlfield.Join(path, key)
	bad := func(format string, args ...any) model.Value {
		r.Failf(n, path, format, args...)
		return model.Value{State: model.Unresolved, Raw: n.Value, Source: r.Source(n), Why: "invalid value: " + fmt.Sprintf(format, args...)}
	}
	if allowed == nil {
		v, err := strconv.Atoi(n.Value)
		switch {
		case n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int":
			return bad("expected an integer, got %s", yamlfield.TypeName(n))
		case err != nil || v < 1 || v > 64:
			return bad("%s is not a hop limit (an integer from 1 to 64)", n.Value)
		}
		return model.Value{State: model.Set, Raw: strconv.Itoa(v), Source: r.Source(n)}
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return bad("expected a string, got %s", yamlfield.TypeName(n))
	}
	if n.Value != allowed[0] && n.Value != allowed[1] {
		return bad("%q is not %q or %q", n.Value, allowed[0], allowed[1])
	}
	return model.Value{State: model.Set, Raw: n.Value, Source: r.Source(n)}
}
