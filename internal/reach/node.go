package reach

import "github.com/imdsguard/imdsguard/internal/model"

// LayerNode is the node's own metadata settings (IMDSv2 and the hop limit,
// the GKE metadata server): whether a pod that reaches the endpoint is
// served the node's credentials.
const LayerNode Layer = "NodeSettings"

// NodeLayer says what the nodes' metadata settings let pods obtain at a
// target once the network lets them reach it.
type NodeLayer interface {
	// Decide returns the node layer's step for a pod shape at a target,
	// and false when no node settings are known for the target's clouds.
	// The answer may depend on the pod's class (hostNetwork) and on where
	// it may run (PlacementKey), nothing else. Only a Deny step changes a
	// verdict: to Blocked.
	Decide(t *Target, pod *model.PodTemplate) (Step, bool)
}

// Option configures an evaluation.
type Option func(*Engine)

// WithNodeLayer adds the node settings layer after the network layers.
func WithNodeLayer(n NodeLayer) Option {
	return func(e *Engine) { e.node = n }
}

// applyNode adds the node layer to a result. It can only close a path the
// network left open or undecided: withheld credentials make the verdict
// Blocked; anything else leaves the verdict as it was and is shown in the
// trace.
func (e *Engine) applyNode(r Result, ti int, pod *model.PodTemplate) Result {
	if e.node == nil || r.Verdict == Blocked {
		return r
	}
	step, ok := e.node.Decide(&e.targets[ti], pod)
	if !ok {
		return r
	}
	trace := make([]Step, 0, len(r.Trace)+1)
	trace = append(append(trace, r.Trace...), step)
	if step.Decision == Deny {
		return Result{Verdict: Blocked, Trace: trace}
	}
	return Result{Verdict: r.Verdict, Trace: trace}
}
