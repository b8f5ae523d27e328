package terraform

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/imdsguard/imdsguard/internal/model"
)

// target follows expr to a resource of type kind: a reference such as
// aws_launch_template.x.id (any attribute, any instance), possibly through
// the outputs of local modules. It returns the module that declares the
// resource and the resource's name.
func target(m *module, expr hcl.Expression, kind string, depth int) (*module, string, bool) {
	st, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || depth > maxModuleDepth {
		return nil, "", false
	}
	tr := st.Traversal
	switch root, name, attr := tr.RootName(), stepName(tr, 1), stepName(tr, 2); {
	case root == kind && name != "":
		return m, name, true
	case root == "module" && name != "" && attr != "":
		c := m.calls[name]
		if c == nil || c.child == nil || c.child.outputs[attr] == nil {
			return nil, "", false
		}
		return target(c.child, c.child.outputs[attr].Expr, kind, depth+1)
	}
	return nil, "", false
}

// stepName is step, also accepting an index after the name
// (aws_launch_template.x[0].id).
func stepName(tr hcl.Traversal, i int) string {
	if i == 2 && len(tr) > 3 {
		if _, ok := tr[2].(hcl.TraverseIndex); ok {
			return step(tr, 3)
		}
	}
	return step(tr, i)
}

// ref reads a reference to another config from body: by the argument
// idArg or nameArg (the first one written), with an optional version.
// Name is the referenced resource's address when it is declared in the
// code read, the literal ID or name otherwise, or, when it cannot be
// resolved, the expression as written (which names no config, so the
// settings it stands for stay unknown).
func (rd *reader) ref(body *hclsyntax.Body, kind, idArg, nameArg, versionArg string, l *links) *model.NodeConfigRef {
	a := body.Attributes[idArg]
	byName := a == nil
	if byName {
		a = body.Attributes[nameArg]
	}
	if a == nil {
		return nil
	}
	m := rd.r.mod
	ref := &model.NodeConfigRef{Kind: kind, Source: sourceOf(a.SrcRange)}
	if tm, name, ok := target(m, a.Expr, kind, 0); ok {
		ref.Name = tm.prefix + kind + "." + name
	} else if s, ok := rd.stringOf(a); ok {
		ref.Name = s
		if byName {
			l.names = append(l.names, ref)
		}
	} else {
		ref.Name = m.exprText(a.Expr)
	}
	if v := body.Attributes[versionArg]; v != nil {
		if s, ok := rd.stringOf(v); ok {
			ref.Version = s
		} else {
			ref.Version = m.exprText(v.Expr)
		}
	}
	return ref
}

// stringOf evaluates a to a known string (numbers and bools rendered).
func (rd *reader) stringOf(a *hclsyntax.Attribute) (string, bool) {
	v := rd.convert(a.Expr, rd.r.mod.eval(a.Expr), a.Name, kString, sourceOf(a.SrcRange))
	return v.Raw, v.State == model.Set
}

// clusterName reads the name of the cluster an argument refers to: the
// name argument of the cluster resource when it is a reference to one
// (whose id is known only after apply), or the value as written.
func (rd *reader) clusterName(body *hclsyntax.Body, arg, kind string) (name, addr string) {
	a := body.Attributes[arg]
	if a == nil {
		return "", ""
	}
	if tm, n, ok := target(rd.r.mod, a.Expr, kind, 0); ok {
		addr = tm.prefix + kind + "." + n
		if r := tm.resources[kind+"."+n]; r != nil && !r.multi {
			if e := tm.resourceAttr(r, "name"); e.known() && e.val.Type() == cty.String && !e.val.IsNull() {
				return e.val.AsString(), addr
			}
		}
		return "", addr
	}
	s, _ := rd.stringOf(a)
	if i := strings.LastIndex(s, "/clusters/"); i >= 0 {
		s = s[i+len("/clusters/"):] // a full cluster ID
	}
	return s, ""
}

// links holds what is resolved across modules once all are read.
type links struct {
	// names are references by a literal name, matched to the resources
	// that carry that name.
	names []*model.NodeConfigRef
	// named maps kind, then name argument, to a resource address.
	named map[string]map[string]string
	pools []poolLink
	// noNodes are configs kept only for the links above, which describe no
	// nodes: a GKE cluster whose default node pool is removed.
	noNodes map[*model.NodeConfig]bool
}

// poolLink is a GKE node pool waiting for its cluster's workload pool.
type poolLink struct {
	cfg       *model.NodeConfig
	addr      string // the cluster resource's address, when referenced
	clusterAt model.Source
	expr      string
}

func (l *links) name(kind, name, addr string) {
	if l.named == nil {
		l.named = map[string]map[string]string{}
	}
	if l.named[kind] == nil {
		l.named[kind] = map[string]string{}
	}
	if _, dup := l.named[kind][name]; !dup {
		l.named[kind][name] = addr
	}
}

func (l *links) resolve(configs []*model.NodeConfig) {
	for _, ref := range l.names {
		if addr, ok := l.named[ref.Kind][ref.Name]; ok {
			ref.Name = addr
		}
	}
	for _, p := range l.pools {
		var cluster *model.NodeConfig
		for _, c := range configs {
			if c.Kind == "google_container_cluster" &&
				((p.addr != "" && c.Name == p.addr) || (p.addr == "" && p.cfg.Cluster != "" && c.Cluster == p.cfg.Cluster)) {
				cluster = c
				break
			}
		}
		if cluster != nil {
			p.cfg.GKE.WorkloadPool = cluster.GKE.WorkloadPool
			continue
		}
		p.cfg.GKE.WorkloadPool = model.Value{State: model.Unresolved, Source: p.clusterAt,
			Why: fmt.Sprintf("cluster %s is not in the terraform code read, so its workload pool is not known", p.expr)}
	}
}
