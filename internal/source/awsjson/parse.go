package awsjson

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// Parse reads the node settings in the output of one AWS CLI command. root
// is the decoded document; file and base place it in its file (a node's
// file line is base + node.Line). Problems are returned as errors and never
// stop the parse.
func Parse(file string, base int, root *yaml.Node) ([]*model.NodeConfig, []*yamlfield.Error) {
	r := &reader{yamlfield.Reader{File: file, Base: base}}
	root = yamlfield.Content(root)
	kind := command(root)
	if kind == "" {
		if root != nil {
			r.Failf(root, "", "expected the output of aws ec2 describe-instances, describe-launch-template-versions or get-launch-template-data")
		}
		return nil, r.Errs
	}
	r.Object = model.ObjectRef{Kind: kind}
	var out []*model.NodeConfig
	switch kind {
	case InstancesKind:
		for i, res := range r.Seq(r.Get(root, "", "Reservations"), "Reservations") {
			path := yamlfield.Index("Reservations", i)
			for j, inst := range r.Seq(r.Get(r.Mapping(res, path), path, "Instances"), yamlfield.Join(path, "Instances")) {
				if nc := r.instance(inst, yamlfield.Index(yamlfield.Join(path, "Instances"), j)); nc != nil {
					out = append(out, nc)
				}
			}
		}
	case LaunchTemplateVersionsKind:
		for i, v := range r.Seq(r.Get(root, "", "LaunchTemplateVersions"), "LaunchTemplateVersions") {
			if nc := r.launchTemplateVersion(v, yamlfield.Index("LaunchTemplateVersions", i)); nc != nil {
				out = append(out, nc)
			}
		}
	case LaunchTemplateDataKind:
		// The output names no template or instance: the file does.
		r.Object.Name = file
		if data := r.Mapping(r.Get(root, "", "LaunchTemplateData"), "LaunchTemplateData"); data != nil {
			nc := r.nodeConfig(kind, file, data)
			nc.AWS = r.metadataOptions(data, "LaunchTemplateData")
			out = append(out, nc)
		}
	}
	return out, r.Errs
}

func (r *reader) nodeConfig(kind, name string, at *yaml.Node) *model.NodeConfig {
	return &model.NodeConfig{Cloud: "aws", Kind: kind, Name: name, Source: r.Source(at)}
}

// instance reads one instance of describe-instances.
func (r *reader) instance(n *yaml.Node, path string) *model.NodeConfig {
	r.Object.Name = ""
	m := r.Mapping(n, path)
	if m == nil {
		return nil
	}
	id, ok := r.Str(m, path, "InstanceId")
	if !ok {
		r.Failf(m, yamlfield.Join(path, "InstanceId"), "required field missing")
	}
	r.Object.Name = id
	nc := r.nodeConfig(InstancesKind, id, m)
	nc.AWS = r.metadataOptions(m, path)
	tags := r.tags(m, path)
	nc.Cluster = tags["eks:cluster-name"]
	if nc.Cluster == "" {
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			if c, ok := strings.CutPrefix(k, "kubernetes.io/cluster/"); ok {
				nc.Cluster = c
				break
			}
		}
	}
	// EKS managed node groups tag their instances with the group name and
	// label their nodes eks.amazonaws.com/nodegroup; Karpenter tags with
	// the NodePool and labels karpenter.sh/nodepool.
	for tag, label := range map[string]string{"eks:nodegroup-name": "eks.amazonaws.com/nodegroup", "karpenter.sh/nodepool": "karpenter.sh/nodepool"} {
		if v, ok := tags[tag]; ok {
			if nc.NodeLabels == nil {
				nc.NodeLabels = model.Labels{}
			}
			nc.NodeLabels[label] = v
		}
	}
	return nc
}

// tags reads Tags: [{Key, Value}].
func (r *reader) tags(m *yaml.Node, path string) map[string]string {
	out := map[string]string{}
	tags := r.Get(m, path, "Tags")
	path = yamlfield.Join(path, "Tags")
	for i, t := range r.Seq(tags, path) {
		p := yamlfield.Index(path, i)
		tm := r.Mapping(t, p)
		if tm == nil {
			continue
		}
		k, ok := r.Str(tm, p, "Key")
		v, _ := r.Str(tm, p, "Value")
		if ok {
			out[k] = v
		}
	}
	return out
}

// launchTemplateVersion reads one version of describe-launch-template-versions.
func (r *reader) launchTemplateVersion(n *yaml.Node, path string) *model.NodeConfig {
	r.Object.Name = ""
	m := r.Mapping(n, path)
	if m == nil {
		return nil
	}
	id, ok := r.Str(m, path, "LaunchTemplateId")
	if !ok {
		r.Failf(m, yamlfield.Join(path, "LaunchTemplateId"), "required field missing")
	}
	version := ""
	if v := r.Value(r.Get(m, path, "VersionNumber")); v == nil {
		r.Failf(m, yamlfield.Join(path, "VersionNumber"), "required field missing")
	} else if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" {
		r.Failf(v, yamlfield.Join(path, "VersionNumber"), "expected an integer, got %s", yamlfield.TypeName(v))
	} else if n, err := strconv.Atoi(v.Value); err == nil {
		version = strconv.Itoa(n)
	} else {
		r.Failf(v, yamlfield.Join(path, "VersionNumber"), "integer %s is out of range", v.Value)
	}
	r.Object.Name = id + ":" + version
	nc := r.nodeConfig(LaunchTemplateVersionsKind, r.Object.Name, m)
	dataPath := yamlfield.Join(path, "LaunchTemplateData")
	nc.AWS = r.metadataOptions(r.Mapping(r.Get(m, path, "LaunchTemplateData"), dataPath), dataPath)
	return nc
}

// metadataOptions reads the MetadataOptions of an instance or launch
// template data; a missing block leaves every option Unset.
func (r *reader) metadataOptions(parent *yaml.Node, path string) *model.AWSMetadataOptions {
	opts := r.Get(parent, path, "MetadataOptions")
	path = yamlfield.Join(path, "MetadataOptions")
	m := r.Mapping(opts, path)
	return &model.AWSMetadataOptions{
		State:            r.setting(m, path, "State", "pending", "applied"),
		HTTPTokens:       r.setting(m, path, "HttpTokens", "optional", "required"),
		HopLimit:         r.setting(m, path, "HttpPutResponseHopLimit"),
		HTTPEndpoint:     r.setting(m, path, "HttpEndpoint", "enabled", "disabled"),
		HTTPProtocolIPv6: r.setting(m, path, "HttpProtocolIpv6", "enabled", "disabled"),
		InstanceTags:     r.setting(m, path, "InstanceMetadataTags", "enabled", "disabled"),
	}
}
