package kube

import (
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
	"github.com/imdsguard/imdsguard/internal/source/owners"
)

// fold returns the workloads with owned objects (Pods, ReplicaSets, Jobs)
// folded under their top-most present owner, or under an inferred workload
// standing for an owner that is absent, as the manifest loader does (both
// use package owners). The entries are taken in order of namespace, kind and
// name, so a cycle is broken at its first member in that order.
func fold(entries []*entry, src model.Source, fail func(*manifest.InputError, string)) []*model.Workload {
	sortRefs(entries, func(e *entry) model.ObjectRef { return e.w.Ref })
	objs := make([]*owners.Object, len(entries))
	for i, e := range entries {
		objs[i] = &owners.Object{Workload: e.w, UID: e.uid}
		if o := e.owner; o != nil {
			objs[i].Owner = &owners.Ref{APIVersion: o.APIVersion, Kind: o.Kind, Name: o.Name, UID: string(o.UID), Source: src}
		}
	}
	workloads, cycles := owners.Fold(objs)
	for _, c := range cycles {
		rep := c.Representative.Workload.Ref
		fail(&manifest.InputError{Source: src, Object: rep, Msg: "ownerReferences form a cycle (" + c.Path + ")"}, rep.Namespace)
	}
	return workloads
}
