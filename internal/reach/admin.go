package reach

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The admin layers evaluate AdminNetworkPolicy before NetworkPolicy and
// BaselineAdminNetworkPolicy after it (docs/semantics.md). Wherever the
// input leaves a choice open (a rule that may match, a subject that may
// select the pod, two policies of one priority that both match), the
// layers keep every possible outcome, and the verdict is decided only when
// all of them agree.

// outcome is a set of possible results of an admin policy, or of a layer.
type outcome uint8

const (
	outAllow outcome = 1 << iota
	outDeny
	outPass // a Pass rule: on to NetworkPolicy, skipping later policies
	outNone // no rule matches: on to the next policy, or the next layer
)

// adminVerdict is what one admin policy's egress rules say about a target:
// the possible outcomes, and the rules that may decide, in order, up to
// the first that certainly matches.
type adminVerdict struct {
	out   outcome
	rules []RuleRef
	acts  []model.AdminAction // the action of each rule
}

// adminSel is an admin policy that selects, or may select, a pod.
type adminSel struct {
	p     *model.AdminPolicy
	maybe bool
}

func compileAdmin(p *model.AdminPolicy, targets []Target) []adminVerdict {
	out := make([]adminVerdict, len(targets))
	for ti := range targets {
		out[ti] = firstMatch(len(p.Egress), func(i int) (tri, RuleRef, model.AdminAction) {
			r := &p.Egress[i]
			m, why := adminRuleMatch(r, &targets[ti])
			return m, RuleRef{Policy: p.Ref, Rule: r.Index, Source: r.Source, Why: why}, r.Action
		})
	}
	return out
}

// firstMatch walks n rules in order, as rule(i) describes them (whether
// it matches, its reference, its action): each rule that may match adds
// its outcome, and the first that certainly matches ends the walk. With
// none, the outcome includes outNone.
func firstMatch(n int, rule func(i int) (tri, RuleRef, model.AdminAction)) adminVerdict {
	v := adminVerdict{out: outNone}
	for i := range n {
		m, ref, act := rule(i)
		if m == no {
			continue
		}
		v.out |= actionOutcome(act)
		v.rules = append(v.rules, ref)
		v.acts = append(v.acts, act)
		if m == yes {
			v.out &^= outNone
			break
		}
	}
	return v
}

func actionOutcome(a model.AdminAction) outcome {
	switch a {
	case model.AdminAllow, model.AdminAccept:
		return outAllow
	case model.AdminDeny:
		return outDeny
	}
	return outPass
}

// adminRuleMatch decides whether an admin egress rule matches the target.
func adminRuleMatch(r *model.AdminRule, t *Target) (tri, string) {
	peer, peerWhy := adminPeersMatch(r.To, t)
	if peer == no {
		return no, ""
	}
	port, portWhy := portsMatch(r.Ports, t)
	if port == no {
		return no, ""
	}
	if r.Ports == nil {
		portWhy = "no `ports` (every port)"
	}
	return peer, peerWhy + ", " + portWhy
}

// adminPeersMatch: namespaces and pods peers select pod IPs and nodes
// peers node IPs, which a metadata address is not; networks match by
// containment; a domain name may resolve to the address.
func adminPeersMatch(peers []model.AdminPeer, t *Target) (tri, string) {
	best, why := no, ""
	for i := range peers {
		p := &peers[i]
		for j := range p.Networks {
			switch m, w := ipBlockMatch(&p.Networks[j], t); {
			case m == yes:
				return yes, strings.Replace(w, "ipBlock", "network", 1)
			case m == maybe && best == no:
				best, why = maybe, strings.Replace(w, "ipBlock", "network", 1)
			}
		}
		if len(p.DomainNames) > 0 && best == no {
			best, why = maybe, fmt.Sprintf("domainNames %s may resolve to %s (imdsguard does not resolve names)", strings.Join(p.DomainNames, ", "), t.Addr)
		}
	}
	return best, why
}

// sortAdmin orders admin policies by priority, keeping input order within
// one priority.
func sortAdmin(ps []*model.AdminPolicy) {
	slices.SortStableFunc(ps, func(a, b *model.AdminPolicy) int { return cmp.Compare(a.Priority, b.Priority) })
}

// adminSelect returns the AdminNetworkPolicies and the
// BaselineAdminNetworkPolicies that select, or may select, a pod shape.
// Host-network pods are never selected.
func (e *Engine) adminSelect(ns string, t *model.PodTemplate) (admin, baseline []adminSel) {
	if t.HostNetwork || len(e.admin)+len(e.baseline) == 0 {
		return nil, nil
	}
	pick := func(ps []*model.AdminPolicy) []adminSel {
		var out []adminSel
		for _, p := range ps {
			if m := e.subjectSelects(&p.Subject, ns, t.Labels); m != no {
				out = append(out, adminSel{p: p, maybe: m == maybe})
			}
		}
		return out
	}
	return pick(e.admin), pick(e.baseline)
}

