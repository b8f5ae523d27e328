package reach_test

import (
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// The reference reading of CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy egress, with NetworkPolicy beside them as
// the Cilium agent enforces both (docs/semantics.md). It lists every
// "world" the input allows: each rule that may select the pod does or does
// not, each rule that may match the target does or does not. In each world:
// a matching egressDeny rule of a selected rule blocks; else a pod that a
// NetworkPolicy or a selected rule in default deny isolates is reachable
// exactly when some allow rule matches; else the baseline decides. Like the
// other reference files, it shares no matching code with the engine.

// refCiliumSel is a rule of a Cilium policy that selects, or may select,
// the pod.
type refCiliumSel struct {
	rule  *model.CiliumRule
	maybe bool
}

// ciliumBelow decides for a pod that Cilium rules select, recording the
// verdict of every world. It reports false when no Cilium rule does, so
// that NetworkPolicy alone decides.
func (l *refLayers) ciliumBelow(inv *model.Inventory, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) bool {
	var sels []refCiliumSel
	for _, p := range inv.CiliumPolicies {
		for i := range p.Rules {
			r := &p.Rules[i]
			// A rule with no egress or egressDeny rules says nothing about
			// egress; a host rule selects nodes, not pods.
			if len(r.Egress) == 0 || r.EndpointSelector == nil {
				continue
			}
			switch refCiliumSelects(inv, p, r.EndpointSelector, ns, pod) {
			case refYes:
				sels = append(sels, refCiliumSel{rule: r})
			case refMaybe:
				sels = append(sels, refCiliumSel{rule: r, maybe: true})
			}
		}
	}
	if len(sels) == 0 {
		return false
	}
	for _, s := range sels {
		for j := range s.rule.Egress {
			if r := &s.rule.Egress[j]; !s.maybe && r.Deny && refCiliumMatches(r, t) == refYes {
				l.ciliumDeny = append(l.ciliumDeny, refRule{refCiliumPolicyOf(inv, s.rule).Ref, r.Index})
			}
		}
	}
	// forks[i] is the choice a world makes for the i-th open question.
	type question struct {
		sel  int // the selection of sels[sel], or -1
		rule *model.CiliumEgressRule
		np   *model.EgressRule
	}
	var questions []question
	for i, s := range sels {
		if s.maybe {
			questions = append(questions, question{sel: i})
		}
		for j := range s.rule.Egress {
			if refCiliumMatches(&s.rule.Egress[j], t) == refMaybe {
				questions = append(questions, question{sel: -1, rule: &s.rule.Egress[j]})
			}
		}
	}
	for _, np := range selecting {
		for j := range np.EgressRules {
			if refRuleAllows(&np.EgressRules[j], t) == refMaybe {
				questions = append(questions, question{sel: -1, np: &np.EgressRules[j]})
			}
		}
	}
	if len(questions) > 20 {
		panic("reference: too many open questions for one pod; keep the generated policies smaller")
	}
	for world := 0; world < 1<<len(questions); world++ {
		selected := make([]bool, len(sels))
		ruleMatch := map[*model.CiliumEgressRule]bool{}
		npMatch := map[*model.EgressRule]bool{}
		for i, s := range sels {
			selected[i] = !s.maybe
		}
		for qi, q := range questions {
			on := world&(1<<qi) != 0
			switch {
			case q.sel >= 0:
				selected[q.sel] = on
			case q.rule != nil:
				ruleMatch[q.rule] = on
			default:
				npMatch[q.np] = on
			}
		}
		matches := func(r *model.CiliumEgressRule) bool {
			switch refCiliumMatches(r, t) {
			case refYes:
				return true
			case refMaybe:
				return ruleMatch[r]
			}
			return false
		}
		denied, isolated, allowed := false, len(selecting) > 0, false
		for i, s := range sels {
			if !selected[i] {
				continue
			}
			isolated = isolated || s.rule.DefaultDenyEgress
			for j := range s.rule.Egress {
				r := &s.rule.Egress[j]
				if !matches(r) {
					continue
				}
				if r.Deny {
					denied = true
				} else {
					allowed = true
				}
			}
		}
		for _, np := range selecting {
			for j := range np.EgressRules {
				r := &np.EgressRules[j]
				if m := refRuleAllows(r, t); m == refYes || (m == refMaybe && npMatch[r]) {
					allowed = true
				}
			}
		}
		switch {
		case denied:
			l.verdicts = append(l.verdicts, reach.Blocked)
		case isolated && allowed:
			l.verdicts = append(l.verdicts, reach.Reachable)
		case isolated:
			l.verdicts = append(l.verdicts, reach.Blocked)
		default:
			l.baselineVerdicts(inv, ns, pod, t)
		}
	}
	return true
}

// refCiliumHostPolicy: a host rule (nodeSelector) with egress rules
// applies to the nodes' own traffic, which host-network pods send.
func refCiliumHostPolicy(inv *model.Inventory) bool {
	for _, p := range inv.CiliumPolicies {
		for _, r := range p.Rules {
			if r.NodeSelector != nil && len(r.Egress) > 0 {
				return true
			}
		}
	}
	return false
}

// refCiliumSelects: every term must hold on the labels Cilium gives the
// pod: its own (source k8s), io.kubernetes.pod.namespace,
// io.cilium.k8s.policy.serviceaccount and the namespace's labels under
// io.cilium.k8s.namespace.labels. A namespaced policy only ever selects in
// its namespace; a k8s:io.kubernetes.pod.namespace matchLabels entry in it
// is replaced by that namespace.
func refCiliumSelects(inv *model.Inventory, p *model.CiliumPolicy, sel *model.CiliumSelector, ns string, pod *model.PodTemplate) refTri {
	if !p.Clusterwide && ns != p.Ref.Namespace {
		return refNo
	}
	known := map[string]string{}
	for k, v := range pod.Labels {
		known[k] = v
	}
	known["io.kubernetes.pod.namespace"] = ns
	sa := pod.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	known["io.cilium.k8s.policy.serviceaccount"] = sa
	nsDeclared := false
	if n, ok := inv.Namespaces[ns]; ok && n.Declared {
		nsDeclared = true
		for k, v := range n.Labels {
			known["io.cilium.k8s.namespace.labels."+k] = v
		}
	} else {
		known["io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"] = ns
	}
	out := refYes
	for _, term := range sel.Terms {
		if !p.Clusterwide && term.FromMatchLabels && term.LabelSource == "k8s" && term.Key == "io.kubernetes.pod.namespace" {
			continue
		}
		if term.LabelSource == "reserved" {
			// A running pod has no reserved labels.
			if !refTermHolds(term, "", false) {
				return refNo
			}
			continue
		}
		open := term.LabelSource != "k8s" && term.LabelSource != "any"
		added := strings.HasPrefix(term.Key, "io.cilium.k8s.") || term.Key == "io.kubernetes.pod.namespace"
		open = open || term.Key == "io.cilium.k8s.policy.cluster" || (!added && refIdentityFiltered(term.Key))
		open = open || (!nsDeclared && strings.HasPrefix(term.Key, "io.cilium.k8s.namespace.labels.") &&
			term.Key != "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name")
		if open {
			out = refMaybe
			continue
		}
		v, has := known[term.Key]
		if !refTermHolds(term, v, has) {
			return refNo
		}
	}
	return out
}

func refTermHolds(term model.CiliumTerm, v string, has bool) bool {
	switch term.Operator {
	case "In":
		return has && slices.Contains(term.Values, v)
	case "NotIn":
		return !has || !slices.Contains(term.Values, v)
	case "Exists":
		return has
	case "DoesNotExist":
		return !has
	}
	return false
}

// refIdentityFiltered: the labels Cilium's default label filter keeps out
// of identities (kubernetes.io and k8s.io keys but app.kubernetes.io,
// pod-template-hash and the like), so no selector can see them.
func refIdentityFiltered(key string) bool {
	if strings.HasPrefix(key, "app.kubernetes.io") {
		return false
	}
	if refHas(key, "kubernetes.io") || refHas(key, "k8s.io") {
		return true
	}
	for _, prefix := range []string{"pod-template-generation", "pod-template-hash", "controller-revision-hash", "controller-uid", "annotation", "etcd_node"} {
		if strings.HasPrefix(key, prefix) {
			return true
		}
	}
	return false
}

// refCiliumMatches: a rule matches when its peer and its ports do. No peer
// field with toPorts (or icmps) is every destination; with neither, the
// rule selects nothing; an empty peer list selects nothing.
func refCiliumMatches(r *model.CiliumEgressRule, t *reach.Target) refTri {
	l3 := refCiliumPeer(r, t)
	l4 := refCiliumPorts(r, t)
	if l3 == refNo || l4 == refNo {
		return refNo
	}
	if l3 == refMaybe || l4 == refMaybe {
		return refMaybe
	}
	return refYes
}

func refCiliumPeer(r *model.CiliumEgressRule, t *reach.Target) refTri {
	out := refNo
	addr := t.Addr.AsSlice()
	switch {
	case r.EmptyPeer:
	case r.Peer == "":
		if r.HasToPorts || r.ICMP {
			out = refYes
		}
	case r.Peer == model.CiliumToCIDR || r.Peer == model.CiliumToCIDRSet:
		for i := range r.CIDRs {
			b := &r.CIDRs[i]
			switch {
			case b.Ambiguous != "":
				out = max(out, refMaybe)
			case refIPBlockHas(b, t):
				out = refYes
			}
		}
	case r.Peer == model.CiliumToEntities:
		for _, e := range r.Entities {
			if e == "all" || e == "world" || (e == "world-ipv4" && len(addr) == 4) || (e == "world-ipv6" && len(addr) == 16) {
				out = refYes
			}
		}
	case r.Peer == model.CiliumToEndpoints:
		for _, s := range r.Endpoints {
			for _, term := range s.Terms {
				if term.LabelSource == "reserved" {
					out = max(out, refMaybe)
				}
			}
		}
	}
	for _, u := range r.Unmodelled {
		narrows := u == "toRequires" || u == "authentication"
		if narrows && out == refYes {
			out = refMaybe
		}
		if !narrows && out == refNo && !r.EmptyPeer {
			out = refMaybe
		}
	}
	return out
}

// refCiliumPorts: no toPorts is every port; otherwise a port entry must
// match: protocol ANY is TCP, UDP and SCTP; port 0 every port; a range
// when endPort is above the port. An entry with layer 7 rules lets some
// requests through and not others.
func refCiliumPorts(r *model.CiliumEgressRule, t *reach.Target) refTri {
	if r.ICMP {
		return refNo
	}
	if !r.HasToPorts {
		return refYes
	}
	out := refNo
	for _, pr := range r.ToPorts {
		for _, p := range pr.Ports {
			protoOK := p.Protocol == t.Protocol ||
				(p.Protocol == "ANY" && (t.Protocol == "TCP" || t.Protocol == "UDP" || t.Protocol == "SCTP"))
			if !protoOK || p.Name != "" {
				continue
			}
			portOK := p.Number == 0 || p.Number == t.Port || (p.EndPort > p.Number && p.Number <= t.Port && t.Port <= p.EndPort)
			if !portOK {
				continue
			}
			if pr.L7 == "" {
				return refYes
			}
			out = refMaybe
		}
	}
	return out
}

// refHas reports whether sub occurs in s, by trying every position.
func refHas(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// refCiliumPolicyOf finds the policy a rule belongs to.
func refCiliumPolicyOf(inv *model.Inventory, r *model.CiliumRule) *model.CiliumPolicy {
	for _, p := range inv.CiliumPolicies {
		for i := range p.Rules {
			if &p.Rules[i] == r {
				return p
			}
		}
	}
	panic("reference: a Cilium rule outside every policy")
}
