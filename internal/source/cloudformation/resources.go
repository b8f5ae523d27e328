package cloudformation

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/awsjson"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

const launchTemplateType = "AWS::EC2::LaunchTemplate"

// readers read the resource types that carry node settings; other types
// play no part and are passed over.
var readers = map[string]func(*parser, *resourceDecl, object) *model.NodeConfig{
	launchTemplateType:                      (*parser).launchTemplate,
	"AWS::EC2::Instance":                    (*parser).instance,
	"AWS::AutoScaling::LaunchConfiguration": (*parser).launchConfiguration,
	"AWS::EKS::Nodegroup":                   (*parser).nodegroup,
}

// declareResources records every resource's type, so that references can
// be checked before any properties are read.
func (p *parser) declareResources(section *yaml.Node) {
	if section == nil {
		return
	}
	ids, ks, vs := p.Pairs(section, "Resources")
	for i, id := range ids {
		p.Object = model.ObjectRef{Kind: "Resource", Name: id}
		d := &resourceDecl{id: id, key: ks[i], node: p.Resolve(vs[i])}
		p.resources[id] = d
		p.order = append(p.order, id)
		if d.node == nil || d.node.Kind != yaml.MappingNode {
			at := d.node
			if at == nil {
				at = d.key
			}
			p.Failf(at, "", "expected a resource (a mapping), got %s", typeName(at))
			d.node = nil
			continue
		}
		if _, t := p.Field(d.node, "", "Type"); t != nil {
			d.typ, _ = p.literalString(t, "Type")
		} else {
			p.Failf(d.key, "Type", "required field missing")
		}
	}
	p.Object = model.ObjectRef{}
}

// readResources reads the resources with node settings, launch templates
// first so that references by name can be resolved, and returns them in
// template order.
func (p *parser) readResources() []*model.NodeConfig {
	got := make([]*model.NodeConfig, len(p.order))
	for _, templatesFirst := range []bool{true, false} {
		for i, id := range p.order {
			d := p.resources[id]
			read := readers[d.typ]
			if read == nil || (d.typ == launchTemplateType) != templatesFirst {
				continue
			}
			p.Object = model.ObjectRef{Kind: d.typ, Name: id}
			if !p.created(d) {
				continue
			}
			_, props := p.Field(d.node, "", "Properties")
			got[i] = read(p, d, p.object(props, "Properties"))
		}
	}
	p.Object = model.ObjectRef{}
	var out []*model.NodeConfig
	for _, nc := range got {
		if nc != nil {
			out = append(out, nc)
		}
	}
	return out
}

// created reports whether a resource may be created: its Condition is not
// known to be false. A resource on an unresolved condition is read, as the
// stack may create it.
func (p *parser) created(d *resourceDecl) bool {
	_, c := p.Field(d.node, "", "Condition")
	if c == nil {
		return true
	}
	name, ok := p.literalString(c, "Condition")
	if !ok {
		return true
	}
	value, known, _ := p.condition(name, c, "Condition").truth()
	return value || !known
}

func (p *parser) nodeConfig(d *resourceDecl) *model.NodeConfig {
	return &model.NodeConfig{Cloud: "aws", Kind: d.typ, Name: d.id, Source: p.Source(d.key)}
}

// metadataOptions reads a MetadataOptions property. Launch configurations
// have no HttpProtocolIpv6 or InstanceMetadataTags.
func (p *parser) metadataOptions(o object, all bool) *model.AWSMetadataOptions {
	enabled := oneOf("enabled", "disabled")
	opts := &model.AWSMetadataOptions{
		HTTPEndpoint: p.setting(o, "HttpEndpoint", enabled),
		HTTPTokens:   p.setting(o, "HttpTokens", oneOf("optional", "required")),
		HopLimit:     p.setting(o, "HttpPutResponseHopLimit", hopLimit),
	}
	if all {
		opts.HTTPProtocolIPv6 = p.setting(o, "HttpProtocolIpv6", enabled)
		opts.InstanceTags = p.setting(o, "InstanceMetadataTags", enabled)
	}
	return opts
}

// launchTemplate reads AWS::EC2::LaunchTemplate.
func (p *parser) launchTemplate(d *resourceDecl, props object) *model.NodeConfig {
	d.ltName, _ = p.str(props, "LaunchTemplateName")
	nc := p.nodeConfig(d)
	data := p.child(props, "LaunchTemplateData")
	nc.AWS = p.metadataOptions(p.child(data, "MetadataOptions"), true)
	return nc
}

