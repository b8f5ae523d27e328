package eksctl

import (
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// reader reads typed fields out of one document and collects every
// problem. eksctl configs often share node group settings through anchors
// and merge keys, so mappings are read with their merged fields.
type reader struct {
	yamlfield.Reader
}

// field is one key of a mapping.
type field struct {
	key  string
	k, v *yaml.Node
}

// mapping is a mapping's fields, with merged ones after its own.
type mapping struct {
	node   *yaml.Node
	path   string
	fields []field
}

func (m *mapping) get(key string) *field {
	if m == nil {
		return nil
	}
	for i := range m.fields {
		if m.fields[i].key == key {
			return &m.fields[i]
		}
	}
	return nil
}

func (m *mapping) value(key string) *yaml.Node {
	if f := m.get(key); f != nil {
		return f.v
	}
	return nil
}

// mapping reads a mapping; nil when absent, null or of another type (the
// last is recorded).
func (r *reader) mapping(n *yaml.Node, path string) *mapping {
	if n = r.Value(n); n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.Failf(n, path, "expected a mapping, got %s", typeName(n))
		return nil
	}
	return &mapping{node: n, path: path, fields: r.fields(n, path, 0)}
}

// fields lists a mapping's fields: duplicates are errors, and merge keys
// (`<<`) add the fields of other mappings that it does not set.
func (r *reader) fields(n *yaml.Node, path string, depth int) []field {
	var own, merged []field
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := r.Value(n.Content[i]), n.Content[i+1]
		switch {
		case k == nil:
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, r.merge(v, path, depth)...)
		case k.Kind != yaml.ScalarNode:
			r.Failf(k, path, "mapping key must be a string, got %s", typeName(k))
		default:
			if j, dup := seen[k.Value]; dup {
				r.Failf(k, yamlfield.Join(path, k.Value), "duplicate key (first at line %d)", r.Source(own[j].k).Line)
				continue
			}
			seen[k.Value] = len(own)
			own = append(own, field{key: k.Value, k: k, v: v})
		}
	}
	for _, f := range merged {
		if _, ok := seen[f.key]; !ok {
			seen[f.key] = -1
			own = append(own, f)
		}
	}
	return own
}

// maxMergeDepth bounds merge keys that merge mappings with merge keys.
const maxMergeDepth = 16

// merge returns the fields a merge key brings in: those of a mapping, or
// of a sequence of mappings where earlier ones win.
func (r *reader) merge(v *yaml.Node, path string, depth int) []field {
	if depth >= maxMergeDepth {
		r.Failf(v, yamlfield.Join(path, "<<"), "merge keys nested deeper than %d", maxMergeDepth)
		return nil
	}
	v = r.Value(v)
	switch {
	case v == nil:
		return nil
	case v.Kind == yaml.MappingNode:
		return r.fields(v, path, depth+1)
	case v.Kind == yaml.SequenceNode:
		var out []field
		for _, it := range v.Content {
			if it = r.Value(it); it == nil {
				continue
			}
			if it.Kind != yaml.MappingNode {
				r.Failf(it, yamlfield.Join(path, "<<"), "merge key needs mappings, got %s", typeName(it))
				continue
			}
			out = append(out, r.fields(it, path, depth+1)...)
		}
		return out
	}
	r.Failf(v, yamlfield.Join(path, "<<"), "merge key needs a mapping, got %s", typeName(v))
	return nil
}

// str reads a string field of m.
func (r *reader) str(m *mapping, key string) (string, bool) {
	n := r.Value(m.value(key))
	if n == nil {
		return "", false
	}
	if !isString(n) {
		r.Failf(n, yamlfield.Join(m.path, key), "expected a string, got %s", typeName(n))
		return "", false
	}
	return n.Value, true
}

// boolean reads a boolean field of m as a Value, "true" or "false". eksctl
// decodes YAML 1.1, where yes/no and on/off are booleans too.
func (r *reader) boolean(m *mapping, key string) model.Value {
	n := r.Value(m.value(key))
	if n == nil {
		return model.Value{}
	}
	if b, ok := yaml11Bool(n); ok {
		return model.Value{State: model.Set, Raw: strconv.FormatBool(b), Source: r.Source(n)}
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		r.Failf(n, yamlfield.Join(m.path, key), "expected a boolean, got %s", typeName(n))
		return model.Value{State: model.Unresolved, Raw: n.Value, Source: r.Source(n), Why: "invalid value: expected a boolean"}
	}
	return model.Value{State: model.Set, Raw: strconv.FormatBool(b), Source: r.Source(n)}
}

// strMap reads a mapping of strings, such as labels.
func (r *reader) strMap(m *mapping, key string) model.Labels {
	lm := r.mapping(m.value(key), yamlfield.Join(m.path, key))
	if lm == nil {
		return nil
	}
	out := make(model.Labels, len(lm.fields))
	for _, f := range lm.fields {
		if s, ok := r.str(lm, f.key); ok {
			out[f.key] = s
		} else if r.Value(f.v) == nil {
			out[f.key] = ""
		}
	}
	return out
}

// isString reports whether a scalar is a string to eksctl's YAML 1.1 decoder.
func isString(n *yaml.Node) bool {
	if _, ok := yaml11Bool(n); ok {
		return false
	}
	t := n.ShortTag()
	return n.Kind == yaml.ScalarNode && (t == "!!str" || t == "!!timestamp")
}

// yaml11Bool reads the plain scalars that YAML 1.1 takes for booleans
// although YAML 1.2 takes them for strings.
func yaml11Bool(n *yaml.Node) (value, ok bool) {
	if n.Kind != yaml.ScalarNode || n.Style != 0 {
		return false, false
	}
	switch n.Value {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON":
		return true, true
	case "n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return false, true
	}
	return false, false
}

// typeName names what a node holds as eksctl's YAML 1.1 decoder sees it:
// yes/no and on/off are booleans, timestamps are strings.
func typeName(n *yaml.Node) string {
	if _, ok := yaml11Bool(n); ok {
		return "a boolean"
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		return "a string"
	}
	return yamlfield.TypeName(n)
}
