package cloudformation

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// readConditions evaluates every declared condition once, so that its
// errors are reported once, against the condition.
func (p *parser) readConditions(section *yaml.Node) {
	if section == nil {
		return
	}
	names, _, vs := p.Pairs(section, "Conditions")
	for i, name := range names {
		p.conditions[name] = vs[i]
	}
	for i, name := range names {
		p.Object = model.ObjectRef{Kind: "Condition", Name: name}
		p.condition(name, vs[i], "")
	}
	p.Object = model.ObjectRef{}
}

// condition returns the value of a named condition; at is where it is
// used, for the error when it is not declared.
func (p *parser) condition(name string, at *yaml.Node, path string) val {
	if v, ok := p.condVals[name]; ok {
		return v
	}
	n, ok := p.conditions[name]
	if !ok {
		p.Failf(at, path, "condition %q is not declared", name)
		return unresolvedf("condition %s is not declared", name)
	}
	if p.condBusy[name] {
		p.Failf(at, path, "condition %q refers to itself", name)
		return unresolvedf("condition %s refers to itself", name)
	}
	p.condBusy[name] = true
	saved := p.Object
	p.Object = model.ObjectRef{Kind: "Condition", Name: name}
	v := p.evalCond(n, "Conditions."+name, 0)
	if _, _, ok := v.truth(); !ok {
		p.Failf(n, "Conditions."+name, "expected a condition (true or false), got %s", v.describe())
		v = unresolvedf("condition %s is not valid", name)
	}
	if v.kind == unresolved {
		v = unresolvedf("condition %s is unresolved: %s", name, v.why)
	}
	p.Object = saved
	delete(p.condBusy, name)
	p.condVals[name] = v
	return v
}

// evalCond evaluates a condition expression, where {Condition: name} names
// another condition.
func (p *parser) evalCond(n *yaml.Node, path string, depth int) val {
	n = p.Resolve(n)
	if n == nil {
		return val{}
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		if k := p.Resolve(n.Content[0]); k != nil && k.Kind == yaml.ScalarNode && k.Value == "Condition" {
			if name, ok := p.literalString(n.Content[1], yamlfield.Join(path, "Condition")); ok {
				return p.condition(name, n, path)
			}
			return unresolvedf("invalid condition")
		}
	}
	return p.eval(n, path, depth)
}

// truthOf evaluates a condition expression to a boolean.
func (p *parser) truthOf(n *yaml.Node, path string, depth int) (value, known bool, why string) {
	v := p.evalCond(n, path, depth+1)
	value, known, ok := v.truth()
	if !ok {
		p.Failf(n, path, "expected a condition (true or false), got %s", v.describe())
		return false, false, "invalid condition"
	}
	return value, known, v.why
}
