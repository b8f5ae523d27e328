package nodesettings

import "github.com/imdsguard/imdsguard/internal/model"

// Verdict is what the node settings let a pod obtain from the node's
// metadata service.
type Verdict int

// Verdicts. Unknown is a verdict of its own: it is reported, never read as
// withheld.
const (
	Unknown Verdict = iota
	CredentialsServed
	CredentialsWithheld
)

func (v Verdict) String() string {
	switch v {
	case CredentialsServed:
		return "credentials served"
	case CredentialsWithheld:
		return "credentials withheld"
	}
	return "unknown"
}

// Class is the kind of pod asking.
type Class int

// Classes of pods.
const (
	// PodNetwork is an ordinary pod, in its own network namespace.
	PodNetwork Class = iota
	// HostNetwork is a pod with hostNetwork: true, in the node's network
	// namespace.
	HostNetwork
)

func (c Class) String() string {
	if c == HostNetwork {
		return "hostNetwork pod"
	}
	return "pod-network pod"
}

// Family is the address family of the metadata endpoint asked.
type Family int

// Families.
const (
	IPv4 Family = iota
	IPv6
)

func (f Family) String() string {
	if f == IPv6 {
		return "IPv6"
	}
	return "IPv4"
}

// Toggle is an on/off fact about the settings that may not be known.
type Toggle int

// Toggle values.
const (
	Undetermined Toggle = iota
	Off
	On
)

func (t Toggle) String() string {
	return [...]string{"undetermined", "off", "on"}[t]
}

// Outcome is what the node settings let a pod of one class obtain from the
// node's metadata service, and why.
type Outcome struct {
	Verdict Verdict
	// Reason says in plain words why, naming the settings that decided.
	Reason string
	// Sources are where the deciding settings were written.
	Sources []model.Source
	// LegacyEndpoints (GKE) says whether this pod reaches the Compute Engine
	// metadata server's legacy /0.1/ and /computeMetadata/v1beta1/ paths,
	// which answer without the Metadata-Flavor header. Undetermined when the
	// setting is unresolved or the pod may reach them; Off elsewhere.
	LegacyEndpoints Toggle
	// WorkloadIdentity (AKS) says whether Microsoft Entra Workload ID is
	// enabled on the cluster (OIDC issuer and workload identity both on).
	// It does not change the verdict: it only gives pods a second identity.
	WorkloadIdentity Toggle
}

// LegacyEndpointsOpen reports whether the legacy metadata endpoints are, or
// may be, open to the pod.
func (o Outcome) LegacyEndpointsOpen() bool { return o.LegacyEndpoints != Off }
