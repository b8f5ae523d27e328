package manifest

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// ipBlock reads an ipBlock peer. Each except must be a strict subset of the
// cidr, as the API server requires.
func (o *object) ipBlock(f *field, path string) *model.IPBlock {
	w := o.w
	b := &model.IPBlock{Source: w.d.source(f.k)}
	m := w.mapping(f.v, path)
	if m == nil {
		return b
	}
	w.strict(m, "cidr", "except")
	cidrField := m.get("cidr")
	raw := w.requiredStr(m, path, "cidr")
	if raw == "" {
		return b
	}
	if problem := b.SetCIDR(raw); problem != "" {
		w.failf(cidrField.v, join(path, "cidr"), "%s", problem)
		return b
	}
	o.excepts(b, m, join(path, "except"))
	return b
}

// excepts reads the except list of an ipBlock whose cidr is valid.
func (o *object) excepts(b *model.IPBlock, m *mapping, path string) {
	w := o.w
	for i, n := range w.seq(m.value("except"), path) {
		p := index(path, i)
		raw, ok := w.itemStr(n, p)
		if !ok {
			continue
		}
		if problem := b.AddExcept(raw); problem != "" {
			w.failf(n, p, "%s", problem)
		}
	}
}
