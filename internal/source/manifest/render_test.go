package manifest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// render prints a load result as stable text, for golden files.
func render(r *Result) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	inv := r.Inventory
	for _, e := range r.Errors {
		p("error %s", e)
	}
	for _, name := range inv.NamespaceNames() {
		ns := inv.Namespaces[name]
		p("namespace %s declared=%t labels=%s annotations=%s src=%s", ns.Name, ns.Declared, kv(ns.Labels), kv(ns.Annotations), ns.Source)
	}
	for _, w := range inv.Workloads {
		p("workload %s apiVersion=%s inferred=%t annotations=%s src=%s", w.Ref, w.Ref.APIVersion, w.Inferred, kv(w.Annotations), w.Source)
		for _, t := range w.Templates {
			p("  template labels=%s hostNetwork=%t sa=%s src=%s", kv(t.Labels), t.HostNetwork, t.ServiceAccount, t.Source)
			if t.NodeSelector != nil || t.NodeAffinity != nil {
				p("    nodeSelector=%s nodeAffinity=%+v", kv(t.NodeSelector), t.NodeAffinity)
			}
		}
	}
	for _, np := range inv.NetworkPolicies {
		renderPolicy(p, np)
	}
	for _, sa := range inv.ServiceAccounts {
		p("serviceaccount %s annotations=%s src=%s", sa.Ref, kv(sa.Annotations), sa.Source)
	}
	for _, n := range inv.Nodes {
		p("node %s providerID=%q labels=%s src=%s", n.Name, n.ProviderID, kv(n.Labels), n.Source)
	}
	for _, s := range inv.Unsupported {
		p("stub %s apiVersion=%s clusterScoped=%t hostNetwork=%t baseline=%t src=%s", s.Ref, s.Ref.APIVersion, s.ClusterScoped, s.SelectsHostNetwork, s.Baseline, s.Source)
	}
	for _, ap := range inv.AdminPolicies {
		renderAdminPolicy(p, ap)
	}
	for _, cp := range inv.CiliumPolicies {
		renderCiliumPolicy(p, cp)
	}
	renderCalico(p, inv)
	for _, k := range slices.Sorted(maps.Keys(inv.UnknownKinds)) {
		p("unknown %s x%d", k, inv.UnknownKinds[k])
	}
	for _, u := range r.Unknown {
		p("unknown-object %s src=%s", u.Ref, u.Source)
	}
	for _, scope := range slices.Sorted(maps.Keys(inv.Incomplete)) {
		p("incomplete %q: %s", scope, strings.Join(inv.Incomplete[scope], " | "))
	}
	return b.String()
}

func renderPolicy(p func(string, ...any), np *model.NetworkPolicy) {
	p("networkpolicy %s ingress=%t egress=%t annotations=%s src=%s", np.Ref, np.Ingress, np.Egress, kv(np.Annotations), np.Source)
	p("  podSelector %s", selector(&np.PodSelector))
	for _, r := range np.EgressRules {
		p("  egress[%d] src=%s", r.Index, r.Source)
		for _, peer := range r.To {
			switch {
			case peer.IPBlock != nil:
				b := peer.IPBlock
				p("    ipBlock cidr=%s (%s) except=%v (%v) ambiguous=%q src=%s peer=%s", b.CIDR, b.RawCIDR, b.Except, b.RawExcept, b.Ambiguous, b.Source, peer.Source)
			default:
				p("    pods=%s namespaces=%s src=%s", selector(peer.PodSelector), selector(peer.NamespaceSelector), peer.Source)
			}
		}
		for _, port := range r.Ports {
			p("    port %s number=%d name=%q end=%d src=%s", port.Protocol, port.Number, port.Name, port.EndPort, port.Source)
		}
	}
}

func renderAdminPolicy(p func(string, ...any), ap *model.AdminPolicy) {
	p("adminpolicy %s baseline=%t priority=%d src=%s", ap.Ref, ap.Baseline, ap.Priority, ap.Source)
	p("  subject namespaces=%s src=%s", selector(ap.Subject.Namespaces), ap.Subject.Source)
	if sp := ap.Subject.Pods; sp != nil {
		p("  subject pods namespaceSelector=%s podSelector=%s", selector(&sp.NamespaceSelector), selector(&sp.PodSelector))
	}
	for _, r := range ap.Egress {
		p("  egress[%d] name=%q action=%s src=%s", r.Index, r.Name, r.Action, r.Source)
		for _, peer := range r.To {
			switch {
			case peer.Pods != nil:
				p("    pods namespaceSelector=%s podSelector=%s src=%s", selector(&peer.Pods.NamespaceSelector), selector(&peer.Pods.PodSelector), peer.Source)
			case peer.Namespaces != nil:
				p("    namespaces=%s src=%s", selector(peer.Namespaces), peer.Source)
			case peer.Nodes != nil:
				p("    nodes=%s src=%s", selector(peer.Nodes), peer.Source)
			case peer.DomainNames != nil:
				p("    domainNames=%v src=%s", peer.DomainNames, peer.Source)
			default:
				p("    networks src=%s", peer.Source)
				for _, b := range peer.Networks {
					p("      cidr=%s (%s) ambiguous=%q src=%s", b.CIDR, b.RawCIDR, b.Ambiguous, b.Source)
				}
			}
		}
		if r.Ports == nil {
			p("    ports: every port")
		}
		for _, port := range r.Ports {
			p("    port %s number=%d name=%q end=%d src=%s", port.Protocol, port.Number, port.Name, port.EndPort, port.Source)
		}
	}
}

func selector(s *model.Selector) string {
	if s == nil {
		return "<none>"
	}
	return fmt.Sprintf("{%s} labels=%s exprs=%v src=%s", s.Compiled, kv(s.MatchLabels), s.MatchExpressions, s.Source)
}

func kv[M ~map[string]string](m M) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func srcAt(file string, line int) model.Source { return model.Source{File: file, Line: line} }

func ref(kind, ns, name string) model.ObjectRef {
	return model.ObjectRef{Kind: kind, Namespace: ns, Name: name}
}
