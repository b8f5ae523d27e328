package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// maxModuleDepth bounds how deep local module calls are followed, and
// maxModules how many module instances one Load reads, so that modules
// calling each other cannot make the load explode.
const (
	maxModuleDepth = 16
	maxModules     = 256
)

// module is one loaded Terraform module instance: its declarations, the
// values given to its variables, and a cache of evaluated expressions.
type module struct {
	dir    string
	parent *module // the calling module; nil for a root module
	// prefix is the address prefix of everything declared in the module:
	// "" for a root module, "module.x." for a child.
	prefix    string
	bytes     map[string][]byte // file contents, by file name
	vars      map[string]*variable
	inputs    map[string]input
	locals    map[string]*hclsyntax.Attribute
	resources map[string]*resource // by "type.name"
	order     []*resource
	calls     map[string]*moduleCall
	callOrder []*moduleCall
	outputs   map[string]*hclsyntax.Attribute
	cache     map[string]*evaluated
}

// variable is a variable block.
type variable struct {
	def *hclsyntax.Attribute // nil when there is no default
	typ hcl.Expression       // nil when there is no type constraint
}

// resource is a resource block.
type resource struct {
	typ, name string
	block     *hclsyntax.Block
	mod       *module
	// multi is true when the resource has count or for_each.
	multi bool
}

func (r *resource) address() string { return r.mod.prefix + r.typ + "." + r.name }

func (r *resource) source() model.Source { return sourceOf(r.block.DefRange()) }

// moduleCall is a module block; child is nil when its source is not local.
type moduleCall struct {
	name  string
	block *hclsyntax.Block
	child *module
}

func newModule(dir, prefix string) *module {
	return &module{
		dir: dir, prefix: prefix, bytes: map[string][]byte{},
		vars: map[string]*variable{}, inputs: map[string]input{},
		locals: map[string]*hclsyntax.Attribute{}, resources: map[string]*resource{},
		calls: map[string]*moduleCall{}, outputs: map[string]*hclsyntax.Attribute{},
		cache: map[string]*evaluated{},
	}
}

// loadModule parses files as one module and follows its local module
// calls. inputs are the values of its variables given by the caller.
func (l *loader) loadModule(dir string, files []string, prefix string, inputs map[string]input, parent *module) *module {
	l.count++
	m := newModule(dir, prefix)
	m.parent = parent
	if inputs != nil {
		m.inputs = inputs
	}
	for _, f := range files {
		l.parseFile(m, f)
	}
	for _, c := range m.callOrder {
		l.loadCall(m, c)
	}
	return m
}

// parseFile reads one file's declarations into m.
func (l *loader) parseFile(m *module, name string) {
	src, err := os.ReadFile(name)
	if err != nil {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{
			Source: model.Source{File: name}, Msg: fmt.Sprintf("reading terraform: %v", err)})
		return
	}
	l.res.Files = append(l.res.Files, name)
	var body *hclsyntax.Body
	var diags hcl.Diagnostics
	if isTerraformJSON(name) {
		body, diags = parseJSONConfig(src, name)
	} else {
		var f *hcl.File
		f, diags = hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if f != nil {
			body, _ = f.Body.(*hclsyntax.Body)
		}
	}
	if diags.HasErrors() {
		// What HCL recovers from a broken file may be cut short (a string
		// that runs to the end of the file), so nothing of it is read: the
		// error says the file was not understood.
		l.res.Errors = append(l.res.Errors, diagErrors(name, diags)...)
		return
	}
	if body == nil {
		return
	}
	m.bytes[name] = src
	for _, a := range sortedAttributes(body) {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(a.SrcRange),
			Msg: fmt.Sprintf("unexpected argument %q at the top level of a terraform file", a.Name)})
	}
	for _, b := range body.Blocks {
		l.declare(m, b)
	}
}

