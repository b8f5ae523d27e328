package eksctl

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/awsjson"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// The Kinds of the NodeConfigs read from a ClusterConfig.
const (
	NodeGroupKind        = "eksctl nodeGroup"
	ManagedNodeGroupKind = "eksctl managedNodeGroup"
)

// Detect reports whether a document is an eksctl ClusterConfig
// (apiVersion eksctl.io/..., kind ClusterConfig).
func Detect(root *yaml.Node) bool {
	if root != nil && root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	var apiVersion, kind string
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch k, v := root.Content[i], root.Content[i+1]; k.Value {
		case "apiVersion":
			apiVersion = v.Value
		case "kind":
			kind = v.Value
		}
	}
	return strings.HasPrefix(apiVersion, "eksctl.io/") && kind == "ClusterConfig"
}

// Parse reads the node groups of a ClusterConfig. root is the decoded
// document; file and base place it in its file (a node's file line is
// base + node.Line). Problems are returned as errors and never stop the
// parse.
//
// The metadata options are kept as written: disableIMDSv1 and
// disablePodIMDS become EksctlDisableIMDSv1 and EksctlDisablePodIMDS, and
// no HttpTokens or hop limit is made up here. What eksctl makes of them is
// for the semantics layer: eksctl's makeMetadataOptions
// (pkg/cfn/builder/managed_launch_template.go and nodegroup.go) writes
// HttpTokens "required" when either switch is on, else "optional", and
// HttpPutResponseHopLimit 1 when disablePodIMDS is on, else 2; and since
// eksctl-io/eksctl#6631 ("Enforce IMDSv2 by default", May 2023) an unset
// disableIMDSv1 defaults to true (pkg/apis/eksctl.io/v1alpha5/defaults.go).
// So a node group that sets neither gets tokens required with hop limit 2,
// which pods can still use.
func Parse(file string, base int, root *yaml.Node) ([]*model.NodeConfig, []*yamlfield.Error) {
	r := &reader{yamlfield.Reader{File: file, Base: base, Object: model.ObjectRef{Kind: "ClusterConfig"}, TypeName: typeName}}
	if root != nil && root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	m := r.mapping(root, "")
	if m == nil {
		if root != nil && r.Value(root) == nil {
			r.Failf(root, "", "expected a ClusterConfig (a mapping), got null")
		}
		return nil, r.Errs
	}
	cluster, _ := r.str(r.mapping(m.value("metadata"), "metadata"), "name")
	r.Object.Name = cluster
	var out []*model.NodeConfig
	for _, group := range []struct{ key, kind string }{{"nodeGroups", NodeGroupKind}, {"managedNodeGroups", ManagedNodeGroupKind}} {
		for i, n := range r.Seq(m.value(group.key), group.key) {
			if nc := r.nodeGroup(n, yamlfield.Index(group.key, i), group.kind, cluster); nc != nil {
				out = append(out, nc)
			}
		}
		r.Object = model.ObjectRef{Kind: "ClusterConfig", Name: cluster}
	}
	return out, r.Errs
}

// nodeGroup reads one entry of nodeGroups or managedNodeGroups.
func (r *reader) nodeGroup(n *yaml.Node, path, kind, cluster string) *model.NodeConfig {
	r.Object = model.ObjectRef{Kind: kind}
	m := r.mapping(n, path)
	if m == nil {
		if r.Value(n) == nil {
			r.Failf(n, path, "expected a node group (a mapping), got null")
		}
		return nil
	}
	name, ok := r.str(m, "name")
	if !ok || name == "" {
		r.Failf(m.node, yamlfield.Join(path, "name"), "required field missing")
	}
	r.Object.Name = name
	m.path = path
	nc := &model.NodeConfig{Cloud: "aws", Kind: kind, Name: name, Source: r.Source(m.node), Cluster: cluster}
	nc.NodeLabels = r.strMap(m, "labels")
	nc.AWS = &model.AWSMetadataOptions{
		EksctlDisableIMDSv1:  r.boolean(m, "disableIMDSv1"),
		EksctlDisablePodIMDS: r.boolean(m, "disablePodIMDS"),
	}
	if kind == ManagedNodeGroupKind {
		nc.RefersTo = r.launchTemplate(m)
	}
	if name != "" {
		if nc.NodeLabels == nil {
			nc.NodeLabels = model.Labels{}
		}
		// eksctl labels every node group's nodes with its name (and the
		// cluster's), and EKS labels a managed group's nodes with its name.
		nc.NodeLabels["alpha.eksctl.io/nodegroup-name"] = name
		if cluster != "" {
			nc.NodeLabels["alpha.eksctl.io/cluster-name"] = cluster
		}
		if kind == ManagedNodeGroupKind {
			nc.NodeLabels["eks.amazonaws.com/nodegroup"] = name
		}
	}
	return nc
}

// launchTemplate reads a managed node group's launchTemplate {id, version}:
// a launch template made outside eksctl.
func (r *reader) launchTemplate(m *mapping) *model.NodeConfigRef {
	lt := r.mapping(m.value("launchTemplate"), yamlfield.Join(m.path, "launchTemplate"))
	if lt == nil {
		return nil
	}
	at := m.get("launchTemplate").k
	ref := &model.NodeConfigRef{Kind: awsjson.LaunchTemplateVersionsKind, Source: r.Source(at)}
	if id, ok := r.str(lt, "id"); ok && id != "" {
		ref.Name = id
	} else if ok || lt.get("id") == nil {
		r.Failf(at, yamlfield.Join(lt.path, "id"), "required field missing")
	}
	// eksctl takes the version as a string; an unquoted number is read as
	// one too.
	if v := r.Value(lt.value("version")); v != nil {
		if v.Kind == yaml.ScalarNode && (isString(v) || v.ShortTag() == "!!int") {
			ref.Version = v.Value
		} else {
			r.Failf(v, yamlfield.Join(lt.path, "version"), "expected a string, got %s", typeName(v))
		}
	}
	return ref
}
