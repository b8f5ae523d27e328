package reach_test

import (
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// This file is the reference evaluator for Calico policy: a plain reading
// of the Calico Tier, NetworkPolicy and GlobalNetworkPolicy references,
// written without the engine's matching code (TestReferenceIsIndependent).
// Where the input leaves a choice open (a selector on labels the input
// does not show, a rule criterion that is not evaluated), it does not
// reason about sets of outcomes as the engine does: it runs every
// combination of choices ("worlds") one packet at a time, and the verdict
// is decided only when all worlds agree.

// refCalicoPod is the reference verdict for one pod shape and target.
func refCalicoPod(c *calicoCase, ns string, pod *model.PodTemplate, t *reach.Target) reach.Verdict {
	inv := c.inv
	if pod.HostNetwork {
		// A GlobalNetworkPolicy governing egress may apply to the host's
		// endpoints, and so to a pod in the host's network.
		for _, p := range inv.CalicoPolicies {
			if p.Global && p.Egress {
				return reach.Unknown
			}
		}
		return reach.Reachable
	}
	for _, p := range inv.CalicoPolicies {
		if p.Egress && p.HostOnly != "" {
			return reach.Unknown // acts on traffic forwarded through host endpoints
		}
	}
	// A tier that the input does not declare may sit anywhere: a policy
	// of it that may select the pod leaves the verdict open.
	declared := map[string]bool{}
	for _, t := range refTiers(inv) {
		declared[t.name] = t.declared
	}
	for _, p := range inv.CalicoPolicies {
		if p.Egress && !declared[p.Tier] && refCalicoSelects(c, p, ns, pod) != refNo {
			return reach.Unknown
		}
	}
	seen := map[reach.Verdict]bool{}
	var pending [][]bool
	pending = append(pending, nil)
	for len(pending) > 0 {
		choices := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		w := &refWorld{choices: choices}
		v := w.run(c, ns, pod, t)
		if w.short {
			pending = append(pending, append(slices.Clip(choices), false), append(slices.Clip(choices), true))
			continue
		}
		seen[v] = true
	}
	if len(seen) == 1 {
		for v := range seen {
			return v
		}
	}
	return reach.Unknown
}

// refWorld is one combination of the open choices, taken in the order
// they come up; short is set when the run needed more than were given.
type refWorld struct {
	choices []bool
	next    int
	short   bool
}

func (w *refWorld) choose() bool {
	if w.next >= len(w.choices) {
		w.short = true
		w.next++
		return false
	}
	w.next++
	return w.choices[w.next-1]
}

// decide turns a three-valued answer into this world's yes or no.
func (w *refWorld) decide(t refTri) bool {
	switch t {
	case refYes:
		return true
	case refMaybe:
		return w.choose()
	}
	return false
}

// refTierInfo is a tier as the reference sees it.
type refTierInfo struct {
	name     string
	order    float64 // +Inf-like when none: hasOrder false
	hasOrder bool
	declared bool
	pass     bool
}

// refMember is one policy of a tier, Calico or Kubernetes.
type refMember struct {
	name     string
	order    float64
	hasOrder bool
	calico   *model.CalicoPolicy
	knp      *model.NetworkPolicy
}

// run evaluates one packet in this world: tiers by order (none last, then
// by name); in each tier that has a policy selecting the pod, policies by
// order (none last, then by name), rules in order. Allow and Deny end it,
// Pass moves to the next tier, Log goes on; a tier whose policies all let
// the packet through applies its default action. After the last tier the
// namespace profile allows.
func (w *refWorld) run(c *calicoCase, ns string, pod *model.PodTemplate, t *reach.Target) reach.Verdict {
	for _, tier := range refTiers(c.inv) {
		var members []refMember
		for _, p := range c.inv.CalicoPolicies {
			if p.Tier != tier.name || !p.Egress || !w.decide(refCalicoSelects(c, p, ns, pod)) {
				continue
			}
			name := p.Ref.Name
			if !strings.HasPrefix(name, p.Tier+".") {
				name = p.Tier + "." + name
			}
			m := refMember{name: name, calico: p}
			if p.Order != nil {
				m.order, m.hasOrder = *p.Order, true
			}
			members = append(members, m)
		}
		if tier.name == "default" {
			for _, np := range c.inv.NetworkPolicies {
				if refIsolatesForEgress(np, ns, pod.Labels) {
					members = append(members, refMember{name: "knp.default." + np.Ref.Name, order: 1000, hasOrder: true, knp: np})
				}
			}
		}
		if len(members) == 0 {
			continue
		}
		sort.SliceStable(members, func(i, j int) bool {
			a, b := members[i], members[j]
			if a.hasOrder != b.hasOrder {
				return a.hasOrder
			}
			if a.hasOrder && a.order != b.order {
				return a.order < b.order
			}
			return a.name < b.name
		})
		passed := false
	policies:
		for _, m := range members {
			if m.knp != nil {
				for i := range m.knp.EgressRules {
					if w.decide(refRuleAllows(&m.knp.EgressRules[i], t)) {
						return reach.Reachable
					}
				}
				continue
			}
			for i := range m.calico.EgressRules {
				r := &m.calico.EgressRules[i]
				if !w.decide(refCalicoRule(r, t)) {
					continue
				}
				switch r.Action {
				case model.CalicoAllow:
					return reach.Reachable
				case model.CalicoDeny:
					return reach.Blocked
				case model.CalicoPass:
					passed = true
					break policies
				}
			}
		}
		if !passed && !tier.pass {
			return reach.Blocked
		}
	}
	return reach.Reachable
}

// refTiers lists the tiers in order: the three Calico makes (with fixed
// orders: adminnetworkpolicy 1000, default 1,000,000,
// baselineadminnetworkpolicy 10,000,000), the declared ones, and those
// only policies name.
func refTiers(inv *model.Inventory) []refTierInfo {
	tiers := []refTierInfo{
		{name: "adminnetworkpolicy", order: 1000, hasOrder: true, declared: true, pass: true},
		{name: "default", order: 1_000_000, hasOrder: true, declared: true},
		{name: "baselineadminnetworkpolicy", order: 10_000_000, hasOrder: true, declared: true, pass: true},
	}
	has := func(name string) bool {
		return slices.ContainsFunc(tiers, func(t refTierInfo) bool { return t.name == name })
	}
	for _, t := range inv.CalicoTiers {
		if has(t.Ref.Name) {
			continue
		}
		ti := refTierInfo{name: t.Ref.Name, declared: true, pass: t.DefaultAction == model.CalicoPass}
		if t.Order != nil {
			ti.order, ti.hasOrder = *t.Order, true
		}
		tiers = append(tiers, ti)
	}
	for _, p := range inv.CalicoPolicies {
		if !has(p.Tier) {
			tiers = append(tiers, refTierInfo{name: p.Tier})
		}
	}
	sort.SliceStable(tiers, func(i, j int) bool {
		a, b := tiers[i], tiers[j]
		if a.hasOrder != b.hasOrder {
			return a.hasOrder
		}
		if a.hasOrder && a.order != b.order {
			return a.order < b.order
		}
		return a.name < b.name
	})
	return tiers
}

// refCalicoSelects: a NetworkPolicy applies to endpoints of its own
// namespace; every selector the policy sets must select (an unset one
// selects all).
func refCalicoSelects(c *calicoCase, p *model.CalicoPolicy, ns string, pod *model.PodTemplate) refTri {
	if !p.Global && p.Ref.Namespace != ns {
		return refNo
	}
	sa := pod.ServiceAccount
	if sa == "" {
		sa = "default"
	}
	nsObj := c.inv.Namespaces[ns]
	// nsLabel: the namespace's labels with projectcalico.org/name; of an
	// undeclared namespace only its name is known.
	nsLabel := func(k string) (string, refTri) {
		if k == "projectcalico.org/name" || k == "kubernetes.io/metadata.name" {
			return ns, refYes
		}
		if nsObj == nil || !nsObj.Declared {
			return "", refMaybe
		}
		v, ok := nsObj.Labels[k]
		if ok {
			return v, refYes
		}
		return "", refNo
	}
	saLabel := func(k string) (string, refTri) {
		if k == "projectcalico.org/name" {
			return sa, refYes
		}
		return "", refMaybe // ServiceAccount labels are not read
	}
	podLabel := func(k string) (string, refTri) {
		switch {
		case k == "projectcalico.org/namespace":
			return ns, refYes
		case k == "projectcalico.org/orchestrator":
			return "k8s", refYes
		case k == "projectcalico.org/serviceaccount":
			return sa, refYes
		case strings.HasPrefix(k, "pcns."):
			return nsLabel(k[len("pcns."):])
		case strings.HasPrefix(k, "pcsa."):
			return saLabel(k[len("pcsa."):])
		}
		v, ok := pod.Labels[k]
		if ok {
			return v, refYes
		}
		return "", refNo
	}
	out := refYes
	if p.Selector != nil {
		out = min(out, refEvalSel(c.sels[p.Selector], podLabel))
	}
	if p.ServiceAccountSelector != nil {
		out = min(out, refEvalSel(c.sels[p.ServiceAccountSelector], saLabel))
	}
	if p.Global && p.NamespaceSelector != nil {
		out = min(out, refEvalSel(c.sels[p.NamespaceSelector], nsLabel))
	}
	return out
}

// refEvalSel evaluates a selector tree with Kleene's three-valued logic;
// label says whether a key is there (refYes), is not (refNo) or may be.
func refEvalSel(s *refSel, label func(string) (string, refTri)) refTri {
	switch s.op {
	case "all":
		return refYes
	case "global":
		return refNo // pods and namespaces are namespaced resources
	case "!":
		return refYes - refEvalSel(s.kids[0], label)
	case "&&":
		return min(refEvalSel(s.kids[0], label), refEvalSel(s.kids[1], label))
	case "||":
		return max(refEvalSel(s.kids[0], label), refEvalSel(s.kids[1], label))
	}
	v, there := label(s.key)
	if there == refMaybe {
		return refMaybe
	}
	if s.op == "has" {
		return there
	}
	holds := false
	if there == refYes {
		switch s.op {
		case "==", "!=":
			holds = v == s.values[0]
		case "in", "not in":
			holds = slices.Contains(s.values, v)
		case "contains":
			holds = refHasSubstring(v, s.values[0])
		case "starts with":
			holds = strings.HasPrefix(v, s.values[0])
		case "ends with":
			holds = strings.HasSuffix(v, s.values[0])
		}
	}
	// != and not in also match a resource without the label.
	if s.op == "!=" || s.op == "not in" {
		holds = !holds
	}
	if holds {
		return refYes
	}
	return refNo
}

// refCalicoRule: every criterion the rule sets must match the packet.
// Destination selectors may pick a network set holding the address,
// services are not evaluated, and source criteria other than all() are
// about the pod's own address: those may match.
func refCalicoRule(r *model.CalicoRule, t *reach.Target) refTri {
	addr := t.Addr.AsSlice()
	v4 := len(addr) == 4
	if r.IPVersion == 4 && !v4 || r.IPVersion == 6 && v4 {
		return refNo
	}
	if r.Protocol != "" && r.Protocol != string(t.Protocol) {
		return refNo
	}
	if r.NotProtocol != "" && r.NotProtocol == string(t.Protocol) {
		return refNo
	}
	d := &r.Destination
	in := func(nets []netip.Prefix) bool {
		for _, n := range nets {
			if refPrefixHas(n.Addr().AsSlice(), n.Bits(), addr) {
				return true
			}
		}
		return false
	}
	if len(d.Nets) > 0 && !in(d.Nets) {
		return refNo
	}
	if in(d.NotNets) {
		return refNo
	}
	portIn := func(ps []model.CalicoPort) bool {
		for _, p := range ps {
			if p.Name == "" && int32(p.First) <= t.Port && t.Port <= int32(p.Last) {
				return true
			}
		}
		return false
	}
	if len(d.Ports) > 0 && !portIn(d.Ports) {
		return refNo
	}
	if portIn(d.NotPorts) {
		return refNo
	}
	if d.ServiceAccounts {
		return refNo
	}
	if d.Selector != nil || d.NotSelector != nil || d.NamespaceSelector != nil || d.Services != "" || len(d.Domains) > 0 {
		return refMaybe
	}
	if s := r.Source.Selector; s != nil && s.String() != "all()" {
		return refMaybe
	}
	return refYes
}

// refHasSubstring reports whether sub occurs in v, at any position.
func refHasSubstring(v, sub string) bool {
	for i := 0; i+len(sub) <= len(v); i++ {
		if v[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
