package cloudformation

import (
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// Detect reports whether a document is a CloudFormation template: it has
// AWSTemplateFormatVersion, or a Resources mapping where some resource has
// a Type of "AWS::...".
func Detect(root *yaml.Node) bool {
	root = yamlfield.Content(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	if lookup(root, "AWSTemplateFormatVersion") != nil {
		return true
	}
	res := lookup(root, "Resources")
	if res == nil || res.Kind != yaml.MappingNode {
		return false
	}
	for i := 1; i < len(res.Content); i += 2 {
		r := res.Content[i]
		if r.Kind != yaml.MappingNode {
			continue
		}
		if t := lookup(r, "Type"); t != nil && t.Kind == yaml.ScalarNode && strings.HasPrefix(t.Value, "AWS::") {
			return true
		}
	}
	return false
}

// lookup returns the value of a key of a mapping, without following
// aliases; nil when absent.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}
