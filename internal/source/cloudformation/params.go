package cloudformation

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// readParameters resolves every declared parameter once: an override from
// Options, else its Default, else Unresolved.
func (p *parser) readParameters(section *yaml.Node) {
	if section == nil {
		return
	}
	names, ks, vs := p.Pairs(section, "Parameters")
	for i, name := range names {
		p.Object = model.ObjectRef{Kind: "Parameter", Name: name}
		p.params[name] = p.readParameter(name, ks[i], vs[i])
	}
	p.Object = model.ObjectRef{}
}

func (p *parser) readParameter(name string, key, n *yaml.Node) val {
	n = p.Resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		if n == nil {
			n = key
		}
		p.Failf(n, "", "expected a parameter declaration (a mapping), got %s", typeName(n))
		return unresolvedf("parameter %s is not valid", name)
	}
	typ := ""
	if _, t := p.Field(n, "", "Type"); t != nil {
		typ, _ = p.literalString(t, "Type")
	} else {
		p.Failf(key, "Type", "required field missing")
	}
	isList := strings.HasPrefix(typ, "List<") || typ == "CommaDelimitedList"
	if s, ok := p.opts.Parameters[name]; ok {
		return paramValue(s, isList)
	}
	if strings.HasPrefix(typ, "AWS::SSM::Parameter::Value<") {
		return unresolvedf("parameter %s is read from SSM Parameter Store at deploy time", name)
	}
	_, d := p.Field(n, "", "Default")
	if d = p.Resolve(d); d == nil || yamlfield.IsNull(d) {
		return unresolvedf("parameter %s has no Default and no value was given", name)
	}
	if d.Kind != yaml.ScalarNode || isCustomTag(d.Tag) {
		p.Failf(d, "Default", "expected a string or number, got %s", typeName(d))
		return unresolvedf("parameter %s has an invalid Default", name)
	}
	return paramValue(d.Value, isList)
}

// paramValue is the value of a parameter given as text; list types are
// comma-delimited.
func paramValue(s string, isList bool) val {
	if !isList {
		return text(s)
	}
	v := val{kind: list}
	for _, item := range strings.Split(s, ",") {
		v.list = append(v.list, text(strings.TrimSpace(item)))
	}
	return v
}

// pseudo resolves a pseudo parameter such as AWS::Region; ok is false when
// name is not one.
func (p *parser) pseudo(name string) (val, bool) {
	if !strings.HasPrefix(name, "AWS::") {
		return val{}, false
	}
	if name == "AWS::NoValue" {
		return val{}, true
	}
	if s, ok := p.opts.Parameters[name]; ok {
		return text(s), true
	}
	return unresolvedf("pseudo parameter %s is known only at deploy time", name), true
}
