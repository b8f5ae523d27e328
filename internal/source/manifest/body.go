package manifest

import (
	"maps"

	"github.com/imdsguard/imdsguard/internal/model"
)

// body reads what an object's class needs and returns the function that
// adds the object to the file's collection once it is known to be valid.
func (c *collected) body(o *object) func() {
	switch o.class {
	case classPod, classController, classCronJob:
		e := o.workload()
		return func() { c.workloads = append(c.workloads, e) }
	case classNetworkPolicy:
		np := o.networkPolicy()
		return func() { c.policies = append(c.policies, np) }
	case classNamespace:
		ns := o.namespace()
		return func() { c.declared = append(c.declared, ns) }
	case classServiceAccount:
		sa := &model.ServiceAccount{Ref: o.ref, Annotations: o.annotations, Source: o.src}
		return func() { c.accounts = append(c.accounts, sa) }
	case classNode:
		n := o.node()
		return func() { c.nodes = append(c.nodes, n) }
	case classAdminPolicy:
		p := o.adminPolicy()
		return func() { c.admin = append(c.admin, p) }
	case classCilium:
		p := o.ciliumPolicy()
		return func() { c.cilium = append(c.cilium, p) }
	case classCalicoPolicy:
		p := o.calicoPolicy()
		return func() { c.calico = append(c.calico, p) }
	case classCalicoTier:
		t := o.calicoTier()
		return func() { c.tiers = append(c.tiers, t) }
	case classStub:
		s := o.stub()
		return func() { c.stubs = append(c.stubs, s) }
	}
	return func() { c.unknown = append(c.unknown, UnknownObject{Ref: o.ref, Source: o.src}) }
}

// namespace reads a Namespace object. The API server always sets the
// kubernetes.io/metadata.name label to the name, whatever was written.
func (o *object) namespace() *model.Namespace {
	labels := model.Labels{}
	maps.Copy(labels, o.labels)
	labels[model.MetadataNameLabel] = o.ref.Name
	return &model.Namespace{Name: o.ref.Name, Labels: labels, Annotations: o.annotations, Source: o.src, Declared: true}
}

// node reads a Node object.
func (o *object) node() *model.Node {
	spec := o.w.mapping(o.m.value("spec"), "spec")
	id, _ := o.w.str(spec.value("providerID"), "spec.providerID")
	return &model.Node{Name: o.ref.Name, ProviderID: id, Labels: o.labelsOrEmpty(), Source: o.src}
}

// stub reads a policy of a kind the engine does not evaluate.
func (o *object) stub() *model.PolicyStub {
	s, _ := stubFlags(kindKey(o.ref.APIVersion, o.ref.Kind))
	s.Ref, s.Source = o.ref, o.src
	if o.ref.Kind == "ClusterNetworkPolicy" {
		// A ClusterNetworkPolicy in the Baseline tier acts like a
		// BaselineAdminNetworkPolicy.
		tier, _ := o.w.str(o.w.at(o.m, "spec").value("tier"), "spec.tier")
		s.Baseline = tier == "Baseline"
	}
	return &s
}

// labelsOrEmpty returns the object's labels, never nil.
func (o *object) labelsOrEmpty() model.Labels {
	if o.labels == nil {
		return model.Labels{}
	}
	return o.labels
}
