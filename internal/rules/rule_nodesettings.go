package rules

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-008",
		Name:     "node-serves-pod-credentials",
		Title:    "Node settings serve the node's credentials to pods",
		Severity: High,
		Description: "The node group, launch template or instance lets pods in their own network " +
			"namespace obtain the node's credentials: IMDSv1 is left on (tokens optional or unset), " +
			"or IMDSv2 is required with a hop limit above 1, or, on GKE, the workload metadata mode " +
			"exposes the Compute Engine metadata server. Any pod that reaches the endpoint, directly " +
			"or through an SSRF bug, can then act as the node.",
		Remediation: "Require IMDSv2 with a hop limit of 1 (AWS), or run the GKE metadata server " +
			"(workload metadata mode GKE_METADATA). The finding gives the change in the language of " +
			"the source it points at; `imdsguard generate --include node` writes it as a file.",
		References:    []Reference{mitreIMDS, {Name: "CIS GKE Benchmark 6.4.2 (Ensure the GKE Metadata Server is Enabled)"}},
		Check:         checkNodeSettings,
		ClusterScoped: true,
	})
}

func checkNodeSettings(ctx *Context) []Finding {
	var out []Finding
	for _, c := range ctx.Inventory.NodeConfigs {
		if c.Cloud == "azure" {
			continue // AKS has no node setting that withholds IMDS from pods
		}
		resolved, _ := nodesettings.Resolve(c, ctx.Inventory.NodeConfigs)
		if resolved == nil {
			continue // its answer is open; the verdict trace says why
		}
		if resolved.Kind != c.Kind || resolved.Name != c.Name {
			continue // its settings are its launch template's, reported there
		}
		o := nodesettings.Evaluate(resolved, nodesettings.PodNetwork, nodesettings.IPv4)
		if o.Verdict != nodesettings.CredentialsServed {
			continue
		}
		out = append(out, Finding{
			Severity:    High,
			Object:      model.ObjectRef{Kind: c.Kind, Name: c.Name},
			Source:      c.Source,
			Message:     c.Kind + " " + c.Name + " serves the node's credentials to pods: " + o.Reason,
			Remediation: nodeFix(c),
		})
	}
	return out
}

// nodeFix says how to close the node in the language of its source.
func nodeFix(c *model.NodeConfig) string {
	switch {
	case c.Cloud == "gcp" && strings.HasPrefix(c.Kind, "google_"):
		return "In the node pool's node_config: `workload_metadata_config { mode = \"GKE_METADATA\" }` " +
			"(and workload_identity_config on the cluster)."
	case c.Cloud == "gcp":
		return "`gcloud container node-pools update POOL --cluster CLUSTER --workload-metadata=GKE_METADATA`"
	case c.Kind == "AWS::EKS::Nodegroup":
		return "Give the node group a LaunchTemplate whose LaunchTemplateData.MetadataOptions has " +
			"`HttpTokens: required` and `HttpPutResponseHopLimit: 1`."
	case strings.HasPrefix(c.Kind, "AWS::"):
		return "In the resource's MetadataOptions: `HttpTokens: required` and `HttpPutResponseHopLimit: 1`."
	case c.Kind == "aws_eks_node_group" || c.Kind == "aws_autoscaling_group":
		return "Give it a `launch_template { id = ..., version = ... }` whose aws_launch_template has " +
			"`metadata_options { http_tokens = \"required\"; http_put_response_hop_limit = 1 }`."
	case strings.HasPrefix(c.Kind, "aws_"):
		return "`metadata_options { http_endpoint = \"enabled\"; http_tokens = \"required\"; http_put_response_hop_limit = 1 }`"
	case strings.HasPrefix(c.Kind, "eksctl"):
		return "In the node group: `disableIMDSv1: true` and `disablePodIMDS: true`."
	case strings.HasPrefix(c.Kind, "ec2 describe-instances"):
		return "`aws ec2 modify-instance-metadata-options --instance-id " + c.Name +
			" --http-tokens required --http-put-response-hop-limit 1`, and the same in the launch template the instance came from."
	}
	return "Require IMDSv2 (`http_tokens = required`) with a hop limit of 1 in the launch template: " +
		"`aws ec2 create-launch-template-version --launch-template-id ID --source-version N " +
		"--launch-template-data '{\"MetadataOptions\":{\"HttpTokens\":\"required\",\"HttpPutResponseHopLimit\":1}}'`"
}
