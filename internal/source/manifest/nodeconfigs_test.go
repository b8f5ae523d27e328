package manifest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/golden"
)

// TestNodeConfigs loads a directory that mixes manifests with CloudFormation,
// eksctl and AWS CLI documents: each is routed to its loader, file:line
// stays right in multi-document files, and a broken template is an input
// error that leaves the inventory complete.
func TestNodeConfigs(t *testing.T) {
	res := load(t, "testdata/mixed-nodeconfigs")
	if len(res.Errors) == 0 {
		t.Error("the broken template in e-bad.json gave no error")
	}
	// Node settings can only close a path, never open one. Marking the
	// inventory incomplete would turn every Blocked verdict into Unknown
	// over a problem that cannot matter to it.
	if len(res.Inventory.Incomplete) != 0 {
		t.Errorf("node settings errors marked the inventory incomplete: %v", res.Inventory.Incomplete)
	}
	// They are node settings gaps instead, which keep the node layer from
	// withholding: the broken setting may have served credentials.
	if len(res.Inventory.NodeConfigGaps) != len(res.Errors) || !strings.Contains(strings.Join(res.Inventory.NodeConfigGaps, " "), "e-bad.json") {
		t.Errorf("gaps %v for errors %v", res.Inventory.NodeConfigGaps, res.Errors)
	}
	var b strings.Builder
	b.WriteString(render(res))
	for _, nc := range res.Inventory.NodeConfigs {
		fmt.Fprintf(&b, "nodeconfig %s %s cluster=%q labels=%s src=%s\n", nc.Kind, nc.Name, nc.Cluster, kv(nc.NodeLabels), nc.Source)
		if o := nc.AWS; o != nil {
			fmt.Fprintf(&b, "  tokens=%s:%s hop=%s:%s state=%s:%s disablePodIMDS=%s:%s\n", o.HTTPTokens.State, o.HTTPTokens.Raw,
				o.HopLimit.State, o.HopLimit.Raw, o.State.State, o.State.Raw, o.EksctlDisablePodIMDS.State, o.EksctlDisablePodIMDS.Raw)
		}
	}
	golden.Check(t, "testdata/mixed-nodeconfigs.golden", b.String())
}
