package terraform

import "github.com/imdsguard/imdsguard/internal/model"

// aksCluster reads the two switches Azure Workload Identity needs.
func aksCluster(rd *reader, l *links) []*model.NodeConfig {
	body := rd.r.block.Body
	c := rd.newConfig("azure")
	if a := body.Attributes["name"]; a != nil {
		c.Cluster, _ = rd.stringOf(a)
	}
	c.AKS = &model.AKSIdentity{
		OIDCIssuerEnabled:       rd.value(body, "", "oidc_issuer_enabled", kBool),
		WorkloadIdentityEnabled: rd.value(body, "", "workload_identity_enabled", kBool),
	}
	return []*model.NodeConfig{c}
}
