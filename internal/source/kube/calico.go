package kube

import (
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/model"
)

// calicoVersions are the Calico versions the engine evaluates; objects of
// other versions stay stubs.
var calicoVersions = map[string]bool{"projectcalico.org/v3": true, "crd.projectcalico.org/v1": true}

// listedKinds are the policy kinds discovery looks for: those the engine
// does not evaluate, and the Calico kinds, read below.
func listedKinds() map[string]model.PolicyStub {
	out := maps.Clone(model.UnevaluatedPolicyKinds)
	maps.Copy(out, model.CalicoPolicyKinds)
	return out
}

// isCalico reports whether an object read from the cluster is a Calico
// policy or tier the engine evaluates.
func isCalico(u *unstructured.Unstructured) bool {
	switch u.GetKind() {
	case "NetworkPolicy", "GlobalNetworkPolicy", "Tier":
		return calicoVersions[u.GetAPIVersion()]
	}
	return false
}

// calicoObject reads a Calico NetworkPolicy, GlobalNetworkPolicy or Tier
// with the manifest loader's strict reader, so that both doors read them
// alike. A problem leaves the object out and its scope incomplete: its
// namespace for a NetworkPolicy, everything for the cluster-wide kinds.
func (l *loader) calicoObject(u *unstructured.Unstructured) {
	ref := model.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	scope := ""
	if u.GetKind() == "NetworkPolicy" {
		scope = u.GetNamespace()
	}
	inv, ok := l.readStrict(u, ref, scope)
	if !ok {
		return
	}
	for _, p := range inv.CalicoPolicies {
		p.Source = l.src
		for i := range p.EgressRules {
			p.EgressRules[i].Src = l.src
		}
	}
	for _, t := range inv.CalicoTiers {
		t.Source = l.src
	}
	l.mu.Lock()
	l.calico = append(l.calico, inv.CalicoPolicies...)
	l.tiers = append(l.tiers, inv.CalicoTiers...)
	l.mu.Unlock()
}