// instance reads AWS::EC2::Instance: its own MetadataOptions and the
// launch template it is started from.
func (p *parser) instance(d *resourceDecl, props object) *model.NodeConfig {
	nc := p.nodeConfig(d)
	nc.AWS = p.metadataOptions(p.child(props, "MetadataOptions"), true)
	nc.RefersTo = p.launchTemplateRef(p.child(props, "LaunchTemplate"), "LaunchTemplateId", "LaunchTemplateName")
	return nc
}

// launchConfiguration reads AWS::AutoScaling::LaunchConfiguration.
func (p *parser) launchConfiguration(d *resourceDecl, props object) *model.NodeConfig {
	nc := p.nodeConfig(d)
	nc.AWS = p.metadataOptions(p.child(props, "MetadataOptions"), false)
	return nc
}

// nodegroup reads AWS::EKS::Nodegroup. It has no metadata options of its
// own: they come from its launch template, or from the one EKS makes.
func (p *parser) nodegroup(d *resourceDecl, props object) *model.NodeConfig {
	nc := p.nodeConfig(d)
	nc.AWS = &model.AWSMetadataOptions{}
	nc.Cluster, _ = p.str(props, "ClusterName")
	nc.NodeLabels = p.labels(p.child(props, "Labels"))
	// EKS labels the nodes of a managed node group with its name.
	if name, ok := p.str(props, "NodegroupName"); ok {
		if nc.NodeLabels == nil {
			nc.NodeLabels = model.Labels{}
		}
		nc.NodeLabels["eks.amazonaws.com/nodegroup"] = name
	}
	nc.RefersTo = p.launchTemplateRef(p.child(props, "LaunchTemplate"), "Id", "Name")
	return nc
}

// launchTemplateRef reads a launch template specification. A template of
// this stack is named by its logical ID; one outside it by its ID (or
// name), with awsjson.LaunchTemplateVersionsKind. A reference that cannot
// be resolved has an empty Name, which matches no NodeConfig.
func (p *parser) launchTemplateRef(o object, idKey, nameKey string) *model.NodeConfigRef {
	if !o.present() {
		return nil
	}
	ref := &model.NodeConfigRef{Kind: launchTemplateType, Source: p.Source(o.at)}
	id, idAt := p.field(o, idKey)
	name, nameAt := p.field(o, nameKey)
	switch {
	case id.kind != absent && name.kind != absent:
		p.Failf(nameAt, yamlfield.Join(o.path, nameKey), "set only one of %s and %s", idKey, nameKey)
	case id.kind != absent:
		p.target(ref, id, idAt, yamlfield.Join(o.path, idKey), false)
	case name.kind != absent:
		p.target(ref, name, nameAt, yamlfield.Join(o.path, nameKey), true)
	case o.why == "":
		p.Failf(o.at, o.path, "needs %s or %s", idKey, nameKey)
	}
	switch v, at := p.field(o, "Version"); v.kind {
	case scalar:
		ref.Version = v.s
	case resource:
		// The version attributes of a launch template of this stack, in the
		// EC2 API's own words.
		switch v.attr {
		case "LatestVersionNumber":
			ref.Version = "$Latest"
		case "DefaultVersionNumber":
			ref.Version = "$Default"
		default:
			p.Failf(at, yamlfield.Join(o.path, "Version"), "%s is not a launch template version", v.refName())
		}
	case list, mapping:
		p.Failf(at, yamlfield.Join(o.path, "Version"), "expected a string, got %s", v.describe())
	}
	return ref
}

// target resolves what a launch template reference names.
func (p *parser) target(ref *model.NodeConfigRef, v val, at *yaml.Node, path string, byName bool) {
	switch v.kind {
	case resource:
		d := p.resources[v.s]
		if d.typ != launchTemplateType || (v.attr != "" && v.attr != "LaunchTemplateId") {
			p.Failf(at, path, "%s is not a launch template (resource %s is %s)", v.refName(), v.s, d.typ)
			return
		}
		ref.Name = v.s
	case scalar:
		if byName {
			for _, id := range p.order {
				if d := p.resources[id]; d.typ == launchTemplateType && d.ltName == v.s {
					ref.Name = id
					return
				}
			}
		}
		ref.Kind, ref.Name = awsjson.LaunchTemplateVersionsKind, v.s
	case list, mapping:
		p.Failf(at, path, "expected a string, got %s", v.describe())
	}
}