// declare records one top-level block.
func (l *loader) declare(m *module, b *hclsyntax.Block) {
	labels := map[string]int{"variable": 1, "locals": 0, "resource": 2, "data": 2, "module": 1, "output": 1}
	want, known := labels[b.Type]
	if !known {
		return // terraform, provider, moved, import, check...: nothing to read
	}
	if len(b.Labels) != want {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(b.DefRange()),
			Msg: fmt.Sprintf("%s block needs %d label(s), has %d", b.Type, want, len(b.Labels))})
		return
	}
	dup := func(kind, name string) {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(b.DefRange()),
			Msg: fmt.Sprintf("duplicate %s %q", kind, name)})
	}
	switch b.Type {
	case "variable":
		if m.vars[b.Labels[0]] != nil {
			dup("variable", b.Labels[0])
			return
		}
		v := &variable{def: b.Body.Attributes["default"]}
		if t := b.Body.Attributes["type"]; t != nil {
			v.typ = t.Expr
		}
		m.vars[b.Labels[0]] = v
	case "locals":
		for _, a := range sortedAttributes(b.Body) {
			if m.locals[a.Name] != nil {
				l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(a.SrcRange),
					Msg: fmt.Sprintf("duplicate local %q", a.Name)})
				continue
			}
			m.locals[a.Name] = a
		}
	case "resource":
		key := b.Labels[0] + "." + b.Labels[1]
		if m.resources[key] != nil {
			dup("resource", m.prefix+key)
			return
		}
		_, count := b.Body.Attributes["count"]
		_, each := b.Body.Attributes["for_each"]
		r := &resource{typ: b.Labels[0], name: b.Labels[1], block: b, mod: m, multi: count || each}
		m.resources[key] = r
		m.order = append(m.order, r)
	case "module":
		if m.calls[b.Labels[0]] != nil {
			dup("module", b.Labels[0])
			return
		}
		c := &moduleCall{name: b.Labels[0], block: b}
		m.calls[c.name] = c
		m.callOrder = append(m.callOrder, c)
	case "output":
		if v := b.Body.Attributes["value"]; v != nil {
			m.outputs[b.Labels[0]] = v
		}
	}
}

// moduleMeta are the module block arguments that are not variables.
var moduleMeta = map[string]bool{"source": true, "version": true, "count": true,
	"for_each": true, "providers": true, "depends_on": true}

// loadCall follows a module call when its source is a local directory.
// A module with count or for_each is read as one instance, module.x.
func (l *loader) loadCall(m *module, c *moduleCall) {
	src := c.block.Body.Attributes["source"]
	where := sourceOf(c.block.DefRange())
	if src == nil {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: where,
			Msg: fmt.Sprintf("module %q has no source", c.name)})
		return
	}
	v, diags := src.Expr.Value(nil)
	if diags.HasErrors() || !v.IsKnown() || v.IsNull() || !v.Type().Equals(ctyString) {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(src.SrcRange),
			Msg: fmt.Sprintf("module %q: source must be a literal string", c.name)})
		return
	}
	path := v.AsString()
	addr := m.prefix + "module." + c.name
	if !strings.HasPrefix(path, "./") && !strings.HasPrefix(path, "../") {
		l.res.Skipped = append(l.res.Skipped, fmt.Sprintf("%s: %s: source %q is not local and is not followed",
			sourceOf(src.SrcRange), addr, path))
		return
	}
	dir := filepath.Join(m.dir, filepath.FromSlash(path))
	depth := 0
	for a := m; a != nil; a = a.parent {
		depth++
		if filepath.Clean(a.dir) == dir {
			l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(src.SrcRange),
				Msg: fmt.Sprintf("%s: source %q calls a module that is already being read (a module that calls itself)", addr, path)})
			return
		}
	}
	if depth >= maxModuleDepth || l.count >= maxModules {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(src.SrcRange),
			Msg: fmt.Sprintf("%s: not read: more than %d nested modules or %d module instances", addr, maxModuleDepth, maxModules)})
		return
	}
	files, err := l.moduleFiles(dir)
	if err != nil {
		l.res.Errors = append(l.res.Errors, &manifest.InputError{Source: sourceOf(src.SrcRange),
			Msg: fmt.Sprintf("%s: reading module source %q: %v", addr, path, err)})
		return
	}
	inputs := map[string]input{}
	for _, a := range sortedAttributes(c.block.Body) {
		if !moduleMeta[a.Name] {
			inputs[a.Name] = input{expr: a.Expr, scope: m}
		}
	}
	c.child = l.loadModule(dir, files, addr+".", inputs, m)
}
