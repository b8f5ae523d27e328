package manifest

import "github.com/imdsguard/imdsguard/internal/model"

// defaultNamespace is where namespaced objects without metadata.namespace live.
const defaultNamespace = "default"

// readMeta reads the metadata every object has: name, namespace, labels,
// annotations and uid.
func (o *object) readMeta() {
	w := o.w
	f := o.m.get("metadata")
	if f == nil {
		w.failf(o.m.node, "", "missing metadata")
		o.nsKnown = true
		return
	}
	o.meta = w.mapping(f.v, "metadata")
	o.readNamespace()
	o.ref.Name = o.name()
	o.labels = w.labels(o.meta.value("labels"), "metadata.labels")
	// Every annotation is checked, but only those a verdict or report uses
	// are kept (model.OwnAnnotations).
	o.annotations = w.annotations(o.meta.value("annotations"), "metadata.annotations", model.IsOwnAnnotation)
	o.uid, _ = w.str(o.meta.value("uid"), "metadata.uid")
}

// name reads metadata.name, or metadata.generateName for the kinds that are
// commonly created with one.
func (o *object) name() string {
	w := o.w
	if name, ok := w.str(o.meta.value("name"), "metadata.name"); ok && name != "" {
		return name
	}
	key := kindKey(o.ref.APIVersion, o.ref.Kind)
	if key == "/Pod" || key == "batch/Job" {
		if gen, ok := w.str(o.meta.value("generateName"), "metadata.generateName"); ok && gen != "" {
			return gen
		}
	}
	at := o.m.node
	if o.meta != nil {
		at = o.meta.node
	}
	w.failf(at, "metadata.name", "required field missing")
	return ""
}

// readNamespace sets the object's namespace: metadata.namespace or the
// default for namespaced kinds, nothing for cluster-scoped ones. Objects
// of unknown kinds are in a namespace only when they name one.
func (o *object) readNamespace() {
	before := len(o.w.errs)
	ns, ok := o.w.str(o.meta.value("namespace"), "metadata.namespace")
	o.nsKnown = len(o.w.errs) == before
	switch {
	case o.class == classUnknown:
		o.ref.Namespace = ns
	case !namespaced(o.class, o.ref.APIVersion, o.ref.Kind):
	case ok && ns != "":
		o.ref.Namespace = ns
	default:
		o.ref.Namespace = defaultNamespace
	}
}
