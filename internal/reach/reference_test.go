package reach_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// This file is a reference evaluator: a naive, line-by-line transcription of
// the NetworkPolicy egress semantics from the Kubernetes API reference. It
// shares no matching code with the engine (selectors, CIDRs and ports are
// reimplemented from the raw fields) so that the differential test compares
// two independent readings. TestReferenceIsIndependent keeps it that way.

// refTri is a three-valued match: the target is allowed, is not, or may be
// (the rule goes through an ambiguous ipBlock).
type refTri int

const (
	refNo refTri = iota
	refMaybe
	refYes
)

// refRule names a policy and one of its egress rules (-1 for the policy as
// a whole), as the NetworkPolicy step of a trace does.
type refRule struct {
	Policy model.ObjectRef
	Rule   int
}

// refOutcome is the reference answer for one pod shape and one target.
type refOutcome struct {
	Verdict reach.Verdict
	// Rules is what the NetworkPolicy layer names: the allowing rules, else
	// the rules that may allow, else the isolating policies.
	Rules []refRule
	// Admin and Baseline are the rules the admin layers name, sorted: every
	// rule that may be the first to match in a policy that is reached.
	Admin, Baseline []refRule
	// CiliumDeny are the egressDeny rules that deny in every way the input
	// allows (reference_cilium_test.go), sorted.
	CiliumDeny []refRule
}

type refWorkload struct {
	Policies    []*model.NetworkPolicy
	PerTemplate [][]refOutcome
	Results     []reach.Verdict
}

type refAnalysis struct {
	Workloads []refWorkload
	Selects   map[*model.NetworkPolicy][]*model.Workload
}

func refEvaluate(inv *model.Inventory, targets []reach.Target) *refAnalysis {
	a := &refAnalysis{Selects: map[*model.NetworkPolicy][]*model.Workload{}}
	for _, w := range inv.Workloads {
		var rw refWorkload
		ns := w.Ref.Namespace
		for _, np := range inv.NetworkPolicies {
			for i := range w.Templates {
				if refIsolatesForEgress(np, ns, w.Templates[i].Labels) {
					rw.Policies = append(rw.Policies, np)
					a.Selects[np] = append(a.Selects[np], w)
					break
				}
			}
		}
		for i := range w.Templates {
			pod := &w.Templates[i]
			var selecting []*model.NetworkPolicy
			for _, np := range inv.NetworkPolicies {
				if refIsolatesForEgress(np, ns, pod.Labels) {
					selecting = append(selecting, np)
				}
			}
			out := make([]refOutcome, len(targets))
			for ti := range targets {
				out[ti] = refPod(inv, ns, pod, selecting, &targets[ti])
			}
			rw.PerTemplate = append(rw.PerTemplate, out)
		}
		rw.Results = make([]reach.Verdict, len(targets))
		for ti := range targets {
			for i := range rw.PerTemplate {
				if i == 0 || rw.PerTemplate[i][ti].Verdict > rw.Results[ti] {
					rw.Results[ti] = rw.PerTemplate[i][ti].Verdict
				}
			}
		}
		a.Workloads = append(a.Workloads, rw)
	}
	return a
}

// refIsolatesForEgress: "a pod is isolated for egress if there is any
// NetworkPolicy that both selects the pod and has Egress in its
// policyTypes". A policy only selects pods in its own namespace.
func refIsolatesForEgress(np *model.NetworkPolicy, ns string, l model.Labels) bool {
	return np.Egress && np.Ref.Namespace == ns && refSelectorSelects(&np.PodSelector, l)
}

func refPod(inv *model.Inventory, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) refOutcome {
	if pod.HostNetwork {
		// NetworkPolicy does not apply to host-network pods; only cluster
		// policies of kinds that can select host endpoints might.
		o := refOutcome{Verdict: reach.Reachable}
		for _, s := range inv.Unsupported {
			if s.ClusterScoped && s.SelectsHostNetwork {
				o.Verdict = reach.Unknown
			}
		}
		if refCiliumHostPolicy(inv) {
			o.Verdict = reach.Unknown
		}
		return o
	}
	v, layers := refAdminPod(inv, ns, pod, selecting, t)
	o := refOutcome{Verdict: v, Rules: layers.np, Admin: refSorted(layers.admin), Baseline: refSorted(layers.baseline), CiliumDeny: refSorted(layers.ciliumDeny)}
	for _, s := range inv.Unsupported {
		switch {
		case !s.ClusterScoped && s.Ref.Namespace == ns:
			o.Verdict = reach.Unknown // sits beside NetworkPolicy in the namespace
		case s.ClusterScoped && !s.Baseline:
			o.Verdict = reach.Unknown // evaluated before NetworkPolicy
		}
		// A baseline kind decides only where no NetworkPolicy isolates
		// (refLayers.below).
	}
	if o.Verdict == reach.Blocked && (len(inv.Incomplete[""]) > 0 || len(inv.Incomplete[ns]) > 0) {
		o.Verdict = reach.Unknown
	}
	return o
}

