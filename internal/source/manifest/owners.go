package manifest

import (
	"github.com/imdsguard/imdsguard/internal/source/owners"
)

// fold adds the workloads to the inventory in input order, with owned
// objects reported under their top-most owner (see package owners).
func (r *Result) fold(entries []*workloadEntry) {
	objs := make([]*owners.Object, len(entries))
	refs := map[*owners.Object]*ownerRef{}
	for i, e := range entries {
		objs[i] = &owners.Object{Workload: e.w, UID: e.uid}
		if e.owner != nil {
			objs[i].Owner = &owners.Ref{APIVersion: e.owner.apiVersion, Kind: e.owner.kind, Name: e.owner.name,
				UID: e.owner.uid, Source: e.owner.src}
			refs[objs[i]] = e.owner
		}
	}
	workloads, cycles := owners.Fold(objs)
	r.Inventory.Workloads = append(r.Inventory.Workloads, workloads...)
	for _, c := range cycles {
		rep := c.Representative
		e := &InputError{Source: refs[rep].src, Object: rep.Workload.Ref,
			Msg: "ownerReferences form a cycle (" + c.Path + ")"}
		r.Errors = append(r.Errors, e)
		r.Inventory.MarkIncomplete(rep.Workload.Ref.Namespace, e.Error())
	}
}
