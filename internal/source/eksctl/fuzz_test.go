package eksctl

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/source/nodeconfigtest"
)

// FuzzParse parses arbitrary ClusterConfigs: it must not panic, and every error
// must point at a line of the input.
func FuzzParse(f *testing.F) {
	nodeconfigtest.AddFiles(f, "testdata/*")
	f.Add([]byte("apiVersion: eksctl.io/v1alpha5\nkind: ClusterConfig\nnodeGroups: [&a {<<: *a}]"))
	f.Add([]byte("managedNodeGroups: [{name: a, launchTemplate: {version: [1]}, labels: {a: [b]}}]"))
	f.Fuzz(nodeconfigtest.Fuzz(Parse))
}
