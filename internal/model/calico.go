package model

import (
	"net/netip"

	"github.com/imdsguard/imdsguard/internal/calicosel"
)

// CalicoAction is what a Calico rule does with the traffic it matches.
type CalicoAction string

// The rule actions: Allow and Deny decide, Pass skips to the next tier,
// Log records and goes on to the next rule.
const (
	CalicoAllow CalicoAction = "Allow"
	CalicoDeny  CalicoAction = "Deny"
	CalicoPass  CalicoAction = "Pass"
	CalicoLog   CalicoAction = "Log"
)

// The tiers Calico creates itself, and their fixed orders.
const (
	CalicoDefaultTier  = "default"
	CalicoAdminTier    = "adminnetworkpolicy"
	CalicoBaselineTier = "baselineadminnetworkpolicy"

	CalicoDefaultTierOrder  = 1_000_000
	CalicoAdminTierOrder    = 1_000
	CalicoBaselineTierOrder = 10_000_000
	// CalicoKNPOrder is the order Calico gives every Kubernetes
	// NetworkPolicy, in the default tier, named "knp.default.<name>".
	CalicoKNPOrder = 1000
)

// CalicoPolicyKinds are the Calico policy kinds imdsguard reads, by
// "group/Kind", with the flags a stand-in carries when a live list of the
// kind is forbidden.
var CalicoPolicyKinds = map[string]PolicyStub{
	"projectcalico.org/NetworkPolicy":           {},
	"crd.projectcalico.org/NetworkPolicy":       {},
	"projectcalico.org/GlobalNetworkPolicy":     {ClusterScoped: true, SelectsHostNetwork: true},
	"crd.projectcalico.org/GlobalNetworkPolicy": {ClusterScoped: true, SelectsHostNetwork: true},
	"projectcalico.org/Tier":                    {ClusterScoped: true, SelectsHostNetwork: true},
	"crd.projectcalico.org/Tier":                {ClusterScoped: true, SelectsHostNetwork: true},
}

// CalicoTier is a Calico Tier object.
type CalicoTier struct {
	Ref ObjectRef
	// Order is nil when unset: the tier comes after every ordered one.
	Order *float64
	// DefaultAction is what happens to traffic that the tier's policies
	// select but do not decide: Deny (the default) or Pass.
	DefaultAction CalicoAction
	Source        Source
}

// CalicoPort is one entry of a ports list: a number, a range First-Last,
// or a named port (Name).
type CalicoPort struct {
	First, Last uint16
	Name        string
}

// CalicoEntity is the source or destination of a Calico rule, reduced to
// what egress to a metadata address needs. Every field that is set must
// match.
type CalicoEntity struct {
	Nets, NotNets []netip.Prefix
	// Selector, NotSelector and NamespaceSelector are nil when unset.
	Selector, NotSelector, NamespaceSelector *calicosel.Selector
	Ports, NotPorts                          []CalicoPort
	// ServiceAccounts is set when serviceAccounts is given: it selects
	// endpoints by their service account.
	ServiceAccounts bool
	// Services names the Kubernetes Service matched, "namespace/name".
	Services string
	// Domains are DNS names (a Calico Enterprise field).
	Domains []string
}

// CalicoRule is one egress rule of a Calico policy.
type CalicoRule struct {
	Index  int
	Action CalicoAction
	// Protocol and NotProtocol are upper-case names ("TCP") or numbers
	// ("6") as written; empty when unset.
	Protocol, NotProtocol string
	// IPVersion is 4, 6, or 0 for both.
	IPVersion   int
	Source      CalicoEntity
	Destination CalicoEntity
	Src         Source
}

// CalicoPolicy is a projectcalico.org/v3 (or crd.projectcalico.org/v1)
// NetworkPolicy, or a GlobalNetworkPolicy when Global is set.
type CalicoPolicy struct {
	Ref    ObjectRef
	Global bool
	// Tier is the tier's name, "default" when unset.
	Tier string
	// Order is nil when unset: the policy comes after every ordered one.
	Order *float64
	// Selector, NamespaceSelector (global only) and ServiceAccountSelector
	// choose the endpoints the policy applies to; nil is all().
	Selector, NamespaceSelector, ServiceAccountSelector *calicosel.Selector
	// Egress is set when the policy's types include Egress.
	Egress      bool
	EgressRules []CalicoRule
	// HostOnly names the field (doNotTrack, preDNAT, applyOnForward) that
	// makes the policy act on host endpoints in ways imdsguard does not
	// model; empty otherwise.
	HostOnly string
	Source   Source
}
