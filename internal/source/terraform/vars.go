package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// setRootVars gives a root module's variables their values, in Terraform's
// order of precedence (each later one wins): terraform.tfvars, then
// *.auto.tfvars in lexical order, then Options.VarFiles, then Options.Vars.
func (l *loader) setRootVars(m *module, dir string) {
	files := []string{filepath.Join(dir, "terraform.tfvars")}
	auto, _ := filepath.Glob(filepath.Join(dir, "*.auto.tfvars"))
	sort.Strings(auto)
	files = append(files, auto...)
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			l.readVarFile(m, f)
		}
	}
	for _, f := range l.opts.VarFiles {
		l.readVarFile(m, f)
	}
	names := make([]string, 0, len(l.opts.Vars))
	for name := range l.opts.Vars {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		m.inputs[name] = input{val: cliVar(m.vars[name], l.opts.Vars[name])}
	}
}

// readVarFile reads a .tfvars file into m's inputs. Its values must be
// constants, as in Terraform.
func (l *loader) readVarFile(m *module, name string) {
	src, err := os.ReadFile(name)
	if err != nil {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{
			Source: model.Source{File: name}, Msg: fmt.Sprintf("reading tfvars: %v", err)})
		return
	}
	l.res.Files = append(l.res.Files, name)
	f, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	l.res.Errors = append(l.res.Errors, diagErrors(name, diags)...)
	if f == nil {
		return
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return
	}
	for _, b := range body.Blocks {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(b.DefRange()),
			Msg: fmt.Sprintf("unexpected %s block in a tfvars file", b.Type)})
	}
	for _, a := range sortedAttributes(body) {
		v, diags := a.Expr.Value(&hcl.EvalContext{Functions: functions})
		if diags.HasErrors() {
			l.res.Errors = append(l.res.Errors, diagErrors(name, diags)...)
			continue
		}
		m.inputs[a.Name] = input{val: v}
	}
}

// cliVar parses a -var value the way Terraform does: taken literally for a
// variable without a type or with a primitive type, parsed as an HCL
// expression otherwise.
func cliVar(v *variable, raw string) cty.Value {
	if v == nil || v.typ == nil {
		return cty.StringVal(raw)
	}
	ty, diags := typeexpr.TypeConstraint(v.typ)
	if diags.HasErrors() || ty.IsPrimitiveType() || ty == cty.DynamicPseudoType {
		return cty.StringVal(raw)
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "-var", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.StringVal(raw)
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.StringVal(raw)
	}
	return val
}

// convertVar converts a variable's value to its type constraint, so that
// "2" given for a number becomes 2.
func convertVar(name string, v *variable, e evaluated) evaluated {
	if v.typ == nil || !e.known() || e.val.IsNull() {
		return e
	}
	ty, diags := typeexpr.TypeConstraint(v.typ)
	if diags.HasErrors() {
		return e
	}
	out, err := convert.Convert(e.val, ty)
	if err != nil {
		return unknown("var.%s does not match its type: %s", name, strings.TrimSpace(err.Error()))
	}
	return evaluated{val: out}
}
