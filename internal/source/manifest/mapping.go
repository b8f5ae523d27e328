package manifest

import (
	"slices"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/slab"
)

// field is one key of a mapping, after merge keys are applied.
type field struct {
	key  string
	k, v *yaml.Node
}

// mapping is a YAML mapping read as an object: its fields in order, with
// merged fields after its own.
type mapping struct {
	node   *yaml.Node
	path   string
	fields []field
}

// get returns the named field, or nil.
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

// value returns the value of the named field, or nil.
func (m *mapping) value(key string) *yaml.Node {
	if f := m.get(key); f != nil {
		return f.v
	}
	return nil
}

// newMapping makes a mapping in the document's scratch memory.
func (w *walker) newMapping(n *yaml.Node, path string, fields []field) *mapping {
	m := w.d.scratch.mappings.One()
	*m = mapping{node: n, path: path, fields: fields}
	return m
}

// scratch is the memory that reading one document uses and drops, reused
// for the next document of the file: mappings and their fields never
// outlive the objects being read.
type scratch struct {
	mappings slab.Slab[mapping]
	fields   slab.Slab[field]
}

// mapping reads a mapping. It returns nil when the value is absent, null or
// not a mapping (the last is recorded as an error).
func (w *walker) mapping(n *yaml.Node, path string) *mapping {
	n = w.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		w.failf(n, path, "expected a mapping, got %s", typeName(n))
		return nil
	}
	return w.newMapping(n, path, w.fields(n, path))
}

// fields lists a mapping's fields. Duplicate keys are errors; merge keys
// (`<<`) add the fields of other mappings that the mapping does not set.
func (w *walker) fields(n *yaml.Node, path string) []field {
	own := w.d.scratch.fields.Take(len(n.Content) / 2)[:0]
	var merged []field
	var ix fieldIndex
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		kr := w.resolve(k)
		switch {
		case kr == nil:
		case kr.Kind == yaml.ScalarNode && kr.ShortTag() == "!!merge":
			merged = append(merged, w.merge(v, path)...)
		case kr.Kind != yaml.ScalarNode:
			w.failf(k, path, "mapping key must be a string, got %s", typeName(kr))
		default:
			if j := ix.find(own, kr.Value); j >= 0 {
				w.failf(k, join(path, kr.Value), "duplicate key (first at line %d)", w.d.source(own[j].k).Line)
				continue
			}
			own = ix.add(own, field{key: kr.Value, k: k, v: v})
		}
	}
	for _, f := range merged {
		if ix.find(own, f.key) < 0 {
			own = ix.add(own, f)
		}
	}
	return own
}

// maxScanned is the most fields looked through one by one; a larger
// mapping gets an index, so that a hostile one stays linear.
const maxScanned = 16

// fieldIndex finds fields by key: by scanning while there are few, through
// a map once there are many.
type fieldIndex map[string]int

func (ix fieldIndex) find(fs []field, key string) int {
	if ix != nil {
		if j, ok := ix[key]; ok {
			return j
		}
		return -1
	}
	for j := range fs {
		if fs[j].key == key {
			return j
		}
	}
	return -1
}

func (ix *fieldIndex) add(fs []field, f field) []field {
	fs = append(fs, f)
	switch {
	case *ix != nil:
		(*ix)[f.key] = len(fs) - 1
	case len(fs) > maxScanned:
		*ix = make(fieldIndex, 2*len(fs))
		for j := range fs {
			(*ix)[fs[j].key] = j
		}
	}
	return fs
}

// merge returns the fields a merge key brings in: those of a mapping, or of
// a sequence of mappings where earlier ones win.
func (w *walker) merge(v *yaml.Node, path string) []field {
	v = w.resolve(v)
	switch {
	case v == nil:
		return nil
	case v.Kind == yaml.MappingNode:
		return w.fields(v, path)
	case v.Kind == yaml.SequenceNode:
		var out []field
		for _, it := range v.Content {
			it = w.resolve(it)
			if it == nil {
				continue
			}
			if it.Kind != yaml.MappingNode {
				w.failf(it, join(path, "<<"), "merge key needs mappings, got %s", typeName(it))
				continue
			}
			out = append(out, w.fields(it, path)...)
		}
		return out
	}
	w.failf(v, join(path, "<<"), "merge key needs a mapping, got %s", typeName(v))
	return nil
}

// strict records an error for every field of m that is not allowed.
func (w *walker) strict(m *mapping, allowed ...string) {
	if m == nil {
		return
	}
	for _, f := range m.fields {
		if !slices.Contains(allowed, f.key) {
			w.failf(f.k, join(m.path, f.key), "unknown field")
		}
	}
}

// at follows a path of mapping fields from m without recording errors, for
// looking at objects before knowing what they are. It returns nil when any
// step is missing or not a mapping.
func (w *walker) at(m *mapping, keys ...string) *mapping {
	quiet := &walker{d: w.d}
	for _, k := range keys {
		if m == nil {
			return nil
		}
		n := quiet.resolve(m.value(k))
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		m = w.newMapping(n, join(m.path, k), quiet.fields(n, join(m.path, k)))
	}
	return m
}
