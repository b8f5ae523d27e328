package awsjson

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
)

// FuzzParse parses arbitrary CLI output: it must not panic, and every error
// must point at a line of the input.
func FuzzParse(f *testing.F) {
	nodeconfigtest.AddFiles(f, "testdata/*")
	f.Add([]byte(`{"Reservations": [{"Instances": [{"InstanceId": 1, "MetadataOptions": "x", "Tags": [{}]}]}]}`))
	f.Add([]byte(`{"LaunchTemplateVersions": [{"VersionNumber": 99999999999999999999999}]}`))
	f.Fuzz(nodeconfigtest.Fuzz(Parse))
}
