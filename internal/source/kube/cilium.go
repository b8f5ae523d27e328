package kube

import (
	"github.com/imdsguard/imdsguard/internal/model"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ciliumAPIVersion is the version of CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy the engine evaluates.
const ciliumAPIVersion = "cilium.io/v2"

// isCiliumPolicy reports whether the engine evaluates an object read from
// the cluster as a Cilium policy rather than a stub.
func isCiliumPolicy(u *unstructured.Unstructured) bool {
	k := u.GetKind()
	return u.GetAPIVersion() == ciliumAPIVersion && (k == "CiliumNetworkPolicy" || k == "CiliumClusterwideNetworkPolicy")
}

// ciliumPolicy reads a Cilium policy with the manifest loader's strict
// reader. A problem leaves the object out and its namespace (every
// namespace, for a clusterwide policy) incomplete.
func (l *loader) ciliumPolicy(u *unstructured.Unstructured) {
	ref := model.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	scope := u.GetNamespace()
	inv, ok := l.readStrict(u, ref, scope)
	if !ok {
		return
	}
	if len(inv.CiliumPolicies) != 1 {
		l.fail(ref, &scope, "read %d Cilium policies from one object", len(inv.CiliumPolicies))
		return
	}
	p := inv.CiliumPolicies[0]
	setCiliumSources(p, l.src)
	l.mu.Lock()
	l.cilium = append(l.cilium, p)
	l.mu.Unlock()
}

// setCiliumSources points every part of a policy at the cluster.
func setCiliumSources(p *model.CiliumPolicy, src model.Source) {
	p.Source = src
	for i := range p.Rules {
		r := &p.Rules[i]
		r.Source = src
		for _, s := range []*model.CiliumSelector{r.EndpointSelector, r.NodeSelector} {
			if s != nil {
				s.Source = src
			}
		}
		for j := range r.Egress {
			e := &r.Egress[j]
			e.Source = src
			for k := range e.CIDRs {
				e.CIDRs[k].Source = src
			}
			for k := range e.Endpoints {
				e.Endpoints[k].Source = src
			}
			for k := range e.ToPorts {
				e.ToPorts[k].Source = src
				for m := range e.ToPorts[k].Ports {
					e.ToPorts[k].Ports[m].Source = src
				}
			}
		}
	}
}
