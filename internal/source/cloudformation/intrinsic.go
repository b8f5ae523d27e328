package cloudformation

import (
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// deployTime are the intrinsic functions whose result is known only when
// the stack is deployed (or that imdsguard does not need to compute).
var deployTime = map[string]bool{
	"Fn::Base64": true, "Fn::GetAZs": true, "Fn::ImportValue": true, "Fn::Cidr": true,
	"Fn::Length": true, "Fn::ToJsonString": true, "Fn::Transform": true,
}

// functionName maps a short-form tag (!Ref, !Sub, ...) to its long form.
func functionName(tag string) string {
	switch tag {
	case "!Ref":
		return "Ref"
	case "!Condition":
		return "Condition"
	}
	return "Fn::" + tag[1:]
}

// isFunction reports whether a single mapping key calls an intrinsic function.
func isFunction(key string) bool {
	return key == "Ref" || strings.HasPrefix(key, "Fn::")
}

// untagged returns a copy of a short-form node without its tag: the
// function's argument.
func untagged(n *yaml.Node) *yaml.Node {
	arg := *n
	arg.Tag = ""
	if arg.Kind == yaml.ScalarNode && arg.Style == 0 {
		arg.Style = yaml.DoubleQuotedStyle // a tagged plain scalar is a string
	}
	return &arg
}

// eval evaluates a value of the template, applying intrinsic functions.
func (p *parser) eval(n *yaml.Node, path string, depth int) val {
	n = p.Resolve(n)
	if n == nil {
		return val{}
	}
	if depth > maxDepth {
		p.Failf(n, path, "nested deeper than %d levels", maxDepth)
		return unresolvedf("nested too deeply")
	}
	if isCustomTag(n.Tag) {
		return p.call(functionName(n.Tag), untagged(n), n, path, depth)
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 2 {
			if k := p.Resolve(n.Content[0]); k != nil && k.Kind == yaml.ScalarNode && isFunction(k.Value) {
				return p.call(k.Value, n.Content[1], n, yamlfield.Join(path, k.Value), depth)
			}
		}
		return val{kind: mapping, m: n}
	case yaml.SequenceNode:
		v := val{kind: list}
		for i, it := range n.Content {
			if item := p.eval(it, yamlfield.Index(path, i), depth+1); item.kind != absent {
				v.list = append(v.list, item)
			}
		}
		return v
	case yaml.ScalarNode:
		if yamlfield.IsNull(n) {
			return val{}
		}
		return text(n.Value)
	}
	return val{}
}

// call applies an intrinsic function to its argument. at is the node that
// calls it, for positions.
func (p *parser) call(fn string, arg, at *yaml.Node, path string, depth int) val {
	switch fn {
	case "Ref":
		return p.ref(arg, at, path)
	case "Fn::GetAtt":
		return p.getAtt(arg, at, path, depth)
	case "Fn::Sub":
		return p.sub(arg, path, depth)
	case "Fn::If":
		return p.fnIf(arg, path, depth)
	case "Fn::Equals":
		return p.equals(arg, path, depth)
	case "Fn::Not", "Fn::And", "Fn::Or":
		return p.logic(fn, arg, path, depth)
	case "Condition":
		if name, ok := p.literalString(arg, path); ok {
			return p.condition(name, at, path)
		}
		return invalid("Condition")
	case "Fn::FindInMap":
		return p.findInMap(arg, path, depth)
	case "Fn::Select":
		return p.selectFn(arg, path, depth)
	case "Fn::Join":
		return p.joinFn(arg, path, depth)
	case "Fn::Split":
		return p.splitFn(arg, path, depth)
	}
	if deployTime[fn] {
		return unresolvedf("%s is evaluated only at deploy time", fn)
	}
	p.Failf(at, path, "unknown intrinsic function %s", fn)
	return unresolvedf("unknown intrinsic function %s", fn)
}

// args reads the argument list of a function, which must have between lo
// and hi items.
func (p *parser) args(fn string, arg *yaml.Node, path string, lo, hi int) ([]*yaml.Node, bool) {
	arg = p.Resolve(arg)
	if arg == nil {
		return nil, false
	}
	if arg.Kind != yaml.SequenceNode || isCustomTag(arg.Tag) {
		p.Failf(arg, path, "%s needs a list of arguments, got %s", fn, typeName(arg))
		return nil, false
	}
	if n := len(arg.Content); n < lo || n > hi {
		want := strconv.Itoa(lo)
		if hi != lo {
			want += " to " + strconv.Itoa(hi)
		}
		p.Failf(arg, path, "%s needs %s arguments, got %d", fn, want, n)
		return nil, false
	}
	return arg.Content, true
}

// invalid is the value of a function call that was reported as an error.
func invalid(fn string) val { return unresolvedf("invalid %s", fn) }

// ref resolves Ref: a parameter, a pseudo parameter or a resource.
func (p *parser) ref(arg, at *yaml.Node, path string) val {
	name, ok := p.literalString(arg, path)
	if !ok {
		return invalid("Ref")
	}
	return p.name(name, at, path)
}

// name resolves a name as Ref does.
func (p *parser) name(name string, at *yaml.Node, path string) val {
	if v, ok := p.pseudo(name); ok {
		return v
	}
	if v, ok := p.params[name]; ok {
		return v
	}
	if _, ok := p.resources[name]; ok {
		return val{kind: resource, s: name}
	}
	p.Failf(at, path, "%q is not a parameter or a resource", name)
	return unresolvedf("%s is not a parameter or a resource", name)
}

// getAtt resolves Fn::GetAtt to the resource it names: "A.B" or [A, B].
func (p *parser) getAtt(arg, at *yaml.Node, path string, depth int) val {
	arg = p.Resolve(arg)
	if arg == nil {
		return invalid("Fn::GetAtt")
	}
	var id, attr string
	if arg.Kind == yaml.ScalarNode && !isCustomTag(arg.Tag) {
		var ok bool
		if id, attr, ok = strings.Cut(arg.Value, "."); !ok {
			p.Failf(arg, path, "Fn::GetAtt needs \"Resource.Attribute\", got %q", arg.Value)
			return invalid("Fn::GetAtt")
		}
	} else {
		items, ok := p.args("Fn::GetAtt", arg, path, 2, 2)
		if !ok {
			return invalid("Fn::GetAtt")
		}
		if id, ok = p.literalString(items[0], yamlfield.Index(path, 0)); !ok {
			return invalid("Fn::GetAtt")
		}
		a := p.eval(items[1], yamlfield.Index(path, 1), depth+1)
		if a.kind != scalar {
			return unresolvedf("attribute of Fn::GetAtt %s is %s", id, a.describe())
		}
		attr = a.s
	}
	if _, ok := p.resources[id]; !ok {
		p.Failf(at, path, "Fn::GetAtt names %q, which is not a resource", id)
		return invalid("Fn::GetAtt")
	}
	return val{kind: resource, s: id, attr: attr}
}

// sub resolves Fn::Sub: a string, or [string, {name: value}].
func (p *parser) sub(arg *yaml.Node, path string, depth int) val {
	arg = p.Resolve(arg)
	if arg == nil {
		return invalid("Fn::Sub")
	}
	vars := map[string]val{}
	tmpl := arg
	if arg.Kind == yaml.SequenceNode {
		items, ok := p.args("Fn::Sub", arg, path, 2, 2)
		if !ok {
			return invalid("Fn::Sub")
		}
		tmpl = items[0]
		if m := p.Resolve(items[1]); m != nil && m.Kind == yaml.MappingNode {
			names, _, vs := p.Pairs(m, yamlfield.Index(path, 1))
			for i, name := range names {
				vars[name] = p.eval(vs[i], yamlfield.Join(yamlfield.Index(path, 1), name), depth+1)
			}
		} else if m != nil {
			p.Failf(m, yamlfield.Index(path, 1), "expected a mapping of variables, got %s", typeName(m))
			return invalid("Fn::Sub")
		}
	}
	s, ok := p.literalString(tmpl, path)
	if !ok {
		return invalid("Fn::Sub")
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return text(b.String())
		}
		b.WriteString(s[:i])
		s = s[i+2:]
		if rest, ok := strings.CutPrefix(s, "!"); ok {
			b.WriteString("${")
			s = rest
			continue
		}
		j := strings.IndexByte(s, '}')
		if j < 0 {
			p.Failf(tmpl, path, "unterminated ${ in Fn::Sub")
			return invalid("Fn::Sub")
		}
		name := strings.TrimSpace(s[:j])
		s = s[j+1:]
		v, ok := vars[name]
		if !ok {
			v = p.subName(name, tmpl, path)
		}
		switch v.kind {
		case scalar:
			b.WriteString(v.s)
		case unresolved:
			return v
		case resource:
			return unresolvedf("Fn::Sub uses ${%s}, known only at deploy time", v.refName())
		default:
			return unresolvedf("Fn::Sub uses ${%s}, which is %s", name, v.describe())
		}
	}
}

