package model

import "sort"

// Inventory is everything a scan has read, from any mix of sources.
type Inventory struct {
	Namespaces      map[string]*Namespace
	Workloads       []*Workload
	NetworkPolicies []*NetworkPolicy
	ServiceAccounts []*ServiceAccount
	Nodes           []*Node
	Unsupported     []*PolicyStub
	// AdminPolicies are the AdminNetworkPolicies and
	// BaselineAdminNetworkPolicies the engine evaluates.
	AdminPolicies []*AdminPolicy
	// CiliumPolicies are the CiliumNetworkPolicies and
	// CiliumClusterwideNetworkPolicies the engine evaluates.
	CiliumPolicies []*CiliumPolicy
	// CalicoPolicies and CalicoTiers are the Calico NetworkPolicies,
	// GlobalNetworkPolicies and Tiers the engine evaluates.
	CalicoPolicies []*CalicoPolicy
	CalicoTiers    []*CalicoTier
	// NodeConfigs are node settings read from infrastructure code and cloud
	// exports in the same run.
	NodeConfigs []*NodeConfig
	// NodeConfigGaps say why some node settings in the input could not be
	// read (a template that did not parse, an unsupported format). A
	// setting not read may serve credentials, so the node layer then never
	// withholds them.
	NodeConfigGaps []string
	// UnknownKinds counts objects of kinds that play no part in the verdict,
	// keyed by "apiVersion/kind".
	UnknownKinds map[string]int
	// Incomplete lists the scopes where input could not be understood. A
	// namespace named here has verdicts that cannot be Blocked; the empty
	// string means the whole inventory is affected.
	Incomplete map[string][]string
}

// NewInventory returns an empty inventory ready to fill.
func NewInventory() *Inventory {
	return &Inventory{
		Namespaces:   map[string]*Namespace{},
		UnknownKinds: map[string]int{},
		Incomplete:   map[string][]string{},
	}
}

// Namespace returns the named namespace, creating an inferred one if it was
// not declared.
func (inv *Inventory) Namespace(name string) *Namespace {
	if ns, ok := inv.Namespaces[name]; ok {
		return ns
	}
	ns := &Namespace{Name: name, Labels: Labels{MetadataNameLabel: name}}
	inv.Namespaces[name] = ns
	return ns
}

// MarkIncomplete records that something in scope (a namespace, or "" for
// everything) could not be read.
func (inv *Inventory) MarkIncomplete(scope, why string) {
	inv.Incomplete[scope] = append(inv.Incomplete[scope], why)
}

// NamespaceNames returns the namespace names in sorted order.
func (inv *Inventory) NamespaceNames() []string {
	names := make([]string, 0, len(inv.Namespaces))
	for n := range inv.Namespaces {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MetadataNameLabel is the label the API server sets on every namespace.
const MetadataNameLabel = "kubernetes.io/metadata.name"