// refNetworkPolicy: a pod that is not isolated may send anywhere. An
// isolated pod may send what at least one egress rule of at least one
// selecting policy allows; policies are additive.
func refNetworkPolicy(selecting []*model.NetworkPolicy, t *reach.Target) (refOutcome, bool) {
	if len(selecting) == 0 {
		return refOutcome{Verdict: reach.Reachable}, false
	}
	var allows, maybes, policies []refRule
	for _, np := range selecting {
		policies = append(policies, refRule{np.Ref, -1})
		for _, r := range np.EgressRules {
			switch refRuleAllows(&r, t) {
			case refYes:
				allows = append(allows, refRule{np.Ref, r.Index})
			case refMaybe:
				maybes = append(maybes, refRule{np.Ref, r.Index})
			}
		}
	}
	switch {
	case len(allows) > 0:
		return refOutcome{Verdict: reach.Reachable, Rules: allows}, true
	case len(maybes) > 0:
		return refOutcome{Verdict: reach.Unknown, Rules: maybes}, true
	}
	return refOutcome{Verdict: reach.Blocked, Rules: policies}, true
}

// refRuleAllows: "traffic is allowed if it matches both the ports and the
// to sections" of the rule.
func refRuleAllows(r *model.EgressRule, t *reach.Target) refTri {
	to := refTo(r.To, t)
	if to == refNo || !refPorts(r.Ports, t) {
		return refNo
	}
	return to
}

// refTo: "If this field is empty or missing, this rule matches all
// destinations"; otherwise the destination must match some item.
func refTo(peers []model.Peer, t *reach.Target) refTri {
	if len(peers) == 0 {
		return refYes
	}
	out := refNo
	for _, p := range peers {
		if p.IPBlock == nil {
			// podSelector and namespaceSelector select pods, and no pod
			// has a metadata address.
			continue
		}
		switch {
		case p.IPBlock.Ambiguous != "":
			// The CNI's reading of the block cannot be known, so neither
			// can its effect.
			out = max(out, refMaybe)
		case refIPBlockHas(p.IPBlock, t):
			out = refYes
		}
	}
	return out
}

// refIPBlockHas: the address is inside the cidr and not inside any except.
// Addresses of the other family are never inside.
func refIPBlockHas(b *model.IPBlock, t *reach.Target) bool {
	addr := t.Addr.AsSlice()
	if !refPrefixHas(b.CIDR.Addr().AsSlice(), b.CIDR.Bits(), addr) {
		return false
	}
	for _, ex := range b.Except {
		if refPrefixHas(ex.Addr().AsSlice(), ex.Bits(), addr) {
			return false
		}
	}
	return true
}

// refPrefixHas compares the first bits bits of the network address and the
// address, one bit at a time. A 4-byte and a 16-byte address are of
// different families, so never match.
func refPrefixHas(network []byte, bits int, addr []byte) bool {
	if len(network) != len(addr) || bits < 0 || bits > 8*len(addr) {
		return false
	}
	for i := 0; i < bits; i++ {
		shift := 7 - i%8
		if (network[i/8]>>shift)&1 != (addr[i/8]>>shift)&1 {
			return false
		}
	}
	return true
}

// refPorts: "If this field is empty or missing, this rule matches all
// ports"; otherwise some entry must match the protocol and port. A named
// port names a container port of the destination pod, which an address
// outside the cluster does not have. An entry with no port matches every
// port of its protocol, and endPort makes the port a range.
func refPorts(ports []model.Port, t *reach.Target) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != t.Protocol || p.Name != "" {
			continue
		}
		if p.Number == 0 {
			return true
		}
		if p.EndPort == 0 && p.Number == t.Port {
			return true
		}
		if p.EndPort != 0 && p.Number <= t.Port && t.Port <= p.EndPort {
			return true
		}
	}
	return false
}

// refSelectorSelects: every matchLabels pair and every matchExpressions
// requirement must hold; an empty selector selects everything.
func refSelectorSelects(s *model.Selector, l model.Labels) bool {
	for k, v := range s.MatchLabels {
		got, ok := l[k]
		if !ok || got != v {
			return false
		}
	}
	for _, r := range s.MatchExpressions {
		got, has := l[r.Key]
		switch r.Operator {
		case "In":
			if !has || !slices.Contains(r.Values, got) {
				return false
			}
		case "NotIn":
			if has && slices.Contains(r.Values, got) {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// TestReferenceIsIndependent fails if the reference evaluator starts using
// the matching code it is meant to check.
func TestReferenceIsIndependent(t *testing.T) {
	for _, file := range []string{"reference_test.go", "reference_admin_test.go", "reference_calico_test.go", "reference_cilium_test.go"} {
		checkIndependent(t, file)
	}
}

func checkIndependent(t *testing.T, file string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]bool{
		"Matches": true, "Compiled": true, "Empty": true, // model.Selector
		"Contains": true, "Overlaps": true, "Masked": true, "Is4": true, "Is6": true, "Unmap": true, // netip
		"Selecting": true, "Excepts": true, "Pod": true, "New": true, // reach
	}
	ast.Inspect(f, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok && forbidden[s.Sel.Name] {
			if x, ok := s.X.(*ast.Ident); !ok || x.Name != "slices" {
				t.Errorf("%s uses .%s, which the engine also uses; reimplement it instead", file, s.Sel.Name)
			}
		}
		return true
	})
}
