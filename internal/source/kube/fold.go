package kube

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// fold returns the workloads with owned objects (Pods, ReplicaSets, Jobs)
// folded under their top-most present owner, or under an inferred workload
// standing for an owner that is absent, as the manifest loader does. The
// entries are taken in order of namespace, kind and name.
func fold(entries []*entry, src model.Source, fail func(*manifest.InputError, string)) []*model.Workload {
	sortRefs(entries, func(e *entry) model.ObjectRef { return e.w.Ref })
	byKey := map[string][]*entry{}
	for _, e := range entries {
		k := key(e.w.Ref.Namespace, e.w.Ref.Kind, e.w.Ref.Name)
		byKey[k] = append(byKey[k], e)
	}
	f := &folder{byKey: byKey, top: map[*entry]*entry{}, inferred: map[string]*entry{}, src: src, fail: fail}
	var out []*model.Workload
	added := map[*entry]bool{}
	for _, e := range entries {
		t := f.topOf(e)
		if t != e {
			t.w.Templates = append(t.w.Templates, e.w.Templates...)
		}
		if !added[t] {
			added[t] = true
			out = append(out, t.w)
		}
	}
	return out
}

func key(ns, kind, name string) string { return ns + "/" + kind + "/" + name }

type folder struct {
	byKey    map[string][]*entry
	top      map[*entry]*entry
	inferred map[string]*entry
	src      model.Source
	fail     func(*manifest.InputError, string)
}

func (f *folder) topOf(e *entry) *entry {
	var path []*entry
	onPath := map[*entry]int{}
	var t *entry
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
		o := f.lookup(cur)
		if o == nil {
			t = f.inferredOwner(cur)
			break
		}
		if i, loop := onPath[o]; loop {
			t = f.cycle(path[i:])
			break
		}
		cur = o
	}
	for _, p := range path {
		if _, ok := f.top[p]; !ok {
			f.top[p] = t
		}
	}
	return t
}

// lookup finds the present owner of e: same kind and name, and the same
// uid when both have one.
func (f *folder) lookup(e *entry) *entry {
	o := e.owner
	for _, c := range f.byKey[key(e.w.Ref.Namespace, o.Kind, o.Name)] {
		if o.UID == "" || c.uid == "" || string(o.UID) == c.uid {
			return c
		}
	}
	return nil
}

func (f *folder) inferredOwner(e *entry) *entry {
	o, ns := e.owner, e.w.Ref.Namespace
	k := key(ns, o.Kind, o.Name)
	if in, ok := f.inferred[k]; ok {
		return in
	}
	in := &entry{w: &model.Workload{
		Ref:      model.ObjectRef{APIVersion: o.APIVersion, Kind: o.Kind, Namespace: ns, Name: o.Name},
		Source:   f.src,
		Inferred: true,
	}}
	f.inferred[k] = in
	f.top[in] = in
	return in
}

// cycle breaks an ownerReference cycle at its first member in sorted order.
func (f *folder) cycle(members []*entry) *entry {
	rep := members[0]
	names := make([]string, 0, len(members)+1)
	for _, m := range members {
		if refLess(m.w.Ref, rep.w.Ref) {
			rep = m
		}
		names = append(names, m.w.Ref.Kind+" "+m.w.Ref.Name)
	}
	names = append(names, names[0])
	f.fail(&manifest.InputError{Source: f.src, Object: rep.w.Ref,
		Msg: "ownerReferences form a cycle (" + strings.Join(names, " -> ") + ")"}, rep.w.Ref.Namespace)
	f.top[rep] = rep
	return rep
}