// subName resolves a ${name} of Fn::Sub that is not one of its variables:
// a parameter, a pseudo parameter, a resource or Resource.Attribute.
func (p *parser) subName(name string, at *yaml.Node, path string) val {
	if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
		if _, ok := p.resources[id]; !ok {
			p.Failf(at, path, "${%s} names %q, which is not a resource", name, id)
			return invalid("Fn::Sub")
		}
		return val{kind: resource, s: id, attr: attr}
	}
	return p.name(name, at, path)
}

// fnIf resolves Fn::If [condition, then, else]. When the condition is
// unresolved the result is too, unless both branches agree.
func (p *parser) fnIf(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::If", arg, path, 3, 3)
	if !ok {
		return invalid("Fn::If")
	}
	name, ok := p.literalString(items[0], yamlfield.Index(path, 0))
	if !ok {
		return invalid("Fn::If")
	}
	c := p.condition(name, items[0], yamlfield.Index(path, 0))
	value, known, ok := c.truth()
	switch {
	case !ok:
		return invalid("Fn::If")
	case known && value:
		return p.eval(items[1], yamlfield.Index(path, 1), depth+1)
	case known:
		return p.eval(items[2], yamlfield.Index(path, 2), depth+1)
	}
	a, b := p.eval(items[1], yamlfield.Index(path, 1), depth+1), p.eval(items[2], yamlfield.Index(path, 2), depth+1)
	if a.kind == b.kind && (a.kind == absent || a.kind == scalar && a.s == b.s) {
		return a
	}
	return val{kind: unresolved, why: c.why}
}

