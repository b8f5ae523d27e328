package scan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/config"
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/nodesettings"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// nodeLayer answers reach's node layer from the node settings read in the
// same run. The settings are taken to describe the cluster's nodes (issue
// #4: known when IaC or cloud exports are part of the run). A pod may run
// on the nodes of every setting whose node labels its node selector and
// required node affinity do not rule out; a setting that states no labels
// is never ruled out. A target is withheld only when every such setting,
// of every cloud the target serves, withholds credentials; one that serves
// them, or cannot be decided, leaves the network's verdict as it was. When
// Node objects are present too, a node that no setting describes leaves
// the answer open for the pods that may run on it.
type nodeLayer struct {
	byCloud map[endpoints.Cloud][]nodeEntry
	// gaps say why some node settings in the input were not read: a
	// setting not read may serve, so nothing is withheld.
	gaps string
	// decided caches Decide: the answer depends only on the target, the
	// class of pod and where it may run, and the engine asks once per
	// group of pods.
	decided map[decisionKey]decision
}

// nodeEntry is one node setting, or one node that no setting describes,
// with what is known of the nodes it stands for.
type nodeEntry struct {
	name  string // "Kind Name", or "node NAME"
	facts nodeFacts
	// cfg is the effective setting; nil when it is not known, and open
	// says why.
	cfg  *model.NodeConfig
	open string
	// everyNode marks a setting declared for every node of its cloud.
	everyNode bool
}

type decisionKey struct {
	t         *reach.Target
	host      bool
	placement string
}

type decision struct {
	step reach.Step
	ok   bool
}

var _ reach.NodeLayer = (*nodeLayer)(nil)

// newNodeLayer resolves the node settings of an inventory, or returns nil
// when there are none. A launch template that another setting resolves to
// describes no nodes of its own: its nodes are its referrers'.
func newNodeLayer(inv *model.Inventory) *nodeLayer {
	if len(inv.NodeConfigs) == 0 {
		return nil
	}
	n := &nodeLayer{byCloud: map[endpoints.Cloud][]nodeEntry{}, decided: map[decisionKey]decision{}}
	if g := inv.NodeConfigGaps; len(g) > 0 {
		n.gaps = "some node settings in the input could not be read, and any of them may serve credentials: " + g[0]
		if len(g) > 1 {
			n.gaps += fmt.Sprintf(" (and %d more)", len(g)-1)
		}
	}
	type ref struct{ kind, name string }
	used := map[ref]bool{}
	var entries []nodeEntry
	var clouds []endpoints.Cloud
	for _, c := range inv.NodeConfigs {
		// A node profile that names no labels is declared for every node
		// of its cloud.
		e := nodeEntry{name: c.Kind + " " + c.Name, facts: nodeFacts{labels: c.NodeLabels},
			everyNode: c.Kind == config.NodeProfileKind && len(c.NodeLabels) == 0}
		resolved, why := nodesettings.Resolve(c, inv.NodeConfigs)
		switch {
		case resolved == nil:
			e.open = fmt.Sprintf("%s (%s): %s", e.name, c.Source, why)
		case resolved.Kind != c.Kind || resolved.Name != c.Name:
			used[ref{resolved.Kind, resolved.Name}] = true
			e.cfg = resolved
		default:
			e.cfg = resolved
		}
		entries = append(entries, e)
		clouds = append(clouds, endpoints.Cloud(c.Cloud))
	}
	for i, c := range inv.NodeConfigs {
		if !used[ref{c.Kind, c.Name}] {
			n.byCloud[clouds[i]] = append(n.byCloud[clouds[i]], entries[i])
		}
	}
	n.checkCoverage(inv.Nodes)
	return n
}

// checkCoverage adds the Node objects that no node setting describes: a
// setting describes a node when all of its node labels are on the node.
func (n *nodeLayer) checkCoverage(nodes []*model.Node) {
	for _, node := range nodes {
		for _, cloud := range endpoints.Detect([]*model.Node{node}) {
			if !n.describes(cloud, node) {
				n.byCloud[cloud] = append(n.byCloud[cloud], nodeEntry{name: "node " + node.Name,
					facts: nodeFacts{labels: node.Labels, complete: true, name: node.Name},
					open:  "no node setting in the input describes node " + node.Name})
			}
		}
	}
}

func (n *nodeLayer) describes(cloud endpoints.Cloud, node *model.Node) bool {
	for _, e := range n.byCloud[cloud] {
		if !e.facts.complete && (e.everyNode || nodesettings.Describes(&model.NodeConfig{NodeLabels: e.facts.labels}, node)) {
			return true
		}
	}
	return false
}

// Decide implements reach.NodeLayer. The engine calls it from one
// goroutine.
func (n *nodeLayer) Decide(t *reach.Target, pod *model.PodTemplate) (reach.Step, bool) {
	k := decisionKey{t, pod.HostNetwork, pod.PlacementKey()}
	d, ok := n.decided[k]
	if !ok {
		d.step, d.ok = n.decide(t, pod)
		n.decided[k] = d
	}
	return d.step, d.ok
}

func (n *nodeLayer) decide(t *reach.Target, pod *model.PodTemplate) (reach.Step, bool) {
	class, family := nodesettings.PodNetwork, nodesettings.IPv4
	if pod.HostNetwork {
		class = nodesettings.HostNetwork
	}
	if t.Addr.Is6() {
		family = nodesettings.IPv6
	}
	var refs []reach.RuleRef
	var served, open, placed []string
	known := false
	for _, cloud := range targetClouds(t) {
		entries := n.byCloud[cloud]
		if len(entries) == 0 {
			open = append(open, "no node settings for "+string(cloud)+" in the input")
			continue
		}
		known = true
		var fitting []nodeEntry
		for _, e := range entries {
			if fits(pod, e.facts) != fitNo {
				fitting = append(fitting, e)
			}
		}
		if len(fitting) < len(entries) {
			for _, e := range fitting {
				placed = append(placed, e.name)
			}
		}
		if len(fitting) == 0 {
			open = append(open, "the pod's node selector or affinity rules out every "+string(cloud)+
				" node setting in the input, so the settings of the nodes it runs on were not read")
			continue
		}
		for _, e := range fitting {
			if e.cfg == nil {
				open = append(open, e.open)
				continue
			}
			c := e.cfg
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
	if n.gaps != "" {
		open = append(open, n.gaps)
	}
	step := reach.Step{Layer: reach.LayerNode, Rules: refs}
	where := ""
	if len(placed) > 0 {
		where = " (its node selector and affinity leave only " + strings.Join(placed, ", ") + ")"
	}
	switch {
	case len(served) > 0:
		step.Decision = reach.Allow
		step.Reason = "node settings serve credentials to " + class.String() + "s" + where + ": " + strings.Join(served, ", ")
	case len(open) > 0:
		step.Decision = reach.Undecided
		step.Reason = "node settings could not be shown to withhold credentials" + where + ": " + strings.Join(open, "; ")
	case where != "":
		step.Decision = reach.Deny
		step.Reason = fmt.Sprintf("every node setting of the nodes the pod may run on%s withholds credentials from %ss at this endpoint", where, class)
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
