package terraform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var ctyString = cty.String

// evaluated is an expression's value and, when it is not wholly known,
// the reasons why.
type evaluated struct {
	val cty.Value
	why []string
}

func unknown(format string, args ...any) evaluated {
	return evaluated{val: cty.DynamicVal, why: []string{fmt.Sprintf(format, args...)}}
}

// known reports whether the value is wholly known.
func (e evaluated) known() bool { return e.val.IsWhollyKnown() }

// input is a value given to a variable: a fixed value from tfvars or -var,
// or a module argument evaluated in the calling module.
type input struct {
	val   cty.Value
	expr  hcl.Expression
	scope *module
}

// eval evaluates expr in m. References are resolved one by one; whatever
// cannot be resolved is unknown, so HCL itself decides whether the result
// still is known (a conditional whose condition is known, for instance).
func (m *module) eval(expr hcl.Expression) evaluated {
	ctx, why := m.context(expr.Variables())
	v, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return evaluated{val: cty.DynamicVal, why: append(why, diagsText(diags))}
	}
	if v.IsWhollyKnown() {
		why = nil
	}
	return evaluated{val: v, why: why}
}

// cached evaluates f once per key, and reports a reference cycle as an
// unknown value instead of recursing forever.
func (m *module) cached(key string, f func() evaluated) evaluated {
	if e, ok := m.cache[key]; ok {
		if e == nil {
			return unknown("%s%s refers to itself", m.prefix, key)
		}
		return *e
	}
	m.cache[key] = nil
	e := f()
	m.cache[key] = &e
	return e
}

// context builds the evaluation context for the given references.
func (m *module) context(travs []hcl.Traversal) (*hcl.EvalContext, []string) {
	t := tree{}
	var why []string
	set := func(path []string, e evaluated) {
		t.set(path, e.val)
		if !e.known() {
			why = append(why, e.why...)
		}
	}
	for _, tr := range travs {
		root := tr.RootName()
		name, attr := step(tr, 1), step(tr, 2)
		switch {
		case root == "var" && name != "":
			set([]string{root, name}, m.variable(name))
		case root == "local" && name != "":
			set([]string{root, name}, m.local(name))
		case root == "module" && name != "" && attr != "":
			set([]string{root, name, attr}, m.output(name, attr))
		case root == "data":
			set([]string{root}, unknown("data sources are read at plan time"))
		case root == "count" || root == "each" || root == "self" || root == "path" || root == "terraform":
			set([]string{root}, unknown("%s.* is not resolved", root))
		case name != "":
			r := m.resources[root+"."+name]
			switch {
			case r == nil:
				set([]string{root, name}, unknown("%s%s.%s is not declared", m.prefix, root, name))
			case r.multi:
				set([]string{root, name}, unknown("%s has count or for_each, whose instances are not resolved", r.address()))
			case attr == "":
				set([]string{root, name}, unknown("a whole resource is not resolved"))
			default:
				set([]string{root, name, attr}, m.resourceAttr(r, attr))
			}
		default:
			set([]string{root}, unknown("reference %q is not supported", root))
		}
	}
	return &hcl.EvalContext{Variables: t.objects(), Functions: functions}, dedupe(why)
}

// step returns the attribute name at step i of tr, or "".
func step(tr hcl.Traversal, i int) string {
	if i >= len(tr) {
		return ""
	}
	if a, ok := tr[i].(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

func (m *module) variable(name string) evaluated {
	return m.cached("var."+name, func() evaluated {
		v := m.vars[name]
		if v == nil {
			return unknown("var.%s is not declared", name)
		}
		var e evaluated
		in, given := m.inputs[name]
		switch {
		case given && in.expr != nil:
			e = in.scope.eval(in.expr)
		case given:
			e = evaluated{val: in.val}
		case v.def != nil:
			e = m.eval(v.def.Expr)
		default:
			return unknown("var.%s has no default and no value in tfvars, -var or the module call", name)
		}
		return convertVar(name, v, e)
	})
}

func (m *module) local(name string) evaluated {
	return m.cached("local."+name, func() evaluated {
		a := m.locals[name]
		if a == nil {
			return unknown("local.%s is not declared", name)
		}
		return m.eval(a.Expr)
	})
}

// output evaluates a child module's output, for module.NAME.OUTPUT.
func (m *module) output(call, name string) evaluated {
	c := m.calls[call]
	switch {
	case c == nil:
		return unknown("module.%s is not declared", call)
	case c.child == nil:
		return unknown("module.%s is not loaded", call)
	}
	child := c.child
	return child.cached("output."+name, func() evaluated {
		a := child.outputs[name]
		if a == nil {
			return unknown("module.%s has no output %q", call, name)
		}
		return child.eval(a.Expr)
	})
}

// resourceAttr evaluates an argument written in a resource block. An
// argument not written there (id, arn, latest_version...) is known only
// after apply.
func (m *module) resourceAttr(r *resource, attr string) evaluated {
	return m.cached(r.typ+"."+r.name+"."+attr, func() evaluated {
		a := r.block.Body.Attributes[attr]
		if a == nil {
			return unknown("%s.%s is known only after apply", r.address(), attr)
		}
		return m.eval(a.Expr)
	})
}

// exprText is the source text of expr, on one line and shortened.
func (m *module) exprText(expr hclsyntax.Expression) string {
	r := expr.Range()
	src, ok := m.bytes[r.Filename]
	if !ok || r.End.Byte > len(src) || r.Start.Byte > r.End.Byte {
		return "expression"
	}
	s := strings.Join(strings.Fields(string(r.SliceBytes(src))), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// sortedAttributes returns a body's attributes in source order.
func sortedAttributes(b *hclsyntax.Body) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(b.Attributes))
	for _, a := range b.Attributes {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
