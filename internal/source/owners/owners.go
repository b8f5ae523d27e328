// Package owners folds owned objects (Pods, ReplicaSets, Jobs) into the
// workload that controls them, following ownerReferences through the
// objects present, the same way for every loader.
package owners

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Ref is an object's controlling ownerReference.
type Ref struct {
	APIVersion, Kind, Name, UID string
	// Source is where the reference was read; an inferred owner takes it.
	Source model.Source
}

// Object is a workload as loaded, with its controlling owner if it has one.
type Object struct {
	Workload *model.Workload
	UID      string
	Owner    *Ref
}

// Cycle is a set of objects whose ownerReferences point at each other. The
// representative, the member that came first, stands for all of them.
type Cycle struct {
	Representative *Object
	// Path reads "Kind a -> Kind b -> Kind a".
	Path string
}

// Fold returns the workloads to report, in input order: each object is
// reported under its top-most present owner, or under an inferred workload
// standing for an absent owner (Workload.Inferred), and the templates of
// owned objects are added to their owner's. A present owner must match the
// reference's kind and name, and its uid when both sides have one.
func Fold(objs []*Object) ([]*model.Workload, []Cycle) {
	f := &folder{byKey: map[string][]*Object{}, order: map[*Object]int{},
		top: map[*Object]*Object{}, inferred: map[string]*Object{}}
	for i, o := range objs {
		r := o.Workload.Ref
		f.byKey[key(r.Namespace, r.Kind, r.Name)] = append(f.byKey[key(r.Namespace, r.Kind, r.Name)], o)
		f.order[o] = i
	}
	var out []*model.Workload
	added := map[*Object]bool{}
	for _, o := range objs {
		t := f.topOf(o)
		if t != o {
			t.Workload.Templates = append(t.Workload.Templates, o.Workload.Templates...)
		}
		if !added[t] {
			added[t] = true
			out = append(out, t.Workload)
		}
	}
	return out, f.cycles
}

func key(ns, kind, name string) string { return ns + "/" + kind + "/" + name }

type folder struct {
	byKey    map[string][]*Object
	order    map[*Object]int
	top      map[*Object]*Object
	inferred map[string]*Object
	cycles   []Cycle
}

// topOf returns the object o is reported under.
func (f *folder) topOf(o *Object) *Object {
	var path []*Object
	onPath := map[*Object]int{}
	var t *Object
	for cur := o; t == nil; {
		if known, ok := f.top[cur]; ok {
			t = known
			break
		}
		onPath[cur] = len(path)
		path = append(path, cur)
		if cur.Owner == nil {
			t = cur
			break
		}
		owner := f.lookup(cur.Owner, cur.Workload.Ref.Namespace)
		switch i, loop := onPath[owner]; {
		case owner == nil:
			t = f.inferredOwner(cur.Owner, cur.Workload.Ref.Namespace)
		case loop:
			t = f.cycle(path[i:])
		default:
			cur = owner
		}
	}
	for _, p := range path {
		if _, ok := f.top[p]; !ok {
			f.top[p] = t
		}
	}
	return t
}

func (f *folder) lookup(ref *Ref, ns string) *Object {
	for _, c := range f.byKey[key(ns, ref.Kind, ref.Name)] {
		if ref.UID == "" || c.UID == "" || ref.UID == c.UID {
			return c
		}
	}
	return nil
}

func (f *folder) inferredOwner(ref *Ref, ns string) *Object {
	k := key(ns, ref.Kind, ref.Name)
	if o, ok := f.inferred[k]; ok {
		return o
	}
	o := &Object{Workload: &model.Workload{
		Ref:      model.ObjectRef{APIVersion: ref.APIVersion, Kind: ref.Kind, Namespace: ns, Name: ref.Name},
		Source:   ref.Source,
		Inferred: true,
	}}
	f.inferred[k] = o
	f.top[o] = o
	return o
}

// cycle breaks a cycle at the member that comes first in the input.
func (f *folder) cycle(members []*Object) *Object {
	rep := members[0]
	names := make([]string, 0, len(members)+1)
	for _, m := range members {
		if f.order[m] < f.order[rep] {
			rep = m
		}
		names = append(names, m.Workload.Ref.Kind+" "+m.Workload.Ref.Name)
	}
	names = append(names, names[0])
	f.cycles = append(f.cycles, Cycle{Representative: rep, Path: strings.Join(names, " -> ")})
	f.top[rep] = rep
	return rep
}
