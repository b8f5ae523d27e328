package manifest

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
)

// object is one Kubernetes object being read.
type object struct {
	w           *walker
	m           *mapping
	class       class
	ref         model.ObjectRef
	src         model.Source
	meta        *mapping
	labels      model.Labels
	annotations map[string]string
	uid         string
	// nsKnown is false when metadata.namespace could not be read.
	nsKnown bool
}

// readDocument reads the root of a YAML document as an object.
func (c *collected) readDocument(d *doc, root *yaml.Node) {
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return
		}
		root = root.Content[0]
	}
	if c.readNodeConfigs(d, root) {
		return
	}
	c.readObject(d, root, 0)
}

// maxListDepth bounds Lists nested in Lists.
const maxListDepth = 8

// readObject reads one object, or the items of a List.
func (c *collected) readObject(d *doc, n *yaml.Node, depth int) {
	w := &walker{d: d}
	n = w.resolve(n)
	if isNull(n) {
		c.flush(&object{w: w, nsKnown: true}, "", true)
		return
	}
	o := &object{w: w, src: d.source(n)}
	if n.Kind != yaml.MappingNode {
		w.failf(n, "", "expected a Kubernetes object (a mapping), got %s", typeName(n))
		c.flush(o, "", true)
		return
	}
	o.m = w.mapping(n, "")
	o.ref.APIVersion = o.required("apiVersion")
	o.ref.Kind = o.required("kind")
	if items := o.m.get("items"); items != nil && strings.HasSuffix(o.ref.Kind, "List") && len(w.errs) == 0 {
		c.readList(o, items.v, depth)
		return
	}
	if len(w.errs) > 0 {
		c.flush(o, "", true)
		return
	}
	o.class = classify(o.ref.APIVersion, o.ref.Kind)
	if o.class == classUnknown && w.at(o.m, "spec", "template", "spec") != nil {
		o.class = classController
	}
	c.readKind(o)
}

// readList reads the items of a List kind as objects.
func (c *collected) readList(o *object, items *yaml.Node, depth int) {
	if depth >= maxListDepth {
		o.w.failf(items, "items", "Lists nested deeper than %d", maxListDepth)
		c.flush(o, "", true)
		return
	}
	for _, it := range o.w.seq(items, "items") {
		c.readObject(o.w.d, it, depth+1)
	}
	c.flush(o, "", true)
}

// required reads a top-level string field that every object must have.
func (o *object) required(key string) string {
	return o.w.requiredStr(o.m, "", key)
}

// readKind reads the metadata and the body of an object of a known class.
func (c *collected) readKind(o *object) {
	o.readMeta()
	scope := o.ref.Namespace
	switch o.class {
	case classNamespace:
		scope = o.ref.Name
	case classNode:
		scope = ""
	}
	if o.nsKnown && o.ref.Namespace != "" {
		c.namespaces = append(c.namespaces, o.ref.Namespace)
	}
	if len(o.w.errs) > 0 {
		c.flush(o, scope, o.class != classUnknown)
		return
	}
	add := c.body(o)
	if c.flush(o, scope, o.class != classUnknown) {
		add()
	}
}

// flush turns the walker's problems into input errors. It reports whether
// the object was read cleanly.
func (c *collected) flush(o *object, scope string, affects bool) bool {
	if len(o.w.errs) == 0 {
		return true
	}
	if !o.nsKnown {
		scope = ""
	}
	for i, fe := range o.w.errs {
		e := &InputError{Source: model.Source{File: o.w.d.file, Line: fe.line}, Object: o.ref, Msg: fe.msg}
		c.fail(e, scope, affects && i == 0)
	}
	o.w.errs = nil
	return false
}
