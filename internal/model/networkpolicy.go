package model

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/labels"
)

// Protocol is a NetworkPolicy port protocol.
type Protocol string

// The protocols NetworkPolicy knows.
const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

// Requirement is one matchExpressions entry of a label selector.
type Requirement struct {
	Key      string
	Operator string // In, NotIn, Exists, DoesNotExist (node selectors also Gt, Lt)
	Values   []string
}

// Selector is a Kubernetes label selector, kept both as written (for traces
// and the reference evaluator) and compiled.
type Selector struct {
	MatchLabels      map[string]string
	MatchExpressions []Requirement
	// Compiled is the selector as apimachinery evaluates it.
	Compiled labels.Selector
	Source   Source
}

// Empty reports whether the selector has no terms and so selects everything.
func (s *Selector) Empty() bool {
	return len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// Matches reports whether the selector selects a set of labels.
func (s *Selector) Matches(l Labels) bool {
	return s.Compiled.Matches(labels.Set(l))
}

// IPBlock is a NetworkPolicy ipBlock peer.
type IPBlock struct {
	CIDR   netip.Prefix
	Except []netip.Prefix
	// Raw keeps the strings as written, for messages.
	RawCIDR   string
	RawExcept []string
	// Ambiguous names why the CNI's reading of this block cannot be known
	// (for example an IPv4-mapped IPv6 CIDR); empty when it is clear.
	Ambiguous string
	Source    Source
}

// Peer is one entry of an egress rule's `to` list. Exactly one of IPBlock, or
// PodSelector and/or NamespaceSelector, is set.
type Peer struct {
	IPBlock           *IPBlock
	PodSelector       *Selector
	NamespaceSelector *Selector
	Source            Source
}

// Port is one entry of a rule's `ports` list.
type Port struct {
	Protocol Protocol
	// Number is the numeric port; 0 with an empty Name means every port.
	Number int32
	// Name is set for a named port, which never matches an ipBlock.
	Name    string
	EndPort int32
	Source  Source
}

// EgressRule is one entry of a NetworkPolicy's `egress` list.
type EgressRule struct {
	Index int
	// To empty means every destination.
	To []Peer
	// Ports empty means every port and protocol.
	Ports  []Port
	Source Source
}

// NetworkPolicy is a networking.k8s.io/v1 NetworkPolicy reduced to what
// egress reachability needs.
type NetworkPolicy struct {
	Ref         ObjectRef
	Annotations map[string]string
	PodSelector Selector
	// Egress is true when the policy governs egress after policyTypes defaulting.
	Egress bool
	// Ingress is true when the policy governs ingress after defaulting.
	Ingress     bool
	EgressRules []EgressRule
	Source      Source
}
