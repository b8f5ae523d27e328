package reach_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// nodeFunc adapts a function to reach.NodeLayer.
type nodeFunc func(t *reach.Target, host bool) (reach.Step, bool)

func (f nodeFunc) Decide(t *reach.Target, pod *model.PodTemplate) (reach.Step, bool) {
	return f(t, pod.HostNetwork)
}

var _ reach.NodeLayer = nodeFunc(nil)

// withholdFromPods is an AWS node with tokens required and hop limit 1:
// pods in their own network namespace get nothing at the IPv4 endpoint,
// host-network pods still do; nothing is known about the other targets.
func withholdFromPods(t *reach.Target, host bool) (reach.Step, bool) {
	if t.String() != imds4 {
		return reach.Step{}, false
	}
	if host {
		return reach.Step{Layer: reach.LayerNode, Decision: reach.Allow, Reason: "served: same network namespace"}, true
	}
	return reach.Step{Layer: reach.LayerNode, Decision: reach.Deny, Reason: "withheld: hop limit 1"}, true
}

func TestNodeLayer(t *testing.T) {
	unknownNode := func(t *reach.Target, host bool) (reach.Step, bool) {
		return reach.Step{Layer: reach.LayerNode, Decision: reach.Undecided, Reason: "hop limit unset"}, true
	}
	denyAll := policy(t, "deny-all", []string{"Egress"})
	tests := []struct {
		name     string
		node     reach.NodeLayer
		policies []*model.NetworkPolicy
		pod      model.PodTemplate
		want     map[string]reach.Verdict
		// wantLast is the last layer of the IPv4 trace.
		wantLast reach.Layer
	}{
		{"node withholds from an open pod", nodeFunc(withholdFromPods), nil, model.PodTemplate{},
			map[string]reach.Verdict{imds4: reach.Blocked, imds6: reach.Reachable}, reach.LayerNode},
		{"host network is still served", nodeFunc(withholdFromPods), nil, model.PodTemplate{HostNetwork: true},
			map[string]reach.Verdict{imds4: reach.Reachable}, reach.LayerNode},
		{"unknown node settings change nothing", nodeFunc(unknownNode), nil, model.PodTemplate{},
			map[string]reach.Verdict{imds4: reach.Reachable, imds6: reach.Reachable}, reach.LayerNode},
		{"a blocked path needs no node layer", nodeFunc(withholdFromPods), []*model.NetworkPolicy{denyAll}, model.PodTemplate{},
			map[string]reach.Verdict{imds4: reach.Blocked}, reach.LayerNetworkPolicy},
		{"no node layer", nil, nil, model.PodTemplate{},
			map[string]reach.Verdict{imds4: reach.Reachable}, reach.LayerNetworkPolicy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := model.NewInventory()
			inv.NetworkPolicies = tt.policies
			inv.Workloads = []*model.Workload{workload("app", withDefaultLabels(tt.pod))}
			var opts []reach.Option
			if tt.node != nil {
				opts = append(opts, reach.WithNodeLayer(tt.node))
			}
			a := reach.Evaluate(inv, allTargets, opts...)
			res := a.Workloads[0].Results
			if diff := cmp.Diff(verdicts(res, tt.want), tt.want); diff != "" {
				t.Errorf("verdicts (-got +want):\n%s", diff)
			}
			trace := res[targetIndex(t, imds4)].Trace
			if got := trace[len(trace)-1].Layer; got != tt.wantLast {
				t.Errorf("last layer %s, want %s (trace %+v)", got, tt.wantLast, trace)
			}
		})
	}
}

// placementLayer withholds credentials from pods pinned to the "secure"
// node group only.
type placementLayer struct{}

func (placementLayer) Decide(t *reach.Target, pod *model.PodTemplate) (reach.Step, bool) {
	if pod.NodeSelector["group"] == "secure" {
		return reach.Step{Layer: reach.LayerNode, Decision: reach.Deny, Reason: "withheld on the secure group"}, true
	}
	return reach.Step{Layer: reach.LayerNode, Decision: reach.Allow, Reason: "served elsewhere"}, true
}

// TestNodeLayerByPlacement checks that pods alike in every way but where
// they may run do not share a verdict.
func TestNodeLayerByPlacement(t *testing.T) {
	inv := model.NewInventory()
	pinned := withDefaultLabels(model.PodTemplate{NodeSelector: model.Labels{"group": "secure"}})
	inv.Workloads = []*model.Workload{workload("pinned", pinned), workload("free", withDefaultLabels(model.PodTemplate{}))}
	a := reach.Evaluate(inv, allTargets, reach.WithNodeLayer(placementLayer{}))
	ti := targetIndex(t, imds4)
	for i, want := range []reach.Verdict{reach.Blocked, reach.Reachable} {
		if got := a.Workloads[i].Results[ti].Verdict; got != want {
			t.Errorf("%s: %s, want %s", a.Workloads[i].Workload.Ref.Name, got, want)
		}
	}
}
