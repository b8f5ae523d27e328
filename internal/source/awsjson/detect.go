package awsjson

import (
	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// The Kinds of the NodeConfigs read from each command's output.
const (
	InstancesKind = "ec2 describe-instances"
	// LaunchTemplateVersionsKind NodeConfigs are named
	// "LaunchTemplateId:VersionNumber". Other loaders point at a launch
	// template outside their own source with a NodeConfigRef of this Kind,
	// the template ID as Name and the version as Version.
	LaunchTemplateVersionsKind = "ec2 describe-launch-template-versions"
	LaunchTemplateDataKind     = "ec2 get-launch-template-data"
)

// commands maps the top-level key of each command's output to the Kind of
// what it holds.
var commands = map[string]string{
	"Reservations":           InstancesKind,
	"LaunchTemplateVersions": LaunchTemplateVersionsKind,
	"LaunchTemplateData":     LaunchTemplateDataKind,
}

// Detect reports whether a document is the output of one of the commands
// this package reads: a mapping with a Reservations,
// LaunchTemplateVersions or LaunchTemplateData key.
func Detect(root *yaml.Node) bool {
	return command(yamlfield.Content(root)) != ""
}

// command returns the Kind of the output a mapping holds, or "".
func command(root *yaml.Node) string {
	if root == nil || root.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode {
			if kind, ok := commands[k.Value]; ok {
				return kind
			}
		}
	}
	return ""
}
