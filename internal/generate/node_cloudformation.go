package generate

import (
	"bytes"

	yaml "go.yaml.in/yaml/v3"
)

// cloudFormation writes the fix as CloudFormation resources (YAML), to
// merge into the template's resources of the same logical IDs.
func (f *nodeFix) cloudFormation() string {
	id := f.cfg.Name
	var resources []*yaml.Node
	var note string
	switch f.cfg.Kind {
	case "AWS::EC2::LaunchTemplate":
		note = "Only the properties shown change; keep the others. Each update makes a new template version."
		resources = append(resources, ymap(
			"Type", ystr(f.cfg.Kind),
			"Properties", ymap("LaunchTemplateData", ymap("MetadataOptions", f.cfnMetadataOptions(true)))))
	case "AWS::EC2::Instance":
		note = "Only the properties shown change; keep the others. MetadataOptions changes without interrupting the instance."
		resources = append(resources, ymap("Type", ystr(f.cfg.Kind), "Properties", ymap("MetadataOptions", f.cfnMetadataOptions(true))))
	case "AWS::AutoScaling::LaunchConfiguration":
		note = "Only the properties shown change; keep the others. A launch configuration is replaced when its MetadataOptions change."
		resources = append(resources, ymap("Type", ystr(f.cfg.Kind), "Properties", ymap("MetadataOptions", f.cfnMetadataOptions(false))))
	case "AWS::EKS::Nodegroup":
		if f.cfg.RefersTo != nil {
			return ""
		}
		note = "The node group has no launch template of its own, so EKS's default one decides; this gives it one. Adding a launch template to an existing node group replaces it."
		lt := id + "ImdsLaunchTemplate"
		template := ymap("Type", ystr("AWS::EC2::LaunchTemplate"),
			"Properties", ymap("LaunchTemplateData", ymap("MetadataOptions", f.cfnMetadataOptions(true))))
		group := ymap("Type", ystr(f.cfg.Kind), "Properties", ymap("LaunchTemplate", ymap(
			"Id", ymap("Ref", ystr(lt)),
			"Version", ymap("Fn::GetAtt", yseq(ystr(lt), ystr("LatestVersionNumber"))))))
		return comment(note) + encodeYAML(ymap("Resources", ymap(lt, template, id, group)))
	default:
		return ""
	}
	return comment(note) + encodeYAML(ymap("Resources", ymap(id, resources[0])))
}

// cfnMetadataOptions requires IMDSv2 with hop limit 1, keeping the options
// the source sets; launch configurations have no IPv6 or tags options.
func (f *nodeFix) cfnMetadataOptions(all bool) *yaml.Node {
	keep := keptSettings(f.cfg.AWS)
	var kv []any
	if keep.endpoint != "" {
		kv = append(kv, "HttpEndpoint", ystr(keep.endpoint))
	}
	kv = append(kv, "HttpTokens", ystr("required"), "HttpPutResponseHopLimit", yint("1"))
	if all && keep.ipv6 != "" {
		kv = append(kv, "HttpProtocolIpv6", ystr(keep.ipv6))
	}
	if all && keep.tags != "" {
		kv = append(kv, "InstanceMetadataTags", ystr(keep.tags))
	}
	return ymap(kv...)
}

// ymap builds a mapping from alternating keys (strings) and values.
func ymap(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, ystr(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

func yseq(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func ystr(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func yint(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: s} }

func ybool(b bool) *yaml.Node {
	v := "false"
	if b {
		v = "true"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: v}
}

// encodeYAML renders a node tree with two-space indents.
func encodeYAML(n *yaml.Node) string {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		// The trees are built here from strings and fixed kinds only.
		panic("encoding a generated YAML tree: " + err.Error())
	}
	_ = enc.Close()
	return b.String()
}
