package nodesettings

import "github.com/imdsguard/imdsguard/internal/model"

// evaluateAKS serves every class alike: no AKS setting read keeps a pod
// from IMDS.
func evaluateAKS(a *model.AKSIdentity, _ Class, family Family) Outcome {
	if family == IPv6 {
		return unknown("AKS: the IPv6 metadata endpoint is not covered by these rules", a.WorkloadIdentityEnabled.Source)
	}
	wi := aksWorkloadIdentity(a)
	reason := "AKS: Azure IMDS at 169.254.169.254 serves managed-identity tokens to any process on the node that sends the Metadata: true header, and no AKS setting read here stops pods reaching it"
	switch wi {
	case On:
		reason += "; Microsoft Entra Workload ID is enabled, which gives annotated pods an identity of their own but does not take the node's identity away"
	case Undetermined:
		reason += "; whether Microsoft Entra Workload ID is enabled is not known, and it would not change this"
	}
	o := served(reason, a.OIDCIssuerEnabled.Source, a.WorkloadIdentityEnabled.Source)
	o.WorkloadIdentity = wi
	return o
}

// aksWorkloadIdentity is on when both the OIDC issuer and workload identity
// are enabled; each defaults to false in azurerm_kubernetes_cluster.
func aksWorkloadIdentity(a *model.AKSIdentity) Toggle {
	oidc, wi := a.OIDCIssuerEnabled, a.WorkloadIdentityEnabled
	switch {
	case isTrue(oidc) && isTrue(wi):
		return On
	case oidc.State == model.Unset || isFalse(oidc) || wi.State == model.Unset || isFalse(wi):
		return Off
	}
	return Undetermined
}
