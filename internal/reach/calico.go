package reach

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/imdsguard/imdsguard/internal/calicosel"
	"github.com/imdsguard/imdsguard/internal/model"
)

// The Calico layer evaluates Calico NetworkPolicies and
// GlobalNetworkPolicies the way Calico orders them: by tier, then by
// order within a tier (docs/semantics.md). When Calico policies select a
// pod, Kubernetes NetworkPolicy sits in Calico's default tier at order
// 1000, AdminNetworkPolicy in the "adminnetworkpolicy" tier and
// BaselineAdminNetworkPolicy in the "baselineadminnetworkpolicy" tier,
// each evaluated by its own layer. As in the admin layers, every choice
// the input leaves open is followed, and the verdict is decided only when
// all the ways agree.

// calicoIndex is what the engine knows of the Calico policies: the tiers
// in order, each with its egress policies in order, and what each
// policy's egress rules say about each target.
type calicoIndex struct {
	tiers    []*calicoTier
	compiled map[*model.CalicoPolicy][]adminVerdict
	ids      map[*model.CalicoPolicy]int
	// host are the global egress policies, which may apply to host
	// endpoints and so to host-network pods; forward those that act on
	// traffic forwarded through host endpoints (applyOnForward, preDNAT,
	// doNotTrack).
	host, forward []*model.CalicoPolicy
}

// calicoTier is one tier and its egress policies, in evaluation order.
type calicoTier struct {
	name string
	// order is nil for a tier with no order (last); known is false for a
	// tier that policies name but the input does not declare.
	order    *float64
	known    bool
	pass     bool // defaultAction Pass
	policies []*model.CalicoPolicy
	src      model.Source
}

func newCalicoIndex(inv *model.Inventory, targets []Target) *calicoIndex {
	if len(inv.CalicoPolicies) == 0 {
		return nil
	}
	c := &calicoIndex{compiled: map[*model.CalicoPolicy][]adminVerdict{}, ids: map[*model.CalicoPolicy]int{}}
	byName := map[string]*calicoTier{}
	fixed := func(name string, order float64, pass bool) {
		byName[name] = &calicoTier{name: name, order: &order, known: true, pass: pass}
	}
	fixed(model.CalicoDefaultTier, model.CalicoDefaultTierOrder, false)
	fixed(model.CalicoAdminTier, model.CalicoAdminTierOrder, true)
	fixed(model.CalicoBaselineTier, model.CalicoBaselineTierOrder, true)
	for _, t := range inv.CalicoTiers {
		if _, builtin := byName[t.Ref.Name]; builtin {
			continue // their orders and default actions are fixed
		}
		byName[t.Ref.Name] = &calicoTier{name: t.Ref.Name, order: t.Order, known: true, pass: t.DefaultAction == model.CalicoPass, src: t.Source}
	}
	for i, p := range inv.CalicoPolicies {
		c.ids[p] = i
		if !p.Egress {
			continue
		}
		t := byName[p.Tier]
		if t == nil {
			t = &calicoTier{name: p.Tier}
			byName[p.Tier] = t
		}
		t.policies = append(t.policies, p)
		c.compiled[p] = compileCalico(p, targets)
		if p.Global {
			c.host = append(c.host, p)
		}
		if p.HostOnly != "" {
			c.forward = append(c.forward, p)
		}
	}
	for _, t := range byName {
		slices.SortStableFunc(t.policies, func(a, b *model.CalicoPolicy) int {
			return cmpOrder(a.Order, b.Order, calicoName(a), calicoName(b))
		})
		c.tiers = append(c.tiers, t)
	}
	slices.SortFunc(c.tiers, func(a, b *calicoTier) int { return cmpOrder(a.order, b.order, a.name, b.name) })
	return c
}

// cmpOrder orders by order, lowest first, with no order last, then by name.
func cmpOrder(a, b *float64, an, bn string) int {
	switch {
	case a == nil && b != nil:
		return 1
	case a != nil && b == nil:
		return -1
	case a != nil && *a != *b:
		return cmp.Compare(*a, *b)
	}
	return cmp.Compare(an, bn)
}

