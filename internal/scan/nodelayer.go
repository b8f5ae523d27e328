package scan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// nodeLayer answers reach's node layer from the node settings read in the
// same run. The settings are taken to describe the cluster's nodes (issue
// #4: known when IaC or cloud exports are part of the run), so a target is
// withheld only when every node setting of every cloud the target serves
// withholds credentials; one that serves them, or cannot be decided, leaves
// the network's verdict as it was. When Node objects are present too, a
// node whose node group no setting describes leaves the answer open.
type nodeLayer struct {
	byCloud map[endpoints.Cloud][]*model.NodeConfig
	// open holds, per cloud, why some nodes' settings are not known.
	open map[endpoints.Cloud][]string
	// decided caches Decide: the answer depends only on the target and the
	// class of pod, and the engine asks once per group of pods.
	decided map[decisionKey]decision
}

type decisionKey struct {
	t    *reach.Target
	host bool
}

type decision struct {
	step reach.Step
	ok   bool
}

var _ reach.NodeLayer = (*nodeLayer)(nil)

// newNodeLayer resolves the node settings of an inventory, or returns nil
// when there are none.
func newNodeLayer(inv *model.Inventory) *nodeLayer {
	if len(inv.NodeConfigs) == 0 {
		return nil
	}
	n := &nodeLayer{byCloud: map[endpoints.Cloud][]*model.NodeConfig{}, open: map[endpoints.Cloud][]string{},
		decided: map[decisionKey]decision{}}
	for _, c := range inv.NodeConfigs {
		cloud := endpoints.Cloud(c.Cloud)
		resolved, why := nodesettings.Resolve(c, inv.NodeConfigs)
		if resolved == nil {
			n.open[cloud] = append(n.open[cloud], fmt.Sprintf("%s %s (%s): %s", c.Kind, c.Name, c.Source, why))
			continue
		}
		n.byCloud[cloud] = append(n.byCloud[cloud], resolved)
	}
	n.checkCoverage(inv.Nodes)
	return n
}

// checkCoverage records the Node objects that no node setting describes: a
// setting describes a node when all of its node labels are on the node.
func (n *nodeLayer) checkCoverage(nodes []*model.Node) {
	for _, node := range nodes {
		for _, cloud := range endpoints.Detect([]*model.Node{node}) {
			if !n.describes(cloud, node) {
				n.open[cloud] = append(n.open[cloud], "no node setting in the input describes node "+node.Name)
			}
		}
	}
}

func (n *nodeLayer) describes(cloud endpoints.Cloud, node *model.Node) bool {
	for _, c := range n.byCloud[cloud] {
		if len(c.NodeLabels) == 0 {
			continue
		}
		match := true
		for k, v := range c.NodeLabels {
			if node.Labels[k] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// Decide implements reach.NodeLayer. The engine calls it from one
// goroutine.
func (n *nodeLayer) Decide(t *reach.Target, hostNetwork bool) (reach.Step, bool) {
	k := decisionKey{t, hostNetwork}
	d, ok := n.decided[k]
	if !ok {
		d.step, d.ok = n.decide(t, hostNetwork)
		n.decided[k] = d
	}
	return d.step, d.ok
}

func (n *nodeLayer) decide(t *reach.Target, hostNetwork bool) (reach.Step, bool) {
	class, family := nodesettings.PodNetwork, nodesettings.IPv4
	if hostNetwork {
		class = nodesettings.HostNetwork
	}
	if t.Addr.Is6() {
		family = nodesettings.IPv6
	}
	var refs []reach.RuleRef
	var served, open []string
	known := false
	for _, cloud := range targetClouds(t) {
		cfgs, unknown := n.byCloud[cloud], n.open[cloud]
		if len(cfgs) == 0 && len(unknown) == 0 {
			open = append(open, "no node settings for "+string(cloud)+" in the input")
			continue
		}
		known = true
		open = append(open, unknown...)
		for _, c := range cfgs {
			// Every setting counts. A node group resolved to its launch
			// template reads as the template, so the trace names each
			// (setting, answer) pair once.
			o := nodesettings.Evaluate(c, class, family)
			ref := reach.RuleRef{Policy: model.ObjectRef{Kind: c.Kind, Name: c.Name}, Rule: -1, Source: c.Source,
				Why: o.Verdict.String() + ": " + o.Reason}
			if !slices.Contains(refs, ref) {
				refs = append(refs, ref)
			}
			switch name := c.Kind + " " + c.Name; {
			case o.Verdict == nodesettings.CredentialsServed && !slices.Contains(served, name):
				served = append(served, name)
			case o.Verdict == nodesettings.Unknown && !slices.Contains(open, name+": "+o.Reason):
				open = append(open, name+": "+o.Reason)
			}
		}
	}
	if !known {
		return reach.Step{}, false
	}
	step := reach.Step{Layer: reach.LayerNode, Rules: refs}
	switch {
	case len(served) > 0:
		step.Decision = reach.Allow
		step.Reason = "node settings serve credentials to " + class.String() + "s: " + strings.Join(served, ", ")
	case len(open) > 0:
		step.Decision = reach.Undecided
		step.Reason = "node settings could not be shown to withhold credentials: " + strings.Join(open, "; ")
	default:
		step.Decision = reach.Deny
		step.Reason = fmt.Sprintf("every node setting in the input withholds credentials from %ss at this endpoint", class)
	}
	return step, true
}

func targetClouds(t *reach.Target) []endpoints.Cloud {
	seen := map[endpoints.Cloud]bool{}
	var out []endpoints.Cloud
	for _, e := range t.Endpoints {
		if !seen[e.Cloud] {
			seen[e.Cloud] = true
			out = append(out, e.Cloud)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
