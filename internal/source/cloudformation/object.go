package cloudformation

import (
	"fmt"
	"strconv"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// object is a property that must be a mapping, after intrinsic functions:
// a literal mapping, absent, or unresolved (an Fn::If on an unknown
// condition), in which case every field read from it is unresolved too.
type object struct {
	m    *yaml.Node
	at   *yaml.Node
	path string
	why  string
}

// object evaluates n as a mapping.
func (p *parser) object(n *yaml.Node, path string) object {
	v := p.eval(n, path, 0)
	switch v.kind {
	case absent:
		return object{path: path}
	case mapping:
		return object{m: v.m, at: n, path: path}
	case unresolved:
		return object{at: n, path: path, why: v.why}
	}
	p.Failf(n, path, "expected a mapping, got %s", v.describe())
	return object{at: n, path: path, why: "invalid " + path}
}

// present reports whether the property was written (and not removed).
func (o object) present() bool { return o.m != nil || o.why != "" }

// field evaluates a field of o; n is where it was written.
func (p *parser) field(o object, key string) (v val, n *yaml.Node) {
	if o.m == nil {
		if o.why != "" {
			return val{kind: unresolved, why: o.why}, o.at
		}
		return val{}, nil
	}
	_, n = p.Field(o.m, o.path, key)
	if n == nil {
		return val{}, nil
	}
	return p.eval(n, yamlfield.Join(o.path, key), 1), n
}

// child reads a field of o as a mapping.
func (p *parser) child(o object, key string) object {
	path := yamlfield.Join(o.path, key)
	if o.m == nil {
		return object{at: o.at, path: path, why: o.why}
	}
	_, n := p.Field(o.m, o.path, key)
	if n == nil {
		return object{path: path}
	}
	return p.object(n, path)
}

// check validates a setting's text and returns it as it is kept; a
// non-empty problem makes the setting invalid.
type check func(s string) (raw, problem string)

func oneOf(a, b string) check {
	return func(s string) (string, string) {
		if s != a && s != b {
			return s, fmt.Sprintf("%q is not %q or %q", s, a, b)
		}
		return s, ""
	}
}

// hopLimit accepts 1-64, written as a number or a string.
func hopLimit(s string) (string, string) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 64 {
		return s, fmt.Sprintf("%q is not a hop limit (an integer from 1 to 64)", s)
	}
	return strconv.Itoa(n), ""
}

// setting reads a metadata option of o as written.
func (p *parser) setting(o object, key string, ok check) model.Value {
	v, n := p.field(o, key)
	path := yamlfield.Join(o.path, key)
	src := p.Source(n)
	switch v.kind {
	case absent:
		return model.Value{}
	case unresolved:
		return model.Value{State: model.Unresolved, Source: src, Why: v.why}
	case resource:
		return model.Value{State: model.Unresolved, Source: src, Why: v.refName() + " is known only at deploy time"}
	case scalar:
		raw, problem := ok(v.s)
		if problem != "" {
			p.Failf(n, path, "%s", problem)
			return model.Value{State: model.Unresolved, Raw: v.s, Source: src, Why: "invalid value: " + problem}
		}
		return model.Value{State: model.Set, Raw: raw, Source: src}
	}
	p.Failf(n, path, "expected a string or number, got %s", v.describe())
	return model.Value{State: model.Unresolved, Source: src, Why: "invalid value: " + v.describe()}
}

// str reads a field of o that must be a string, when it is known.
func (p *parser) str(o object, key string) (string, bool) {
	v, n := p.field(o, key)
	switch v.kind {
	case scalar:
		return v.s, true
	case list, mapping:
		p.Failf(n, yamlfield.Join(o.path, key), "expected a string, got %s", v.describe())
	}
	return "", false
}

// labels reads a mapping of Kubernetes labels. A label whose value is not
// known before deploy time is left out: a node group with fewer known
// labels matches fewer workloads, which then get the cluster's worst case.
func (p *parser) labels(o object) model.Labels {
	if o.m == nil {
		return nil
	}
	out := model.Labels{}
	keys, _, vs := p.Pairs(o.m, o.path)
	for i, k := range keys {
		switch v := p.eval(vs[i], yamlfield.Join(o.path, k), 1); v.kind {
		case scalar:
			out[k] = v.s
		case list, mapping:
			p.Failf(vs[i], yamlfield.Join(o.path, k), "expected a string, got %s", v.describe())
		}
	}
	return out
}
