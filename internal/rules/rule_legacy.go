package rules

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-010",
		Name:     "gke-legacy-metadata-endpoints",
		Title:    "GKE legacy metadata endpoints are enabled",
		Severity: High,
		Description: "The node pool sets disable-legacy-endpoints to false. The legacy /0.1/ and " +
			"/computeMetadata/v1beta1/ paths of the Compute Engine metadata server answer without " +
			"the Metadata-Flavor header, which is what stops most SSRF bugs from reaching the " +
			"metadata server through an application.",
		Remediation: "Set the node metadata disable-legacy-endpoints to true (the default since GKE " +
			"1.12), or run the GKE metadata server (GKE_METADATA), which serves only the v1 API. " +
			"`imdsguard generate --include node` writes the change as a file.",
		References:    []Reference{mitreIMDS, {Name: "CIS GKE Benchmark 6.4.1 (Ensure legacy Compute Engine instance metadata APIs are Disabled)"}},
		Check:         checkLegacyEndpoints,
		ClusterScoped: true,
	})
}

func checkLegacyEndpoints(ctx *Context) []Finding {
	var out []Finding
	for _, c := range ctx.Inventory.NodeConfigs {
		if c.Cloud != "gcp" || c.GKE == nil {
			continue
		}
		o := nodesettings.Evaluate(c, nodesettings.PodNetwork, nodesettings.IPv4)
		if o.LegacyEndpoints != nodesettings.On {
			continue
		}
		fix := "`gcloud container node-pools create POOL --cluster CLUSTER --metadata disable-legacy-endpoints=true` (node metadata cannot be changed in place)"
		if strings.HasPrefix(c.Kind, "google_") {
			fix = "In node_config: `metadata = { disable-legacy-endpoints = \"true\" }`."
		}
		src := c.GKE.DisableLegacyEndpoints.Source
		if src == (model.Source{}) {
			src = c.Source
		}
		out = append(out, Finding{
			Severity:    High,
			Object:      model.ObjectRef{Kind: c.Kind, Name: c.Name},
			Source:      src,
			Message:     c.Kind + " " + c.Name + " leaves the legacy metadata endpoints on: pods reach /0.1/ and /computeMetadata/v1beta1/ without the Metadata-Flavor header",
			Remediation: fix,
		})
	}
	return out
}