// subjectSelects decides whether a subject selects a pod in a namespace.
func (e *Engine) subjectSelects(s *model.AdminSubject, ns string, l model.Labels) tri {
	if s.Namespaces != nil {
		return e.namespaceSelects(s.Namespaces, ns)
	}
	if s.Pods == nil || !s.Pods.PodSelector.Matches(l) {
		return no
	}
	return e.namespaceSelects(&s.Pods.NamespaceSelector, ns)
}

// namespaceSelects decides whether a namespace selector selects a
// namespace. A namespace the input does not declare has the
// kubernetes.io/metadata.name label and may have any other: a selector
// that asks about another label may or may not select it.
func (e *Engine) namespaceSelects(sel *model.Selector, ns string) tri {
	if n := e.inv.Namespaces[ns]; n != nil && n.Declared {
		if sel.Matches(n.Labels) {
			return yes
		}
		return no
	}
	out := yes
	for k, v := range sel.MatchLabels {
		switch {
		case k != model.MetadataNameLabel:
			out = maybe
		case v != ns:
			return no
		}
	}
	for _, r := range sel.MatchExpressions {
		if r.Key != model.MetadataNameLabel {
			out = maybe
			continue
		}
		var holds bool
		switch r.Operator {
		case "In":
			holds = slices.Contains(r.Values, ns)
		case "NotIn":
			holds = !slices.Contains(r.Values, ns)
		case "Exists":
			holds = true
		}
		if !holds {
			return no
		}
	}
	return out
}

// adminLayer is the AdminNetworkPolicy layer's answer for one pod and
// target: the possible outcomes (outAllow, outDeny, and outPass for "on to
// NetworkPolicy") and its trace step. The layer holds the
// AdminNetworkPolicies and the Admin-tier ClusterNetworkPolicies; the API
// orders each kind by priority but gives no order between the two kinds,
// so either may come first (combineKinds).
func (pe *podEval) adminLayer(ti int) (outcome, Step) {
	a, rules, acts := pe.adminChain(pe.admin, false, ti)
	c, cr, ca := pe.adminChain(pe.admin, true, ti)
	out := combineKinds(a, c)
	if out&outNone != 0 {
		out = out&^outNone | outPass
	}
	step := adminStep(pe.admin, out, append(rules, cr...), append(acts, ca...))
	if step.Decision == Undecided && a != outNone && c != outNone {
		step.Reason += "; AdminNetworkPolicy and the Admin tier of ClusterNetworkPolicy have no order between them, so either may decide first"
	}
	return out, step
}

// adminChain walks the policies of one kind (ClusterNetworkPolicies when
// cnp is set) in sel, which is sorted by priority, one priority at a time:
// when several policies of one priority match, the implementation may
// apply any of them. It returns the possible outcomes, with outNone when
// the traffic may pass every policy unmatched, and the rules that may
// decide.
func (pe *podEval) adminChain(sel []adminSel, cnp bool, ti int) (out outcome, rules []RuleRef, acts []model.AdminAction) {
	groupNone, started := true, false
	var prio int32
	for _, s := range sel {
		if s.p.ClusterNetworkPolicy() != cnp {
			continue
		}
		if started && s.p.Priority != prio && !groupNone {
			// Every way through the priority before ends in a decision, so
			// later priorities are never reached.
			return out, rules, acts
		}
		started, prio = true, s.p.Priority
		v := pe.e.adminCompiled[s.p][ti]
		o := v.out
		if s.maybe {
			o |= outNone
		}
		out |= o &^ outNone
		groupNone = groupNone && o&outNone != 0
		rules = append(rules, v.rules...)
		acts = append(acts, v.acts...)
	}
	if groupNone {
		out |= outNone
	}
	return out, rules, acts
}

// combineKinds joins the outcomes of two kinds of policy in one tier that
// have no order between them. Whichever comes first decides whenever it
// can, so every decision of either is possible; the traffic goes on
// unmatched only when both may let it.
func combineKinds(a, b outcome) outcome {
	return (a|b)&^outNone | a&b&outNone
}

