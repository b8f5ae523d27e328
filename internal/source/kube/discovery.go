package kube

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imdsguard/imdsguard/internal/model"
)

type discoveryClient = discovery.DiscoveryInterface

// stubKinds are the policy kinds discovery looks for: those the engine
// does not evaluate yet, and the Calico kinds (calico.go).
var stubKinds = listedKinds()

// stubGroups are the API groups that serve stub kinds.
var stubGroups = map[string]bool{}

func init() {
	for k := range stubKinds {
		g, _, _ := cut(k)
		stubGroups[g] = true
	}
}

// servedGroups is what discovery found: the stub kinds served, and the
// groups of interest whose discovery failed.
type servedGroups struct {
	stubs  []stubResource
	failed []failedGroup
}

type stubResource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

type failedGroup struct {
	group string
	err   error
}

// discover asks the server which policy kinds it serves, in their preferred
// versions. It is also the first request, so its failure means the server
// cannot be used at all.
func (c *clients) discover(ctx context.Context) (servedGroups, error) {
	var sg servedGroups
	if err := ctx.Err(); err != nil {
		return sg, err
	}
	lists, err := c.disc.ServerPreferredResources()
	var partial *discovery.ErrGroupDiscoveryFailed
	switch {
	case errors.As(err, &partial):
		for gv, gerr := range partial.Groups {
			if stubGroups[gv.Group] {
				sg.failed = append(sg.failed, failedGroup{group: gv.String(), err: gerr})
			}
		}
	case err != nil:
		return sg, err
	}
	for _, rl := range lists {
		gv, err := schema.ParseGroupVersion(rl.GroupVersion)
		if err != nil || !stubGroups[gv.Group] {
			continue
		}
		for _, r := range rl.APIResources {
			if _, ok := stubKinds[gv.Group+"/"+r.Kind]; !ok || hasSlash(r.Name) {
				continue
			}
			sg.stubs = append(sg.stubs, stubResource{gvr: gv.WithResource(r.Name), kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	return sg, nil
}

func hasSlash(s string) bool {
	for i := range len(s) {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// listStubs lists the objects of a policy kind the engine does not evaluate.
func (l *loader) listStubs(ctx context.Context, s stubResource) {
	r := resource{apiVersion: s.gvr.GroupVersion().String(), kind: s.kind, plural: s.gvr.Resource,
		clusterScoped: !s.namespaced, affects: true}
	ri := l.c.dynamic.Resource(s.gvr)
	page := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		if s.namespaced {
			return ri.Namespace(l.namespace(r)).List(ctx, o)
		}
		return ri.List(ctx, o)
	}
	l.list(ctx, r, page, each(func(u *unstructured.Unstructured) { l.stub(r, u) }))
}

func (l *loader) stub(r resource, u *unstructured.Unstructured) {
	if isAdminPolicy(u) {
		l.adminPolicy(u)
		return
	}
	if isCiliumPolicy(u) {
		l.ciliumPolicy(u)
		return
	}
	if isCalico(u) {
		l.calicoObject(u)
		return
	}
	s := stubKinds[r.group()+"/"+r.kind]
	s.Ref = model.ObjectRef{APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: u.GetNamespace(), Name: u.GetName()}
	s.Source = l.src
	if r.kind == "ClusterNetworkPolicy" {
		// A ClusterNetworkPolicy in the Baseline tier acts like a
		// BaselineAdminNetworkPolicy.
		tier, _, _ := unstructured.NestedString(u.Object, "spec", "tier")
		s.Baseline = tier == "Baseline"
	}
	l.mu.Lock()
	l.stubs = append(l.stubs, &s)
	l.mu.Unlock()
}
