package manifest

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// peer reads one entry of a rule's `to` or `from` list: an ipBlock, or a
// podSelector and/or namespaceSelector. The API server rejects a peer with
// both kinds, and an empty one.
func (o *object) peer(n *yaml.Node, path string) model.Peer {
	w := o.w
	p := model.Peer{Source: w.d.source(n)}
	m := w.mapping(n, path)
	if m == nil && !isNull(w.resolve(n)) {
		return p
	}
	w.strict(m, "ipBlock", "podSelector", "namespaceSelector")
	if f := m.get("ipBlock"); f != nil && !isNull(w.resolve(f.v)) {
		p.IPBlock = o.ipBlock(f, join(path, "ipBlock"))
	}
	if f := m.get("podSelector"); f != nil && !isNull(w.resolve(f.v)) {
		p.PodSelector = w.selector(f, join(path, "podSelector"))
	}
	if f := m.get("namespaceSelector"); f != nil && !isNull(w.resolve(f.v)) {
		p.NamespaceSelector = w.selector(f, join(path, "namespaceSelector"))
	}
	switch {
	case p.IPBlock != nil && (p.PodSelector != nil || p.NamespaceSelector != nil):
		w.failf(n, path, "ipBlock cannot be combined with podSelector or namespaceSelector")
	case p.IPBlock == nil && p.PodSelector == nil && p.NamespaceSelector == nil:
		w.failf(n, path, "empty peer: set ipBlock, podSelector or namespaceSelector")
	}
	return p
}
