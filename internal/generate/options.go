package generate

import (
	"net/netip"
)

// DefaultName is the name (or name prefix) of every generated object.
const DefaultName = "imdsguard-deny-metadata"

// DefaultExemptLabel is the namespace label that exempts a namespace from the
// generated cluster-wide and admission policies; the controller uses the same
// label for its opt-out.
const DefaultExemptLabel = "imdsguard.io/metadata-access"

// DefaultExemptValue is the value of DefaultExemptLabel that exempts.
const DefaultExemptValue = "allow"

// Options shape what the generators produce. Builders never read the scan
// directly for these: the caller fills them from flags and the scan result.
type Options struct {
	// Name is the name of generated objects; DefaultName when empty.
	Name string
	// Deny are the metadata addresses to close, deduplicated and sorted
	// (IPv4 before IPv6). Ports do not matter: every port of these
	// addresses is denied.
	Deny []netip.Addr
	// ExemptNamespaces are left alone by every generator.
	ExemptNamespaces []string
	// ExemptLabel and ExemptValue name the namespace label that exempts a
	// namespace from cluster-wide and admission policies.
	ExemptLabel, ExemptValue string
	// DefaultDeny makes per-namespace policies deny all egress but DNS and
	// the carve-outs, instead of allowing everything but metadata.
	DefaultDeny bool
	// ClusterKinds selects the cluster-wide policy kinds to emit:
	// "anp", "banp", "cnp" (ClusterNetworkPolicy), "cilium", "calico".
	ClusterKinds []string
	// AdmissionKinds selects the admission policy forms to emit: "vap"
	// (ValidatingAdmissionPolicy), "kyverno", "gatekeeper". Empty means all.
	AdmissionKinds []string
}

// admissionGroups maps each admission form to the API groups of its objects.
var admissionGroups = map[string][]string{
	"vap":        {"admissionregistration.k8s.io"},
	"kyverno":    {"kyverno.io"},
	"gatekeeper": {"templates.gatekeeper.sh", "constraints.gatekeeper.sh"},
}

// AdmissionKindNames lists the admission forms.
var AdmissionKindNames = []string{"vap", "kyverno", "gatekeeper"}

// name returns the configured object name.
func (o *Options) name() string {
	if o.Name == "" {
		return DefaultName
	}
	return o.Name
}

// exemptLabel returns the exempting label key and value.
func (o *Options) exemptLabel() (string, string) {
	k, v := o.ExemptLabel, o.ExemptValue
	if k == "" {
		k = DefaultExemptLabel
	}
	if v == "" {
		v = DefaultExemptValue
	}
	return k, v
}

// DenyPrefixes returns Deny as host prefixes (/32 or /128).
func (o *Options) DenyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(o.Deny))
	for _, a := range o.Deny {
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}
