package manifest

import (
	"github.com/imdsguard/imdsguard/internal/model"
)

// UnknownObject is an object of a kind that plays no part in the verdict,
// kept for --verbose.
type UnknownObject struct {
	Ref    model.ObjectRef
	Source model.Source
}

// mark is a scope made incomplete, and why.
type mark struct {
	scope, why string
}

// workloadEntry is a workload as read, before owned objects are folded into
// their owners.
type workloadEntry struct {
	w     *model.Workload
	uid   string
	owner *ownerRef // the controlling owner, for kinds that are folded
}

// ownerRef is the ownerReference that names an object's controller.
type ownerRef struct {
	apiVersion, kind, name, uid string
	src                         model.Source
}

// collected is what one file holds, kept apart from the inventory so files
// can be read in parallel and merged in a fixed order.
type collected struct {
	errs       []*InputError
	marks      []mark
	namespaces []string
	declared   []*model.Namespace
	workloads  []*workloadEntry
	policies   []*model.NetworkPolicy
	accounts   []*model.ServiceAccount
	nodes      []*model.Node
	stubs      []*model.PolicyStub
	admin      []*model.AdminPolicy
	cilium     []*model.CiliumPolicy
	calico     []*model.CalicoPolicy
	tiers      []*model.CalicoTier
	unknown    []UnknownObject
	// nodeConfigs are node settings from infrastructure code and cloud
	// exports (nodeconfigs.go).
	nodeConfigs []*model.NodeConfig
	// nodeConfigGaps say which node settings documents had errors.
	nodeConfigGaps []string
	// read sums what was read of the file.
	read fileSum
}

// fail records an input error and the scope it leaves incomplete.
func (c *collected) fail(e *InputError, scope string, affects bool) {
	c.errs = append(c.errs, e)
	if affects {
		c.marks = append(c.marks, mark{scope: scope, why: e.Error()})
	}
}
