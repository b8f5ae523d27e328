package model

// Labels is a set of Kubernetes labels.
type Labels map[string]string

// Namespace is a Kubernetes Namespace. Labels always include the implicit
// kubernetes.io/metadata.name label.
type Namespace struct {
	Name        string
	Labels      Labels
	Annotations map[string]string
	Source      Source
	// Declared is false when the namespace was only inferred from the objects
	// that live in it.
	Declared bool
}

// PodTemplate is the part of a pod that decides which policies select it and
// whether NetworkPolicy applies to it at all.
type PodTemplate struct {
	Labels         Labels
	HostNetwork    bool
	ServiceAccount string
	// NodeSelector is spec.nodeSelector: labels a node must carry to run
	// the pod.
	NodeSelector Labels
	// NodeAffinity is the required node affinity
	// (affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution):
	// a node must match one of its terms. Nil when the pod has none.
	NodeAffinity []NodeSelectorTerm
	// Source points at the template (or the Pod object).
	Source Source
}

// NodeSelectorTerm is one nodeSelectorTerms entry of a required node
// affinity: a node matches it when it matches every requirement. A term
// with no requirements matches no node.
type NodeSelectorTerm struct {
	// MatchExpressions are on node labels, with the operators In, NotIn,
	// Exists, DoesNotExist, Gt and Lt.
	MatchExpressions []Requirement
	// MatchFields are on node fields: metadata.name, with In or NotIn.
	MatchFields []Requirement
}

// Workload is something that runs pods: a controller, or a bare Pod. Pods
// owned by a controller are folded into their top-most owner.
type Workload struct {
	Ref         ObjectRef
	Annotations map[string]string
	Source      Source
	// Templates are the pod shapes this workload runs: its pod template and the
	// labels of any of its pods that were seen. Verdicts combine all of them.
	Templates []PodTemplate
	// Inferred is true when the workload object itself was absent and it is
	// known only through a Pod's ownerReference.
	Inferred bool
}

// HostNetwork reports whether any pod of the workload uses the host network.
func (w *Workload) HostNetwork() bool {
	for _, t := range w.Templates {
		if t.HostNetwork {
			return true
		}
	}
	return false
}

// ServiceAccount is a Kubernetes ServiceAccount.
type ServiceAccount struct {
	Ref         ObjectRef
	Annotations map[string]string
	Source      Source
}

// Node is a Kubernetes Node, kept for cloud detection.
type Node struct {
	Name       string
	ProviderID string
	Labels     Labels
	Source     Source
}

// PolicyStub is a policy of a kind the engine does not evaluate yet, such as
// AdminNetworkPolicy or a Cilium policy. Its presence makes affected verdicts
// Unknown.
type PolicyStub struct {
	Ref    ObjectRef
	Source Source
	// ClusterScoped is true for kinds that may select pods in any namespace.
	ClusterScoped bool
	// SelectsHostNetwork is true for kinds that can apply to host-network pods
	// (Calico GlobalNetworkPolicy, CiliumClusterwideNetworkPolicy).
	SelectsHostNetwork bool
	// Baseline is true for BaselineAdminNetworkPolicy, which only matters for
	// pods that no NetworkPolicy isolates.
	Baseline bool
	// Unreadable, when set, marks a stand-in for policies that may exist but
	// could not be read (a list the RBAC forbids), and says why.
	Unreadable string
}