// equals resolves Fn::Equals [a, b].
func (p *parser) equals(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::Equals", arg, path, 2, 2)
	if !ok {
		return invalid("Fn::Equals")
	}
	a, b := p.eval(items[0], yamlfield.Index(path, 0), depth+1), p.eval(items[1], yamlfield.Index(path, 1), depth+1)
	switch {
	case a.kind == unresolved:
		return a
	case b.kind == unresolved:
		return b
	case a.kind == scalar && b.kind == scalar:
		return boolean(a.s == b.s)
	case a.kind == resource || b.kind == resource:
		return unresolvedf("Fn::Equals compares a resource, known only at deploy time")
	}
	return unresolvedf("Fn::Equals compares %s with %s", a.describe(), b.describe())
}

// logic resolves Fn::Not, Fn::And and Fn::Or. A false And or a true Or is
// known even when some of its conditions are not.
func (p *parser) logic(fn string, arg *yaml.Node, path string, depth int) val {
	lo, hi := 2, 10
	if fn == "Fn::Not" {
		lo, hi = 1, 1
	}
	items, ok := p.args(fn, arg, path, lo, hi)
	if !ok {
		return invalid(fn)
	}
	why := ""
	for i, it := range items {
		value, known, w := p.truthOf(it, yamlfield.Index(path, i), depth)
		switch {
		case !known:
			if why == "" {
				why = w
			}
		case fn == "Fn::Not":
			return boolean(!value)
		case fn == "Fn::And" && !value:
			return boolean(false)
		case fn == "Fn::Or" && value:
			return boolean(true)
		}
	}
	if why != "" {
		return val{kind: unresolved, why: why}
	}
	return boolean(fn == "Fn::And")
}