// calicoName is the name Calico orders a policy by: prefixed with its
// tier, as Calico stores it.
func calicoName(p *model.CalicoPolicy) string {
	if strings.HasPrefix(p.Ref.Name, p.Tier+".") {
		return p.Ref.Name
	}
	return p.Tier + "." + p.Ref.Name
}

// compileCalico says, for each target, what a policy's egress rules do:
// the possible outcomes and the rules that may decide, up to the first
// that certainly matches. Log rules decide nothing.
func compileCalico(p *model.CalicoPolicy, targets []Target) []adminVerdict {
	out := make([]adminVerdict, len(targets))
	for ti := range targets {
		out[ti] = firstMatch(len(p.EgressRules), func(i int) (tri, RuleRef, model.AdminAction) {
			r := &p.EgressRules[i]
			if r.Action == model.CalicoLog {
				return no, RuleRef{}, ""
			}
			m, why := calicoRuleMatch(r, &targets[ti])
			// Allow, Deny and Pass mean what they mean for admin policies.
			return m, RuleRef{Policy: p.Ref, Rule: r.Index, Source: r.Src, Why: why}, model.AdminAction(r.Action)
		})
	}
	return out
}

// calicoRuleMatch decides whether an egress rule matches traffic to the
// target. Every criterion the rule sets must match.
func calicoRuleMatch(r *model.CalicoRule, t *Target) (tri, string) {
	if r.IPVersion != 0 && (r.IPVersion == 4) != t.Addr.Is4() {
		return no, ""
	}
	if r.Protocol != "" && r.Protocol != string(t.Protocol) || r.NotProtocol == string(t.Protocol) {
		return no, ""
	}
	d := &r.Destination
	var why []string
	if d.Nets != nil {
		i := slices.IndexFunc(d.Nets, func(p netip.Prefix) bool { return p.Addr().Is4() == t.Addr.Is4() && p.Contains(t.Addr) })
		if i < 0 {
			return no, ""
		}
		why = append(why, fmt.Sprintf("destination net %s contains %s", d.Nets[i], t.Addr))
	}
	if slices.ContainsFunc(d.NotNets, func(p netip.Prefix) bool { return p.Addr().Is4() == t.Addr.Is4() && p.Contains(t.Addr) }) {
		return no, ""
	}
	if d.Ports != nil {
		// A named port belongs to an endpoint; a metadata address has none.
		if !slices.ContainsFunc(d.Ports, func(p model.CalicoPort) bool { return portIn(p, t.Port) }) {
			return no, ""
		}
		why = append(why, fmt.Sprintf("destination port %d", t.Port))
	}
	if slices.ContainsFunc(d.NotPorts, func(p model.CalicoPort) bool { return portIn(p, t.Port) }) {
		return no, ""
	}
	if d.ServiceAccounts {
		return no, "" // selects endpoints by service account; the address is none
	}
	var maybes []string
	if d.Selector != nil || d.NotSelector != nil || d.NamespaceSelector != nil {
		maybes = append(maybes, "a destination selector may select a (Global)NetworkSet holding the address, and network sets are not evaluated")
	}
	if d.Services != "" {
		maybes = append(maybes, "destination service "+d.Services+" is not evaluated")
	}
	if len(d.Domains) > 0 {
		maybes = append(maybes, "destination domains "+strings.Join(d.Domains, ", ")+" may resolve to the address")
	}
	if s := &r.Source; !sourceMatchesAll(s) {
		maybes = append(maybes, "source criteria (the pod's own address, ports or labels) are not evaluated")
	}
	if len(why) == 0 {
		why = append(why, "no destination criteria (every destination)")
	}
	if len(maybes) > 0 {
		return maybe, strings.Join(append(why, maybes...), "; ")
	}
	return yes, strings.Join(why, ", ")
}

func portIn(p model.CalicoPort, port int32) bool {
	return p.Name == "" && int32(p.First) <= port && port <= int32(p.Last)
}

