package rules

import (
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-011",
		Name:     "aws-imdsv1-enabled",
		Title:    "IMDSv1 is enabled on the nodes",
		Severity: High,
		Description: "The launch template, instance or node group leaves IMDSv1 on: http_tokens is " +
			"optional or unset (AWS's default), with the endpoint enabled. IMDSv1 answers a plain GET " +
			"with no session token and no header, so any process on the node, any pod that reaches " +
			"the endpoint, and any SSRF bug that can make a GET request get the node role's " +
			"credentials; the hop limit does not apply to it. IMDS-008 reports what pods are served; " +
			"this rule reports IMDSv1 itself, which stays a risk for hostNetwork pods and the node's " +
			"own software even where pods are kept out.",
		Remediation: "Require IMDSv2: `http_tokens = \"required\"` (Terraform), `HttpTokens: required` " +
			"(CloudFormation, AWS CLI `--http-tokens required`), or `disableIMDSv1: true` (eksctl). " +
			"The finding gives the change in the language of the source it points at; " +
			"`imdsguard generate --include node` writes it as a file.",
		References: []Reference{mitreIMDS,
			{Name: "AWS Config ec2-imdsv2-check", URL: "https://docs.aws.amazon.com/config/latest/developerguide/ec2-imdsv2-check.html"},
			{Name: "AWS Control Tower CT.EC2.PR.1 (Require an Amazon EC2 launch template to have IMDSv2 configured)"}},
		Check:         checkIMDSv1,
		ClusterScoped: true,
	})
}

func checkIMDSv1(ctx *Context) []Finding {
	var out []Finding
	for _, c := range ctx.Inventory.NodeConfigs {
		if c.Cloud != "aws" || c.AWS == nil {
			continue
		}
		resolved, _ := nodesettings.Resolve(c, ctx.Inventory.NodeConfigs)
		if resolved == nil || resolved.Kind != c.Kind || resolved.Name != c.Name {
			continue // open, or its template's settings, reported there
		}
		on, why, src := nodesettings.IMDSv1(resolved)
		if on != nodesettings.On {
			continue
		}
		out = append(out, Finding{
			Severity:    High,
			Object:      model.ObjectRef{Kind: c.Kind, Name: c.Name},
			Source:      src,
			Message:     c.Kind + " " + c.Name + " leaves IMDSv1 on: " + why,
			Remediation: imdsv1Fix(c),
		})
	}
	return out
}

// imdsv1Fix says how to require IMDSv2 in the language of c's source.
func imdsv1Fix(c *model.NodeConfig) string {
	switch {
	case strings.HasPrefix(c.Kind, "eksctl"):
		return "In the node group: `disableIMDSv1: true` (and `disablePodIMDS: true` to keep pods out)."
	case strings.HasPrefix(c.Kind, "AWS::"):
		return "In the resource's MetadataOptions: `HttpTokens: required` (and `HttpPutResponseHopLimit: 1` to keep pods out)."
	case strings.HasPrefix(c.Kind, "aws_"):
		return "In metadata_options: `http_tokens = \"required\"` (and `http_put_response_hop_limit = 1` to keep pods out)."
	case c.Kind == "ec2 describe-instances":
		return "`aws ec2 modify-instance-metadata-options --instance-id " + c.Name +
			" --http-tokens required --http-endpoint enabled`, and the same in the launch template the instance came from."
	}
	return "Require IMDSv2 in a new launch template version: `aws ec2 create-launch-template-version --launch-template-id ID " +
		"--source-version N --launch-template-data '{\"MetadataOptions\":{\"HttpTokens\":\"required\"}}'`"
}