// scalars evaluates the arguments of a function that all must be scalars.
func (p *parser) scalars(fn string, items []*yaml.Node, path string, depth int) ([]string, val, bool) {
	out := make([]string, len(items))
	for i, it := range items {
		v := p.eval(it, yamlfield.Index(path, i), depth+1)
		switch v.kind {
		case scalar:
			out[i] = v.s
		case unresolved:
			return nil, v, false
		default:
			return nil, unresolvedf("argument %d of %s is %s", i+1, fn, v.describe()), false
		}
	}
	return out, val{}, true
}

// findInMap resolves Fn::FindInMap [map, top key, second key].
func (p *parser) findInMap(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::FindInMap", arg, path, 3, 3)
	if !ok {
		return invalid("Fn::FindInMap")
	}
	keys, bad, ok := p.scalars("Fn::FindInMap", items, path, depth)
	if !ok {
		return bad
	}
	m := p.mappings
	for i, k := range keys {
		if m == nil || m.Kind != yaml.MappingNode {
			break
		}
		_, next := p.Field(m, "Mappings", k)
		if next = p.Resolve(next); next == nil {
			p.Failf(items[i], path, "Mappings has no %s", strings.Join(keys[:i+1], "."))
			return invalid("Fn::FindInMap")
		}
		if i == len(keys)-1 {
			return p.eval(next, "Mappings."+strings.Join(keys, "."), depth+1)
		}
		m = next
	}
	p.Failf(arg, path, "Mappings has no %s", strings.Join(keys, "."))
	return invalid("Fn::FindInMap")
}

// selectFn resolves Fn::Select [index, list].
func (p *parser) selectFn(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::Select", arg, path, 2, 2)
	if !ok {
		return invalid("Fn::Select")
	}
	idx, bad, ok := p.scalars("Fn::Select", items[:1], path, depth)
	if !ok {
		return bad
	}
	i, err := strconv.Atoi(idx[0])
	if err != nil || i < 0 {
		p.Failf(items[0], yamlfield.Index(path, 0), "Fn::Select needs an index, got %q", idx[0])
		return invalid("Fn::Select")
	}
	l := p.eval(items[1], yamlfield.Index(path, 1), depth+1)
	switch {
	case l.kind == unresolved:
		return l
	case l.kind != list:
		p.Failf(items[1], yamlfield.Index(path, 1), "Fn::Select needs a list, got %s", l.describe())
		return invalid("Fn::Select")
	case i >= len(l.list):
		p.Failf(items[0], yamlfield.Index(path, 0), "Fn::Select index %d is out of range (the list has %d items)", i, len(l.list))
		return invalid("Fn::Select")
	}
	return l.list[i]
}

// joinFn resolves Fn::Join [delimiter, list].
func (p *parser) joinFn(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::Join", arg, path, 2, 2)
	if !ok {
		return invalid("Fn::Join")
	}
	delim, bad, ok := p.scalars("Fn::Join", items[:1], path, depth)
	if !ok {
		return bad
	}
	l := p.eval(items[1], yamlfield.Index(path, 1), depth+1)
	if l.kind == unresolved {
		return l
	}
	if l.kind != list {
		p.Failf(items[1], yamlfield.Index(path, 1), "Fn::Join needs a list, got %s", l.describe())
		return invalid("Fn::Join")
	}
	parts := make([]string, len(l.list))
	for i, it := range l.list {
		switch it.kind {
		case scalar:
			parts[i] = it.s
		case unresolved:
			return it
		case resource:
			return unresolvedf("Fn::Join uses %s, known only at deploy time", it.refName())
		default:
			return unresolvedf("Fn::Join item %d is %s", i, it.describe())
		}
	}
	return text(strings.Join(parts, delim[0]))
}

// splitFn resolves Fn::Split [delimiter, string].
func (p *parser) splitFn(arg *yaml.Node, path string, depth int) val {
	items, ok := p.args("Fn::Split", arg, path, 2, 2)
	if !ok {
		return invalid("Fn::Split")
	}
	s, bad, ok := p.scalars("Fn::Split", items, path, depth)
	if !ok {
		return bad
	}
	if s[0] == "" {
		p.Failf(items[0], yamlfield.Index(path, 0), "Fn::Split needs a delimiter")
		return invalid("Fn::Split")
	}
	v := val{kind: list}
	for _, part := range strings.Split(s[1], s[0]) {
		v.list = append(v.list, text(part))
	}
	return v
}
