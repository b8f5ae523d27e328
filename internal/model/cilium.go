package model

// CiliumPolicy is a cilium.io/v2 CiliumNetworkPolicy, or a
// CiliumClusterwideNetworkPolicy when Clusterwide is set, reduced to what
// egress reachability needs. Rules holds `spec` (when set) and then each
// entry of `specs`: the agent applies every one of them.
type CiliumPolicy struct {
	Ref         ObjectRef
	Clusterwide bool
	Rules       []CiliumRule
	Source      Source
}

// CiliumRule is one rule of a Cilium policy (`spec` or an entry of
// `specs`). Exactly one of EndpointSelector and NodeSelector is set.
type CiliumRule struct {
	// Path is where the rule is in the object: "spec" or "specs[i]".
	Path string
	// EndpointSelector selects pods (Cilium endpoints). In a
	// CiliumNetworkPolicy the policy's namespace is implied.
	EndpointSelector *CiliumSelector
	// NodeSelector selects nodes: a host policy, which applies to the
	// host's own traffic and so to host-network pods.
	NodeSelector *CiliumSelector
	// DefaultDenyEgress is true when the rule puts the endpoints it selects
	// in default deny for egress: it has egress or egressDeny rules and
	// enableDefaultDeny.egress is not false.
	DefaultDenyEgress bool
	// Egress holds the `egress` rules, then the `egressDeny` rules.
	Egress []CiliumEgressRule
	Source Source
}

// HasEgress reports whether the rule says anything about egress.
func (r *CiliumRule) HasEgress() bool { return len(r.Egress) > 0 }

// CiliumSelector is an endpoint or node selector as Cilium reads it: each
// label key may carry a source prefix ("k8s:app", "any:app", "reserved:host");
// a key without one matches labels of any source.
type CiliumSelector struct {
	Terms []CiliumTerm
	// Text is the selector as written, for traces.
	Text   string
	Source Source
}

// CiliumTerm is one requirement of a Cilium selector: a matchLabels entry
// (operator In with one value) or a matchExpressions entry.
type CiliumTerm struct {
	// LabelSource is the key's source prefix: "k8s", "any" (also for a key
	// written without one), "reserved", ...
	LabelSource string
	Key         string
	Operator    string // In, NotIn, Exists, DoesNotExist
	Values      []string
	// FromMatchLabels is true for a matchLabels entry.
	FromMatchLabels bool
}

// The peer fields of a Cilium egress rule. The agent refuses a rule that
// sets more than one of them (toRequires and toPorts aside).
const (
	CiliumToCIDR      = "toCIDR"
	CiliumToCIDRSet   = "toCIDRSet"
	CiliumToEntities  = "toEntities"
	CiliumToEndpoints = "toEndpoints"
	CiliumToNodes     = "toNodes"
	CiliumToServices  = "toServices"
	CiliumToGroups    = "toGroups"
	CiliumToFQDNs     = "toFQDNs"
)

// CiliumEgressRule is one entry of a rule's `egress` or `egressDeny` list.
type CiliumEgressRule struct {
	// Index is the rule's number in its policy: egress then egressDeny
	// rules of each rule of the policy, in order.
	Index int
	// Path is where the rule is, "specs[1].egressDeny[0]".
	Path string
	Deny bool
	// Peer is the peer field that is set, "" when none is.
	Peer string
	// EmptyPeer is true when the peer field is an empty list, which
	// selects nothing.
	EmptyPeer bool
	// CIDRs are the toCIDR entries (no except) or the toCIDRSet entries
	// with a cidr.
	CIDRs []IPBlock
	// Entities are the toEntities entries.
	Entities []string
	// Endpoints are the toEndpoints selectors.
	Endpoints []CiliumSelector
	// Unmodelled names what the rule has that imdsguard does not evaluate
	// and that may match any address ("toFQDNs", "toCIDRSet[0].cidrGroupRef",
	// "authentication"); such a rule may or may not match.
	Unmodelled []string
	// HasToPorts is true when `toPorts` is given: only its ports match.
	HasToPorts bool
	ToPorts    []CiliumPortRule
	// ICMP is true when the rule has `icmps`: it matches ICMP only.
	ICMP   bool
	Source Source
}

// CiliumPortRule is one entry of `toPorts`.
type CiliumPortRule struct {
	// Ports: Protocol is TCP, UDP, SCTP, ANY (also when omitted) or a
	// protocol without ports; Number 0 is every port; a Name is a named
	// port; EndPort above Number makes a range.
	Ports []Port
	// L7 names the layer 7 part of the entry (rules.http, rules.dns,
	// serverNames, listener, ...), "" when there is none: the proxy then
	// decides request by request.
	L7     string
	Source Source
}

// CiliumAnyProtocol is the protocol of a Cilium port that matches TCP, UDP
// and SCTP.
const CiliumAnyProtocol Protocol = "ANY"
