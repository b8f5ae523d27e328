package rules

import (
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-012",
		Name:     "aks-workload-identity-off",
		Title:    "AKS cluster without Microsoft Entra Workload ID",
		Severity: Medium,
		Description: "The AKS cluster does not enable both the OIDC issuer and workload identity " +
			"(oidc_issuer_enabled and workload_identity_enabled; both default to false). Pods then " +
			"have no Azure identity of their own, so every workload that needs Azure access takes " +
			"the node's managed identity from IMDS, and the endpoint cannot be closed without " +
			"breaking them. Workload identity does not close IMDS by itself (see IMDS-009); it is " +
			"what makes closing it possible.",
		Remediation: "Enable the OIDC issuer and workload identity (`oidc_issuer_enabled = true` and " +
			"`workload_identity_enabled = true`, or `az aks update --resource-group RG --name CLUSTER " +
			"--enable-oidc-issuer --enable-workload-identity`), move workloads to their own identities " +
			"(ServiceAccount annotation azure.workload.identity/client-id, pod label " +
			"azure.workload.identity/use: \"true\"), then block the metadata endpoint for pods. " +
			"`imdsguard generate --include node` writes the Terraform change as a file.",
		References: []Reference{mitreIMDS,
			{Name: "Use Microsoft Entra Workload ID with AKS", URL: "https://learn.microsoft.com/en-us/azure/aks/workload-identity-overview"}},
		Check:         checkAKSIdentity,
		ClusterScoped: true,
	})
}

func checkAKSIdentity(ctx *Context) []Finding {
	var out []Finding
	for _, c := range ctx.Inventory.NodeConfigs {
		if c.Cloud != "azure" || c.AKS == nil {
			continue
		}
		if nodesettings.Evaluate(c, nodesettings.PodNetwork, nodesettings.IPv4).WorkloadIdentity != nodesettings.Off {
			continue
		}
		// Point at the switch that is off, else at the cluster.
		src := c.Source
		for _, v := range []model.Value{c.AKS.OIDCIssuerEnabled, c.AKS.WorkloadIdentityEnabled} {
			if v.State == model.Set && v.Raw == "false" && v.Source != (model.Source{}) {
				src = v.Source
				break
			}
		}
		out = append(out, Finding{
			Severity: Medium,
			Object:   model.ObjectRef{Kind: c.Kind, Name: c.Name},
			Source:   src,
			Message: c.Kind + " " + c.Name + " does not enable Microsoft Entra Workload ID (" +
				describeAKS("oidc_issuer_enabled", c.AKS.OIDCIssuerEnabled) + ", " +
				describeAKS("workload_identity_enabled", c.AKS.WorkloadIdentityEnabled) +
				"): pods have no Azure identity of their own, only the node's, from IMDS",
		})
	}
	return out
}

func describeAKS(name string, v model.Value) string {
	if v.State == model.Set {
		return name + " = " + v.Raw
	}
	return name + " unset (default false)"
}
