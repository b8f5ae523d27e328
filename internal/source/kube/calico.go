package kube

import (
	"maps"
	"slices"
	"strings"

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
	if derivedPolicy(u.GetName()) {
		return
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

// derivedPolicy reports whether a Calico policy is Calico's view of a
// Kubernetes policy (knp.default.<name> for a NetworkPolicy, kanp. and
// kbanp. for the admin kinds, as libcalico-go names them), which is read
// as the Kubernetes object itself.
func derivedPolicy(name string) bool {
	for _, p := range []string{"knp.default.", "kanp.adminnetworkpolicy.", "kbanp.baselineadminnetworkpolicy."} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// preferAggregated keeps one view of the Calico objects. A cluster with
// Calico's API server serves the same objects twice: as projectcalico.org/v3
// and as the crd.projectcalico.org/v1 resources behind it. When any v3
// object was read, the v1 ones are dropped.
func preferAggregated(ps []*model.CalicoPolicy, ts []*model.CalicoTier) ([]*model.CalicoPolicy, []*model.CalicoTier) {
	const v3 = "projectcalico.org/v3"
	aggregated := slices.ContainsFunc(ps, func(p *model.CalicoPolicy) bool { return p.Ref.APIVersion == v3 }) ||
		slices.ContainsFunc(ts, func(t *model.CalicoTier) bool { return t.Ref.APIVersion == v3 })
	if !aggregated {
		return ps, ts
	}
	ps = slices.DeleteFunc(ps, func(p *model.CalicoPolicy) bool { return p.Ref.APIVersion != v3 })
	ts = slices.DeleteFunc(ts, func(t *model.CalicoTier) bool { return t.Ref.APIVersion != v3 })
	return ps, ts
}
