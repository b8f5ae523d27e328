package manifest

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// str reads a string. It reports false when the value is absent, null or
// not a string (the last is recorded as an error).
func (w *walker) str(n *yaml.Node, path string) (string, bool) {
	n = w.resolve(n)
	if isNull(n) {
		return "", false
	}
	if !isString(n) {
		w.failf(n, path, "expected a string, got %s", typeName(n))
		return "", false
	}
	return w.d.strs.intern(n.Value), true
}

// itemStr reads a string item of a list, where null is an error too.
func (w *walker) itemStr(n *yaml.Node, path string) (string, bool) {
	s, ok := w.str(n, path)
	if !ok && isNull(w.resolve(n)) {
		w.failf(n, path, "expected a string, got null")
	}
	return s, ok
}

// requiredMapping reads a mapping that must be there: null is an error
// too. It returns nil when the value is not a mapping.
func (w *walker) requiredMapping(n *yaml.Node, path string) *mapping {
	m := w.mapping(n, path)
	if m == nil && isNull(w.resolve(n)) {
		w.failf(n, path, "expected a mapping, got null")
	}
	return m
}

// isString reports whether a resolved scalar is a string to Kubernetes.
func isString(n *yaml.Node) bool {
	if _, ok := yaml11Bool(n); ok {
		return false
	}
	t := n.ShortTag()
	return n.Kind == yaml.ScalarNode && (t == "!!str" || t == "!!timestamp")
}

// boolean reads a boolean; absent and null read as false.
func (w *walker) boolean(n *yaml.Node, path string) bool {
	n = w.resolve(n)
	if isNull(n) {
		return false
	}
	if v, ok := yaml11Bool(n); ok {
		return v
	}
	var v bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		w.failf(n, path, "expected a boolean, got %s", typeName(n))
	}
	return v
}

// integer reads an integer. It reports false when the value is absent, null
// or not an integer (the last is recorded as an error).
func (w *walker) integer(n *yaml.Node, path string) (int64, bool) {
	n = w.resolve(n)
	if isNull(n) {
		return 0, false
	}
	var v int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		w.failf(n, path, "expected an integer, got %s", typeName(n))
		return 0, false
	}
	if err := n.Decode(&v); err != nil {
		w.failf(n, path, "integer %s is out of range", n.Value)
		return 0, false
	}
	return v, true
}

// seq reads a sequence; absent and null read as empty.
func (w *walker) seq(n *yaml.Node, path string) []*yaml.Node {
	n = w.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		w.failf(n, path, "expected a sequence, got %s", typeName(n))
		return nil
	}
	return n.Content
}

// strings reads a sequence of strings.
func (w *walker) strings(n *yaml.Node, path string) []string {
	items := w.seq(n, path)
	out := make([]string, 0, len(items))
	for i, it := range items {
		it = w.resolve(it)
		if it != nil && isNull(it) {
			w.failf(it, index(path, i), "expected a string, got null")
			continue
		}
		if s, ok := w.str(it, index(path, i)); ok {
			out = append(out, s)
		}
	}
	return out
}

// labels reads a map of strings such as labels: nil when absent, else a
// set shared with equal ones (intern.go). A null value reads as the empty
// string, as it does for Kubernetes.
func (w *walker) labels(n *yaml.Node, path string) model.Labels {
	t := w.d.strs
	t.pairs = t.pairs[:0]
	if !w.strPairs(n, path, func(k, v string) { t.pairs = append(t.pairs, [2]string{k, v}) }) {
		return nil
	}
	return t.labelSet(t.pairs)
}

// annotations reads a map of strings such as annotations, checking every
// entry but keeping only those keep accepts; nil when it keeps none.
func (w *walker) annotations(n *yaml.Node, path string, keep func(string) bool) map[string]string {
	var out map[string]string
	w.strPairs(n, path, func(k, v string) {
		if keep(k) {
			if out == nil {
				out = map[string]string{}
			}
			out[w.d.strs.intern(k)] = w.d.strs.intern(v)
		}
	})
	return out
}

// strPairs calls fn with each entry of a map of strings that reads
// cleanly, and reports whether the map is there at all.
func (w *walker) strPairs(n *yaml.Node, path string, fn func(k, v string)) bool {
	m := w.mapping(n, path)
	if m == nil {
		return false
	}
	for _, f := range m.fields {
		s := ""
		if v := w.resolve(f.v); !isNull(v) {
			if !isString(v) {
				w.str(v, join(path, f.key)) // records the error
				continue
			}
			s = v.Value
		}
		fn(f.key, s)
	}
	return true
}

// requiredStr reads a string field of m that must be set and not empty.
func (w *walker) requiredStr(m *mapping, path, key string) string {
	before := len(w.errs)
	s, _ := w.str(m.value(key), join(path, key))
	if s == "" && len(w.errs) == before {
		at := m.node
		if f := m.get(key); f != nil {
			at = f.k
		}
		w.failf(at, join(path, key), "required field missing")
	}
	return s
}
