package manifest

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// folder reports owned objects (Pods, ReplicaSets, Jobs) under their
// top-most owner, following ownerReferences through the objects present.
type folder struct {
	byKey    map[string][]*workloadEntry
	order    map[*workloadEntry]int
	top      map[*workloadEntry]*workloadEntry
	inferred map[string]*workloadEntry
	errs     []*InputError
	marks    []mark
}

// fold adds the workloads to the inventory in input order. An owner is
// placed where it, or the first object it owns, appears.
func (r *Result) fold(entries []*workloadEntry) {
	f := &folder{byKey: map[string][]*workloadEntry{}, order: map[*workloadEntry]int{},
		top: map[*workloadEntry]*workloadEntry{}, inferred: map[string]*workloadEntry{}}
	for i, e := range entries {
		k := ownerKey(e.w.Ref.Namespace, e.w.Ref.Kind, e.w.Ref.Name)
		f.byKey[k] = append(f.byKey[k], e)
		f.order[e] = i
	}
	added := map[*workloadEntry]bool{}
	for _, e := range entries {
		t := f.topOf(e)
		if t != e {
			t.w.Templates = append(t.w.Templates, e.w.Templates...)
		}
		if !added[t] {
			added[t] = true
			r.Inventory.Workloads = append(r.Inventory.Workloads, t.w)
		}
	}
	r.Errors = append(r.Errors, f.errs...)
	for _, m := range f.marks {
		r.Inventory.MarkIncomplete(m.scope, m.why)
	}
}

func ownerKey(ns, kind, name string) string {
	return ns + "/" + kind + "/" + name
}

// topOf returns the entry e is reported under: itself, a present owner, or
// an inferred owner for one that is absent.
func (f *folder) topOf(e *workloadEntry) *workloadEntry {
	path := []*workloadEntry{}
	onPath := map[*workloadEntry]int{}
	var t *workloadEntry
	for cur := e; t == nil; {
		if known, ok := f.top[cur]; ok {
			t = known
			break
		}
		onPath[cur] = len(path)
		path = append(path, cur)
		if cur.owner == nil {
			t = cur
			break
		}
		o := f.lookup(cur.owner, cur.w.Ref.Namespace)
		switch i, loop := onPath[o]; {
		case o == nil:
			t = f.inferredOwner(cur.owner, cur.w.Ref.Namespace)
		case loop:
			t = f.cycle(path[i:])
		default:
			cur = o
		}
	}
	for _, p := range path {
		if _, ok := f.top[p]; !ok {
			f.top[p] = t
		}
	}
	return t
}

// lookup finds the present object an ownerReference names. Kind and name
// must match; so must the uid when both sides have one.
func (f *folder) lookup(ref *ownerRef, ns string) *workloadEntry {
	for _, c := range f.byKey[ownerKey(ns, ref.kind, ref.name)] {
		if ref.uid == "" || c.uid == "" || ref.uid == c.uid {
			return c
		}
	}
	return nil
}

// inferredOwner returns the workload standing for an owner that is absent.
func (f *folder) inferredOwner(ref *ownerRef, ns string) *workloadEntry {
	k := ownerKey(ns, ref.kind, ref.name)
	if e, ok := f.inferred[k]; ok {
		return e
	}
	e := &workloadEntry{w: &model.Workload{
		Ref:      model.ObjectRef{APIVersion: ref.apiVersion, Kind: ref.kind, Namespace: ns, Name: ref.name},
		Source:   ref.src,
		Inferred: true,
	}}
	f.inferred[k] = e
	f.top[e] = e
	return e
}

// cycle breaks an ownerReference cycle at the member that comes first in
// the input, which then stands for the whole cycle, and reports it.
func (f *folder) cycle(members []*workloadEntry) *workloadEntry {
	rep := members[0]
	names := make([]string, 0, len(members)+1)
	for _, m := range members {
		if f.order[m] < f.order[rep] {
			rep = m
		}
		names = append(names, m.w.Ref.Kind+" "+m.w.Ref.Name)
	}
	names = append(names, names[0])
	f.errs = append(f.errs, &InputError{Source: rep.owner.src, Object: rep.w.Ref,
		Msg: "ownerReferences form a cycle (" + strings.Join(names, " -> ") + ")"})
	f.marks = append(f.marks, mark{scope: rep.w.Ref.Namespace, why: f.errs[len(f.errs)-1].Error()})
	f.top[rep] = rep
	return rep
}