// adminStep describes the admin layer's outcome.
func adminStep(sel []adminSel, out outcome, rules []RuleRef, acts []model.AdminAction) Step {
	names := adminNames(sel)
	s := Step{Layer: LayerAdmin, Rules: rules}
	switch out {
	case outAllow:
		s.Decision, s.Reason = Allow, fmt.Sprintf("selected by %s; allowed by %s", names, ruleActions(rules, acts))
	case outDeny:
		s.Decision, s.Reason = Deny, fmt.Sprintf("selected by %s; denied by %s", names, ruleActions(rules, acts))
	case outPass:
		s.Decision = NoOpinion
		if len(rules) == 0 {
			s.Reason = fmt.Sprintf("selected by %s; no rule matches, so NetworkPolicy decides", names)
		} else {
			s.Reason = fmt.Sprintf("selected by %s; passed to NetworkPolicy by %s", names, ruleActions(rules, acts))
		}
	default:
		s.Decision = Undecided
		s.Reason = fmt.Sprintf("selected by %s; the outcome is one of %s, depending on %s", names, outcomeNames(out), ruleActions(rules, acts))
		if anyMaybe(sel) {
			s.Reason += " (the subject may select the pod: its namespace's labels are not in the input)"
		}
	}
	return s
}

// baselineLayer is the baseline layer's answer for a pod that no
// NetworkPolicy isolates: outAllow, outDeny, or both. It holds the
// BaselineAdminNetworkPolicy and the Baseline-tier ClusterNetworkPolicies,
// with no order between the two kinds (combineKinds).
func (pe *podEval) baselineLayer(ti int) (outcome, Step) {
	var banp outcome
	var rules []RuleRef
	var acts []model.AdminAction
	for _, s := range pe.baseline {
		if s.p.ClusterNetworkPolicy() {
			continue
		}
		// Only one BaselineAdminNetworkPolicy ("default") can exist: when
		// the input has several, any of them may be the one.
		v := pe.e.adminCompiled[s.p][ti]
		o := v.out
		if s.maybe {
			o |= outNone
		}
		banp |= o
		rules = append(rules, v.rules...)
		acts = append(acts, v.acts...)
	}
	if banp == 0 {
		banp = outNone // none selects the pod
	}
	c, cr, ca := pe.adminChain(pe.baseline, true, ti)
	rules, acts = append(rules, cr...), append(acts, ca...)
	out := combineKinds(banp, c)
	if out&(outNone|outPass) != 0 {
		// No match, or a Pass out of the last tier: the traffic is allowed.
		out = out&^(outNone|outPass) | outAllow
	}
	names := adminNames(pe.baseline)
	s := Step{Layer: LayerBaseline, Rules: rules}
	switch {
	case out == outAllow && len(rules) == 0:
		s.Decision, s.Reason = NoOpinion, fmt.Sprintf("selected by %s; no rule matches, so egress is allowed", names)
	case out == outAllow:
		s.Decision, s.Reason = Allow, fmt.Sprintf("selected by %s; allowed by %s", names, ruleActions(rules, acts))
	case out == outDeny:
		s.Decision, s.Reason = Deny, fmt.Sprintf("selected by %s; denied by %s", names, ruleActions(rules, acts))
	default:
		s.Decision, s.Reason = Undecided, fmt.Sprintf("selected by %s; allowed or denied depending on %s", names, ruleActions(rules, acts))
		if anyMaybe(pe.baseline) {
			s.Reason += " (the subject may select the pod: its namespace's labels are not in the input)"
		}
	}
	return out, s
}

func anyMaybe(sel []adminSel) bool {
	for _, s := range sel {
		if s.maybe {
			return true
		}
	}
	return false
}

// adminNames names the selecting policies, "deny-imds (priority 10)".
func adminNames(sel []adminSel) string {
	parts := make([]string, len(sel))
	for i, s := range sel {
		switch {
		case s.p.ClusterNetworkPolicy():
			parts[i] = fmt.Sprintf("ClusterNetworkPolicy %s (%s tier, priority %d)", s.p.Ref.Name, s.p.Tier(), s.p.Priority)
		case s.p.Baseline:
			parts[i] = s.p.Ref.Name
		default:
			parts[i] = fmt.Sprintf("%s (priority %d)", s.p.Ref.Name, s.p.Priority)
		}
		if s.maybe {
			parts[i] += " (may select)"
		}
	}
	return strings.Join(parts, ", ")
}

// ruleActions names rules with their actions, "p egress rule 0 (Deny)".
func ruleActions(refs []RuleRef, acts []model.AdminAction) string {
	if len(refs) == 0 {
		return "no rule"
	}
	var s []string
	for i, r := range refs {
		if i == 3 {
			s = append(s, fmt.Sprintf("%d more", len(refs)-3))
			break
		}
		s = append(s, fmt.Sprintf("%s egress rule %d (%s)", r.Policy.Name, r.Rule, acts[i]))
	}
	return strings.Join(s, ", ")
}

func outcomeNames(o outcome) string {
	var s []string
	if o&outAllow != 0 {
		s = append(s, "allow")
	}
	if o&outDeny != 0 {
		s = append(s, "deny")
	}
	if o&outPass != 0 {
		s = append(s, "pass to NetworkPolicy")
	}
	return strings.Join(s, ", ")
}
