package yamlfield

import (
	"fmt"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// MaxAliases bounds the alias dereferences of one document: configs share
// settings through anchors, and hostile input may expand them
// exponentially.
const MaxAliases = 10000

// Reader reads typed fields out of one document and collects every
// problem. Loaders embed it and add readers of their own types.
type Reader struct {
	// File and Base place the document in its file: a node's file line is
	// Base + node.Line.
	File string
	Base int
	// Object is what the errors being recorded are about.
	Object model.ObjectRef
	Errs   []*Error
	// TypeName names what a node holds in type errors; nil means the
	// package's TypeName. Loaders whose format reads scalars differently
	// (YAML 1.1 booleans, CloudFormation tags) name them their way.
	TypeName func(*yaml.Node) string

	aliases int
}

func (r *Reader) typeName(n *yaml.Node) string {
	if r.TypeName != nil {
		return r.TypeName(n)
	}
	return TypeName(n)
}

// Source returns the file position of a node; a nil node is at the
// document's first line.
func (r *Reader) Source(n *yaml.Node) model.Source {
	line := 1
	if n != nil {
		line = max(n.Line, 1)
	}
	return model.Source{File: r.File, Line: r.Base + line}
}

// Failf records a problem at node n, whose place in the object is path
// ("" for the object itself).
func (r *Reader) Failf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	r.Errs = append(r.Errs, &Error{Source: r.Source(n), Object: r.Object, Msg: msg})
}

// Resolve follows aliases. It returns nil when the alias budget is spent,
// recording that once.
func (r *Reader) Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		if r.aliases++; r.aliases > MaxAliases {
			if r.aliases == MaxAliases+1 {
				r.Failf(n, "", "too many alias expansions (YAML alias bomb?)")
			}
			return nil
		}
		n = n.Alias
	}
	return n
}

// Value follows aliases like Resolve, and returns nil for null values too,
// for formats where a null field is an absent one.
func (r *Reader) Value(n *yaml.Node) *yaml.Node {
	if n = r.Resolve(n); n != nil && IsNull(n) {
		return nil
	}
	return n
}

// Field returns the key and value nodes of a key of a mapping (nil when m
// is nil or the key absent), recording duplicate keys. Merge keys are not
// followed.
func (r *Reader) Field(m *yaml.Node, path, key string) (k, v *yaml.Node) {
	if m == nil {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := r.Resolve(m.Content[i])
		if kn == nil || kn.Kind != yaml.ScalarNode || kn.Value != key {
			continue
		}
		if k != nil {
			r.Failf(kn, Join(path, key), "duplicate key (first at line %d)", r.Source(k).Line)
			continue
		}
		k, v = kn, m.Content[i+1]
	}
	return k, v
}

// Get returns the value node of a key of a mapping, as Field does.
func (r *Reader) Get(m *yaml.Node, path, key string) *yaml.Node {
	_, v := r.Field(m, path, key)
	return v
}

// Pairs lists the fields of a mapping in order, recording keys that are not
// strings and duplicates (which are left out). Merge keys are not followed.
func (r *Reader) Pairs(m *yaml.Node, path string) (keys []string, ks, vs []*yaml.Node) {
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		kn := r.Resolve(m.Content[i])
		switch {
		case kn == nil:
			continue
		case kn.Kind != yaml.ScalarNode:
			r.Failf(kn, path, "mapping key must be a string, got %s", r.typeName(kn))
			continue
		case seen[kn.Value] != nil:
			r.Failf(kn, Join(path, kn.Value), "duplicate key (first at line %d)", r.Source(seen[kn.Value]).Line)
			continue
		}
		seen[kn.Value] = kn
		keys, ks, vs = append(keys, kn.Value), append(ks, kn), append(vs, m.Content[i+1])
	}
	return keys, ks, vs
}

// Mapping reads a mapping; nil when absent, null or of another type (the
// last is recorded).
func (r *Reader) Mapping(n *yaml.Node, path string) *yaml.Node {
	if n = r.Value(n); n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		r.Failf(n, path, "expected a mapping, got %s", r.typeName(n))
		return nil
	}
	return n
}

// Seq reads a sequence; nil when absent, null or of another type (the last
// is recorded).
func (r *Reader) Seq(n *yaml.Node, path string) []*yaml.Node {
	if n = r.Value(n); n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.Failf(n, path, "expected a list, got %s", r.typeName(n))
		return nil
	}
	return n.Content
}

// Str reads a string field of a mapping: false when absent, null or not a
// string (the last is recorded).
func (r *Reader) Str(m *yaml.Node, path, key string) (string, bool) {
	n := r.Value(r.Get(m, path, key))
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		r.Failf(n, Join(path, key), "expected a string, got %s", r.typeName(n))
		return "", false
	}
	return n.Value, true
}
