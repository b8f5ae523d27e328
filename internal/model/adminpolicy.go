package model

// AdminAction is what an AdminNetworkPolicy, BaselineAdminNetworkPolicy
// or ClusterNetworkPolicy rule does with the traffic it matches.
type AdminAction string

// The rule actions. Pass exists in AdminNetworkPolicy and
// ClusterNetworkPolicy (both tiers); Accept is ClusterNetworkPolicy's
// name for Allow, and acts exactly as Allow does.
const (
	AdminAllow  AdminAction = "Allow"
	AdminAccept AdminAction = "Accept"
	AdminDeny   AdminAction = "Deny"
	AdminPass   AdminAction = "Pass"
)

// Allows reports whether the action lets the traffic out: Allow or Accept.
func (a AdminAction) Allows() bool { return a == AdminAllow || a == AdminAccept }

// KindClusterNetworkPolicy is the kind of the v1alpha2 policy that
// AdminPolicy also holds.
const KindClusterNetworkPolicy = "ClusterNetworkPolicy"

// NamespacedPods selects the pods that match PodSelector in the namespaces
// that match NamespaceSelector.
type NamespacedPods struct {
	NamespaceSelector Selector
	PodSelector       Selector
}

// AdminSubject is the subject of an admin policy: exactly one of
// Namespaces (every pod of the selected namespaces) and Pods is set.
// Host-network pods are never selected.
type AdminSubject struct {
	Namespaces *Selector
	Pods       *NamespacedPods
	Source     Source
}

// AdminPeer is one entry of an admin policy egress rule's `to` list;
// exactly one field is set.
type AdminPeer struct {
	Namespaces *Selector
	Pods       *NamespacedPods
	// Nodes selects node IPs.
	Nodes *Selector
	// Networks are CIDRs, each kept as an ipBlock with no except.
	Networks []IPBlock
	// DomainNames are DNS names (Allow rules only).
	DomainNames []string
	Source      Source
}

// AdminRule is one entry of an admin policy's `egress` list.
type AdminRule struct {
	Index  int
	Name   string
	Action AdminAction
	To     []AdminPeer
	// Ports nil means every port. Each entry is a portNumber (Number), a
	// portRange (Number to EndPort) or a namedPort (Name).
	Ports  []Port
	Source Source
}

// AdminPolicy is a policy.networking.k8s.io/v1alpha1 AdminNetworkPolicy,
// or a BaselineAdminNetworkPolicy when Baseline is set, reduced to what
// egress reachability needs. It also holds a v1alpha2
// ClusterNetworkPolicy (Ref.Kind says so): Baseline is then its tier.
type AdminPolicy struct {
	Ref      ObjectRef
	Baseline bool
	// Priority orders the policies of one kind and tier, lowest first; 0
	// for a BaselineAdminNetworkPolicy.
	Priority int32
	Subject  AdminSubject
	Egress   []AdminRule
	Source   Source
}

// ClusterNetworkPolicy reports whether the policy is a v1alpha2
// ClusterNetworkPolicy rather than a v1alpha1 kind.
func (p *AdminPolicy) ClusterNetworkPolicy() bool { return p.Ref.Kind == KindClusterNetworkPolicy }

// Tier names where the policy sits: "Admin" before NetworkPolicy,
// "Baseline" after it.
func (p *AdminPolicy) Tier() string {
	if p.Baseline {
		return "Baseline"
	}
	return "Admin"
}