// sourceMatchesAll reports whether a rule's source is unset or all().
func sourceMatchesAll(s *model.CalicoEntity) bool {
	return s.Nets == nil && s.NotNets == nil && s.NotSelector == nil && s.NamespaceSelector == nil &&
		s.Ports == nil && s.NotPorts == nil && !s.ServiceAccounts && s.Services == "" && len(s.Domains) == 0 &&
		(s.Selector == nil || s.Selector.IsAll())
}

// calicoSel is a Calico policy that selects, or may select, a pod.
type calicoSel struct {
	p     *model.CalicoPolicy
	maybe bool
}

// calicoSelect returns the egress policies that select, or may select, a
// pod shape, in tier order. Host-network pods are left to the hostNetwork
// layer.
func (e *Engine) calicoSelect(ns string, t *model.PodTemplate) []calicoSel {
	if e.calico == nil || t.HostNetwork {
		return nil
	}
	var out []calicoSel
	pod, nsl, sa := e.podLookup(ns, t), e.nsLookup(ns), saLookup(t.ServiceAccount)
	for _, tier := range e.calico.tiers {
		for _, p := range tier.policies {
			if !p.Global && p.Ref.Namespace != ns {
				continue
			}
			m := p.Selector.Eval(pod)
			m = min(m, p.ServiceAccountSelector.Eval(sa))
			if p.Global {
				m = min(m, p.NamespaceSelector.Eval(nsl))
			}
			if m != calicosel.False {
				out = append(out, calicoSel{p: p, maybe: m == calicosel.Maybe})
			}
		}
	}
	return out
}

// calicoKey extends a result cache key with the Calico policies that
// select a pod: pods that meet different ones must not share a result.
func (e *Engine) calicoKey(buf []byte, ns string, t *model.PodTemplate) []byte {
	for _, s := range e.calicoSelect(ns, t) {
		buf = append(buf, 0, 'c')
		buf = strconv.AppendInt(buf, int64(e.calico.ids[s.p]), 10)
		if s.maybe {
			buf = append(buf, '?')
		}
	}
	return buf
}

// podLookup gives a pod's labels as Calico sees them: its own, and those
// Calico adds (namespace, orchestrator, service account, and the labels of
// its namespace and service account under pcns. and pcsa.).
func (e *Engine) podLookup(ns string, t *model.PodTemplate) calicosel.Lookup {
	nsl, sa := e.nsLookup(ns), saLookup(t.ServiceAccount)
	return func(k string) (string, calicosel.Label) {
		switch k {
		case "projectcalico.org/namespace":
			return ns, calicosel.Present
		case "projectcalico.org/orchestrator":
			return "k8s", calicosel.Present
		case "projectcalico.org/serviceaccount":
			return serviceAccountName(t.ServiceAccount), calicosel.Present
		}
		if rest, ok := strings.CutPrefix(k, "pcns."); ok {
			return nsl(rest)
		}
		if rest, ok := strings.CutPrefix(k, "pcsa."); ok {
			return sa(rest)
		}
		if v, ok := t.Labels[k]; ok {
			return v, calicosel.Present
		}
		return "", calicosel.Absent
	}
}

// nsLookup gives a namespace's labels, with projectcalico.org/name. Of a
// namespace the input does not declare only the name is known.
func (e *Engine) nsLookup(ns string) calicosel.Lookup {
	n := e.inv.Namespaces[ns]
	declared := n != nil && n.Declared
	return func(k string) (string, calicosel.Label) {
		if k == "projectcalico.org/name" || k == model.MetadataNameLabel {
			return ns, calicosel.Present
		}
		if !declared {
			return "", calicosel.Unknown
		}
		if v, ok := n.Labels[k]; ok {
			return v, calicosel.Present
		}
		return "", calicosel.Absent
	}
}

// saLookup gives a service account's labels: its name is known
// (projectcalico.org/name); imdsguard does not read the labels of
// ServiceAccounts, so any other label may or may not be there.
func saLookup(name string) calicosel.Lookup {
	name = serviceAccountName(name)
	return func(k string) (string, calicosel.Label) {
		if k == "projectcalico.org/name" {
			return name, calicosel.Present
		}
		return "", calicosel.Unknown
	}
}

func serviceAccountName(s string) string {
	if s == "" {
		return "default"
	}
	return s
}
