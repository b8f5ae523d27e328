package manifest

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// defaultServiceAccount is the ServiceAccount of pods that name none.
const defaultServiceAccount = "default"

// workload reads a Pod, a controller or a CronJob.
func (o *object) workload() *workloadEntry {
	w := &model.Workload{Ref: o.ref, Annotations: o.annotations, Source: o.src}
	switch o.class {
	case classPod:
		w.Templates = []model.PodTemplate{o.podTemplate(o.m, "", o.labelsOrEmpty(), o.src)}
	case classController:
		w.Templates = o.templateAt("spec", "template")
	case classCronJob:
		w.Templates = o.templateAt("spec", "jobTemplate", "spec", "template")
	}
	e := &workloadEntry{w: w, uid: o.uid}
	if foldedKinds[kindKey(o.ref.APIVersion, o.ref.Kind)] {
		e.owner = o.controller()
	}
	return e
}

// templateAt reads the pod template at a path of fields, all required.
func (o *object) templateAt(keys ...string) []model.PodTemplate {
	m, path, src, at := o.m, "", o.src, o.m.node
	for _, k := range keys {
		path = join(path, k)
		f := m.get(k)
		if f == nil || isNull(o.w.resolve(f.v)) {
			o.w.failf(at, path, "required field missing")
			return nil
		}
		at = f.k
		if m = o.w.mapping(f.v, path); m == nil {
			return nil
		}
		src = o.w.d.source(f.k)
	}
	meta := o.w.mapping(m.value("metadata"), join(path, "metadata"))
	labels := o.w.labels(meta.value("labels"), join(path, "metadata.labels"))
	if labels == nil {
		labels = model.Labels{}
	}
	return []model.PodTemplate{o.podTemplate(m, path, labels, src)}
}

// podTemplate reads the pod spec fields that matter for reachability from a
// Pod or a pod template.
func (o *object) podTemplate(t *mapping, path string, labels model.Labels, src model.Source) model.PodTemplate {
	w := o.w
	specPath := join(path, "spec")
	spec := w.mapping(t.value("spec"), specPath)
	sa, _ := w.str(spec.value("serviceAccountName"), join(specPath, "serviceAccountName"))
	if sa == "" {
		// serviceAccount is the deprecated spelling, still honoured.
		sa, _ = w.str(spec.value("serviceAccount"), join(specPath, "serviceAccount"))
	}
	if sa == "" {
		sa = defaultServiceAccount
	}
	sel, affinity := w.placement(spec, specPath)
	return model.PodTemplate{
		Labels:         labels,
		HostNetwork:    w.boolean(spec.value("hostNetwork"), join(specPath, "hostNetwork")),
		ServiceAccount: sa,
		NodeSelector:   sel,
		NodeAffinity:   affinity,
		Source:         src,
	}
}

// controller reads the ownerReference naming the object's controller: the
// one marked controller, else the first. A mirror pod's Node owner is not a
// workload, so such pods stay on their own.
func (o *object) controller() *ownerRef {
	items := o.w.seq(o.meta.value("ownerReferences"), "metadata.ownerReferences")
	var first, ctrl *ownerRef
	for i, it := range items {
		path := index("metadata.ownerReferences", i)
		m := o.w.mapping(it, path)
		if m == nil {
			continue
		}
		ref := &ownerRef{src: o.w.d.source(m.node)}
		ref.apiVersion = o.ownerField(m, path, "apiVersion")
		ref.kind = o.ownerField(m, path, "kind")
		ref.name = o.ownerField(m, path, "name")
		ref.uid, _ = o.w.str(m.value("uid"), join(path, "uid"))
		isCtrl := o.w.boolean(m.value("controller"), join(path, "controller"))
		if first == nil {
			first = ref
		}
		if isCtrl && ctrl == nil {
			ctrl = ref
		}
	}
	if ctrl == nil {
		ctrl = first
	}
	if ctrl == nil || kindKey(ctrl.apiVersion, ctrl.kind) == "/Node" {
		return nil
	}
	return ctrl
}

// ownerField reads a required string field of an ownerReference.
func (o *object) ownerField(m *mapping, path, key string) string {
	return o.w.requiredStr(m, path, key)
}
