package kube

import (
	"bytes"
	"context"
	"encoding/json"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// adminAPIVersion is the version of AdminNetworkPolicy and
// BaselineAdminNetworkPolicy the engine evaluates, cnpAPIVersion the
// version of ClusterNetworkPolicy; other versions stay stubs.
const (
	adminAPIVersion = "policy.networking.k8s.io/v1alpha1"
	cnpAPIVersion   = "policy.networking.k8s.io/v1alpha2"
)

// isAdminPolicy reports whether the engine evaluates an object read from
// the cluster as an admin policy rather than a stub.
func isAdminPolicy(u *unstructured.Unstructured) bool {
	k, v := u.GetKind(), u.GetAPIVersion()
	return v == adminAPIVersion && (k == "AdminNetworkPolicy" || k == "BaselineAdminNetworkPolicy") ||
		v == cnpAPIVersion && k == model.KindClusterNetworkPolicy
}

// adminPolicy reads an AdminNetworkPolicy, BaselineAdminNetworkPolicy or
// ClusterNetworkPolicy with the manifest loader's strict reader, so that both doors read these
// objects alike. A problem (a field a newer CRD added, a value the CRD
// should have refused) leaves the object out and every namespace
// incomplete: the policy may have allowed anything.
func (l *loader) adminPolicy(u *unstructured.Unstructured) {
	ref := model.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName()}
	everything := ""
	inv, ok := l.readStrict(u, ref, everything)
	if !ok {
		return
	}
	if len(inv.AdminPolicies) != 1 {
		l.fail(ref, &everything, "read %d admin policies from one object", len(inv.AdminPolicies))
		return
	}
	p := inv.AdminPolicies[0]
	setAdminSources(p, l.src)
	l.mu.Lock()
	l.admin = append(l.admin, p)
	l.mu.Unlock()
}

// readStrict reads one object with the manifest loader, as if it were a
// file of its own. Each problem is an input error that leaves scope
// incomplete; it reports false when there was any.
func (l *loader) readStrict(u *unstructured.Unstructured, ref model.ObjectRef, scope string) (*model.Inventory, bool) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		l.fail(ref, &scope, "encoding the object: %v", err)
		return nil, false
	}
	res := manifest.Load(context.Background(), []string{"-"}, manifest.Options{Stdin: bytes.NewReader(b)})
	for _, e := range res.Errors {
		l.fail(ref, &scope, "%s", e.Msg)
	}
	return res.Inventory, len(res.Errors) == 0
}

// setAdminSources points every part of a policy at the cluster.
func setAdminSources(p *model.AdminPolicy, src model.Source) {
	sel := func(s *model.Selector) {
		if s != nil {
			s.Source = src
		}
	}
	pods := func(np *model.NamespacedPods) {
		if np != nil {
			sel(&np.NamespaceSelector)
			sel(&np.PodSelector)
		}
	}
	p.Source, p.Subject.Source = src, src
	sel(p.Subject.Namespaces)
	pods(p.Subject.Pods)
	for i := range p.Egress {
		r := &p.Egress[i]
		r.Source = src
		for j := range r.To {
			peer := &r.To[j]
			peer.Source = src
			sel(peer.Namespaces)
			sel(peer.Nodes)
			pods(peer.Pods)
			for k := range peer.Networks {
				peer.Networks[k].Source = src
			}
		}
		for j := range r.Ports {
			r.Ports[j].Source = src
		}
	}
}
