package manifest

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// networkPolicy reads a NetworkPolicy strictly: an unknown field anywhere
// under spec is an error, because a misspelt field silently changes what
// the policy allows.
func (o *object) networkPolicy() *model.NetworkPolicy {
	w := o.w
	w.strict(o.m, "apiVersion", "kind", "metadata", "spec", "status")
	np := &model.NetworkPolicy{Ref: o.ref, Annotations: o.annotations, Source: o.src}
	f := o.m.get("spec")
	if f == nil || isNull(w.resolve(f.v)) {
		w.failf(o.m.node, "spec", "required field missing")
		return np
	}
	spec := w.mapping(f.v, "spec")
	if spec == nil {
		return np
	}
	w.strict(spec, "podSelector", "policyTypes", "ingress", "egress")
	if ps := spec.get("podSelector"); ps != nil {
		np.PodSelector = *w.selector(ps, "spec.podSelector")
	} else {
		w.failf(spec.node, "spec.podSelector", "required field missing (use {} to select every pod)")
	}
	for i, r := range w.seq(spec.value("egress"), "spec.egress") {
		np.EgressRules = append(np.EgressRules, o.egressRule(r, index("spec.egress", i), i))
	}
	for i, r := range w.seq(spec.value("ingress"), "spec.ingress") {
		o.ingressRule(r, index("spec.ingress", i))
	}
	np.Ingress, np.Egress = o.policyTypes(spec, len(np.EgressRules) > 0)
	return np
}

// policyTypes applies the API server's defaulting: without policyTypes a
// policy governs ingress, and egress only when it has egress rules.
func (o *object) policyTypes(spec *mapping, hasEgress bool) (ingress, egress bool) {
	f := spec.get("policyTypes")
	if f == nil {
		return true, hasEgress
	}
	items := o.w.seq(f.v, "spec.policyTypes")
	if len(items) > 2 {
		o.w.failf(f.k, "spec.policyTypes", "at most 2 items allowed, got %d", len(items))
	}
	for i, it := range items {
		switch t, _ := o.w.str(it, index("spec.policyTypes", i)); t {
		case "Ingress":
			ingress = true
		case "Egress":
			egress = true
		default:
			o.w.failf(it, index("spec.policyTypes", i), "unsupported value %q (want \"Ingress\" or \"Egress\")", t)
		}
	}
	if len(items) == 0 {
		return true, hasEgress
	}
	return ingress, egress
}

// egressRule reads one entry of spec.egress.
func (o *object) egressRule(n *yaml.Node, path string, i int) model.EgressRule {
	w := o.w
	r := model.EgressRule{Index: i, Source: w.d.source(n)}
	m := w.mapping(n, path)
	w.strict(m, "to", "ports")
	for j, p := range w.seq(m.value("to"), join(path, "to")) {
		r.To = append(r.To, o.peer(p, index(join(path, "to"), j)))
	}
	r.Ports = o.ports(m, path)
	return r
}

// ingressRule checks one entry of spec.ingress. Ingress does not decide
// metadata reachability, but a broken rule is still a broken policy.
func (o *object) ingressRule(n *yaml.Node, path string) {
	w := o.w
	m := w.mapping(n, path)
	w.strict(m, "from", "ports")
	for j, p := range w.seq(m.value("from"), join(path, "from")) {
		o.peer(p, index(join(path, "from"), j))
	}
	o.ports(m, path)
}
