package cloudformation

import (
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
	"github.com/imdsguard/imdsguard/internal/source/yamlfield"
)

// FuzzParse parses arbitrary templates: it must not panic, and every error
// must point at a line of the input.
func FuzzParse(f *testing.F) {
	nodeconfigtest.AddFiles(f, "testdata/*")
	f.Add([]byte("Resources: {A: {Type: AWS::EC2::Instance, Properties: &p {MetadataOptions: *p}}}"))
	f.Add([]byte("Conditions: {A: !Not [!Condition A]}\nResources: {L: {Type: AWS::EC2::LaunchTemplate, Condition: A}}"))
	f.Fuzz(nodeconfigtest.Fuzz(func(file string, base int, root *yaml.Node) ([]*model.NodeConfig, []*yamlfield.Error) {
		return Parse(file, base, root, Options{})
	}))
}
