package terraform

import (
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/imdsguard/imdsguard/internal/model"
)

// metadataOptions reads the metadata_options block of body. Settings of an
// absent block or argument are Unset, at the resource's line.
func (rd *reader) metadataOptions(body *hclsyntax.Body) *model.AWSMetadataOptions {
	mo, unread := rd.blockPath(body, "metadata_options")
	unset := model.Value{State: model.Unset, Source: rd.r.source()}
	return &model.AWSMetadataOptions{
		HTTPEndpoint:         rd.value(mo, unread, "http_endpoint", kString),
		HTTPTokens:           rd.value(mo, unread, "http_tokens", kString),
		HopLimit:             rd.value(mo, unread, "http_put_response_hop_limit", kNumber),
		HTTPProtocolIPv6:     rd.value(mo, unread, "http_protocol_ipv6", kString),
		InstanceTags:         rd.value(mo, unread, "instance_metadata_tags", kString),
		State:                unset,
		EksctlDisableIMDSv1:  unset,
		EksctlDisablePodIMDS: unset,
	}
}

// unsetOptions are the options of a resource that has none of its own.
func (rd *reader) unsetOptions() *model.AWSMetadataOptions {
	return rd.metadataOptions(nil)
}

// launchTemplate reads a launch_template { id | name, version } block.
func (rd *reader) launchTemplate(body *hclsyntax.Body, l *links) *model.NodeConfigRef {
	b, unread := rd.block(body, "launch_template")
	if unread != "" {
		return &model.NodeConfigRef{Kind: "aws_launch_template", Name: "(" + unread + ")", Source: rd.r.source()}
	}
	if b == nil {
		return nil
	}
	ref := rd.ref(b.Body, "aws_launch_template", "id", "name", "version", l)
	if ref == nil {
		rd.errorf(sourceOf(b.DefRange()), "launch_template needs id or name")
	}
	return ref
}

func awsInstance(rd *reader, l *links) []*model.NodeConfig {
	c := rd.newConfig("aws")
	c.AWS = rd.metadataOptions(rd.r.block.Body)
	c.RefersTo = rd.launchTemplate(rd.r.block.Body, l)
	return []*model.NodeConfig{c}
}

func awsLaunchTemplate(rd *reader, l *links) []*model.NodeConfig {
	return []*model.NodeConfig{rd.namedTemplate(l)}
}

func awsLaunchConfiguration(rd *reader, l *links) []*model.NodeConfig {
	return []*model.NodeConfig{rd.namedTemplate(l)}
}

// namedTemplate reads a launch template or configuration, and records its
// name argument so that references by name find it.
func (rd *reader) namedTemplate(l *links) *model.NodeConfig {
	c := rd.newConfig("aws")
	body := rd.r.block.Body
	c.AWS = rd.metadataOptions(body)
	if a := body.Attributes["name"]; a != nil && !rd.r.multi {
		if s, ok := rd.stringOf(a); ok {
			l.name(rd.r.typ, s, rd.r.address())
		}
	}
	return c
}

// awsEKSNodeGroup reads a managed node group: its launch template, cluster
// and the labels its nodes carry, including eks.amazonaws.com/nodegroup.
func awsEKSNodeGroup(rd *reader, l *links) []*model.NodeConfig {
	c := rd.newConfig("aws")
	body := rd.r.block.Body
	c.AWS = rd.unsetOptions()
	c.RefersTo = rd.launchTemplate(body, l)
	c.Cluster, _ = rd.clusterName(body, "cluster_name", "aws_eks_cluster")
	addLabels(c, rd.stringMap(body, "labels"))
	if a := body.Attributes["node_group_name"]; a != nil && !rd.r.multi {
		if s, ok := rd.stringOf(a); ok {
			addLabels(c, map[string]string{"eks.amazonaws.com/nodegroup": s})
		}
	}
	return []*model.NodeConfig{c}
}

// awsAutoscalingGroup reads an ASG's launch template (directly or through
// mixed_instances_policy) or launch configuration. Only the primary launch
// template of a mixed instances policy is read, not per-override ones.
func awsAutoscalingGroup(rd *reader, l *links) []*model.NodeConfig {
	c := rd.newConfig("aws")
	body := rd.r.block.Body
	c.AWS = rd.unsetOptions()
	c.RefersTo = rd.launchTemplate(body, l)
	if c.RefersTo == nil {
		spec, unread := rd.blockPath(body, "mixed_instances_policy", "launch_template", "launch_template_specification")
		switch {
		case unread != "":
			c.RefersTo = &model.NodeConfigRef{Kind: "aws_launch_template", Name: "(" + unread + ")", Source: rd.r.source()}
		case spec != nil:
			c.RefersTo = rd.ref(spec, "aws_launch_template", "launch_template_id", "launch_template_name", "version", l)
		}
	}
	if c.RefersTo == nil && body.Attributes["launch_configuration"] != nil {
		c.RefersTo = rd.ref(body, "aws_launch_configuration", "none", "launch_configuration", "none", l)
	}
	return []*model.NodeConfig{c}
}
