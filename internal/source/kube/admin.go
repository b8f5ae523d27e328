package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

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
	return IsAdminPolicy(u.GetAPIVersion(), u.GetKind())
}

// adminPolicy reads an admin policy of the cluster for the engine. A
// problem (a field a newer CRD added, a value the CRD should have refused)
// leaves the object out and every namespace incomplete: the policy may
// have allowed anything.
func (l *loader) adminPolicy(u *unstructured.Unstructured) {
	ref := model.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Name: u.GetName()}
	everything := ""
	p, problems := ReadAdminPolicy(u, l.src)
	for _, msg := range problems {
		l.fail(ref, &everything, "%s", msg)
	}
	if p == nil {
		return
	}
	l.mu.Lock()
	l.admin = append(l.admin, p)
	l.mu.Unlock()
}

// readStrict reads one object with the manifest loader, as if it were a
// file of its own. Each problem is an input error that leaves scope
// incomplete; it reports false when there was any.
func (l *loader) readStrict(u *unstructured.Unstructured, ref model.ObjectRef, scope string) (*model.Inventory, bool) {
	inv, problems := readStrictly(u)
	for _, msg := range problems {
		l.fail(ref, &scope, "%s", msg)
	}
	return inv, len(problems) == 0
}

// readStrictly reads one object with the manifest loader, as if it were a
// file of its own, and returns what it read and its problems.
func readStrictly(u *unstructured.Unstructured) (*model.Inventory, []string) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return nil, []string{fmt.Sprintf("encoding the object: %v", err)}
	}
	res := manifest.Load(context.Background(), []string{"-"}, manifest.Options{Stdin: bytes.NewReader(b)})
	var problems []string
	for _, e := range res.Errors {
		problems = append(problems, e.Msg)
	}
	return res.Inventory, problems
}

// IsAdminPolicy reports whether an object is of a kind and version the
// engine evaluates as an admin policy: AdminNetworkPolicy or
// BaselineAdminNetworkPolicy v1alpha1, ClusterNetworkPolicy v1alpha2.
func IsAdminPolicy(apiVersion, kind string) bool {
	return apiVersion == adminAPIVersion && (kind == "AdminNetworkPolicy" || kind == "BaselineAdminNetworkPolicy") ||
		apiVersion == cnpAPIVersion && kind == model.KindClusterNetworkPolicy
}

// ReadAdminPolicy reads an AdminNetworkPolicy, BaselineAdminNetworkPolicy
// or ClusterNetworkPolicy with the manifest loader's strict reader, so
// that every door reads these objects alike, and points every part of it
// at src. On any problem it returns nil and the problems.
func ReadAdminPolicy(u *unstructured.Unstructured, src model.Source) (*model.AdminPolicy, []string) {
	inv, problems := readStrictly(u)
	if len(problems) > 0 {
		return nil, problems
	}
	if n := len(inv.AdminPolicies); n != 1 {
		return nil, []string{fmt.Sprintf("read %d admin policies from one object", n)}
	}
	p := inv.AdminPolicies[0]
	setAdminSources(p, src)
	return p, nil
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
