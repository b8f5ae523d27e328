package reach

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// calicoResult evaluates a pod that Calico policies select, tier by tier.
// It reports false when no Calico policy takes part, so that the
// Kubernetes layers decide alone.
func (pe *podEval) calicoResult(ti int) (Result, bool) {
	c := pe.e.calico
	if !pe.calicoOK {
		pe.calicoOK = true
		pe.calicoSels = pe.e.calicoSelect(pe.ns, pe.t)
	}
	if len(pe.calicoSels) == 0 && len(c.forward) == 0 {
		return Result{}, false
	}
	var verdict Verdict
	var trace []Step
	if len(pe.calicoSels) == 0 {
		verdict, trace = pe.kubeLayers(ti)
	} else {
		verdict, trace = pe.calicoTiers(ti)
	}
	if len(c.forward) > 0 {
		trace = append(slices.Clip(trace), Step{Layer: LayerCalico, Decision: Undecided, Rules: policyRefs(c.forward),
			Reason: fmt.Sprintf("%s act on traffic forwarded through host endpoints (%s), which imdsguard does not model", calicoNames(c.forward), c.forward[0].HostOnly)})
		verdict = Unknown
	}
	return pe.finish(verdict, trace), true
}

// calicoTiers walks the tiers in order. Allow and Deny end the walk, Pass
// goes on to the next tier that applies; after the last, the pod's
// Kubernetes profile allows all egress.
func (pe *podEval) calicoTiers(ti int) (Verdict, []Step) {
	// A tier the input does not declare may sit anywhere in the order.
	for _, tier := range pe.e.calico.tiers {
		if tier.known {
			continue
		}
		if sels := tierSels(pe.calicoSels, tier.name); len(sels) > 0 {
			return Unknown, []Step{{Layer: LayerCalico, Decision: Undecided, Rules: selRefs(sels),
				Reason: fmt.Sprintf("tier %s: selected by %s; the tier is not in the input, so where it sits in the order is unknown", tier.name, selNames(sels))}}
		}
	}
	var trace []Step
	var finals outcome
	going := true
	for _, tier := range pe.e.calico.tiers {
		if !going {
			break
		}
		out, step, applies := pe.calicoTier(tier, ti)
		if !applies {
			continue
		}
		trace = append(trace, step)
		finals |= out &^ outPass
		going = out&outPass != 0
	}
	if going {
		finals |= outAllow
		trace = append(trace, Step{Layer: LayerCalico, Decision: Allow,
			Reason: "every tier that applies passed the traffic on; the Kubernetes profile of the pod's namespace allows all egress"})
	}
	switch finals {
	case outAllow:
		return Reachable, trace
	case outDeny:
		return Blocked, trace
	}
	return Unknown, trace
}

// calicoTier is one tier's answer: its possible outcomes (outPass for
// "on to the next tier"), its step, and whether it applies to the pod.
func (pe *podEval) calicoTier(tier *calicoTier, ti int) (outcome, Step, bool) {
	sels := tierSels(pe.calicoSels, tier.name)
	if tier.name == model.CalicoBaselineTier && len(pe.e.cluster.baseline) > 0 {
		return outAllow | outDeny | outPass, stubStep(pe.e.cluster.baseline, "decides for pods that no NetworkPolicy isolates"), true
	}
	kube := 0 // Kubernetes policies of this tier's layer selecting the pod
	switch tier.name {
	case model.CalicoAdminTier:
		kube = len(pe.admin)
	case model.CalicoBaselineTier:
		kube = len(pe.baseline)
	case model.CalicoDefaultTier:
		kube = len(pe.policies)
	}
	switch {
	case len(sels) == 0 && kube == 0:
		return 0, Step{}, false
	case len(sels) == 0:
		out, step := pe.kubeTier(tier.name, ti)
		return out, step, true
	case kube > 0 && tier.name != model.CalicoDefaultTier:
		return outAllow | outDeny | outPass, Step{Layer: LayerCalico, Decision: Undecided, Rules: selRefs(sels),
			Reason: fmt.Sprintf("tier %s: Calico policies %s sit beside the Kubernetes admin policies of the tier; imdsguard does not model how they interleave", tier.name, selNames(sels))}, true
	}
	return pe.walkTier(tier, sels, ti)
}

// tierSels are the selecting policies of one tier.
func tierSels(all []calicoSel, tier string) []calicoSel {
	var out []calicoSel
	for _, s := range all {
		if s.p.Tier == tier {
			out = append(out, s)
		}
	}
	return out
}

// kubeTier is the answer of a built-in tier that only Kubernetes policies
// fill, from that kind's own layer.
func (pe *podEval) kubeTier(name string, ti int) (outcome, Step) {
	switch name {
	case model.CalicoAdminTier:
		return pe.adminLayer(ti)
	case model.CalicoBaselineTier:
		var out outcome
		for _, s := range pe.baseline {
			o := pe.e.adminCompiled[s.p][ti].out
			if s.maybe {
				o |= outNone
			}
			out |= o
		}
		if out&outNone != 0 {
			out = out&^outNone | outPass // the tier's default action is Pass
		}
		_, step := pe.baselineLayer(ti)
		return out, step
	}
	verdict, step, _ := pe.networkPolicyStep(ti)
	switch verdict {
	case Reachable:
		return outAllow, step
	case Blocked:
		return outDeny, step
	}
	return outAllow | outDeny, step
}

// tierMember is one policy of a tier as the walk sees it.
type tierMember struct {
	ref   RuleRef
	name  string
	order *float64
	maybe bool
	v     adminVerdict
}

// walkTier evaluates a tier's policies in order. Each way through the tier
// either ends at a policy's Allow, Deny or Pass, or reaches the end: with
// some policy selecting the pod, the tier's default action applies; with
// none (all of them only may select it), the tier is skipped.
func (pe *podEval) walkTier(tier *calicoTier, sels []calicoSel, ti int) (outcome, Step, bool) {
	members := make([]tierMember, 0, len(sels)+len(pe.policies))
	for _, s := range sels {
		members = append(members, tierMember{ref: RuleRef{Policy: s.p.Ref, Rule: -1, Source: s.p.Source}, name: calicoName(s.p),
			order: s.p.Order, maybe: s.maybe, v: pe.e.calico.compiled[s.p][ti]})
	}
	if tier.name == model.CalicoDefaultTier {
		knpOrder := float64(model.CalicoKNPOrder)
		for _, np := range pe.policies {
			members = append(members, tierMember{ref: RuleRef{Policy: np.Ref, Rule: -1, Source: np.Source}, name: "knp.default." + np.Ref.Name,
				order: &knpOrder, v: knpVerdict(pe.e.compiled[np][ti])})
		}
		slices.SortStableFunc(members, func(a, b tierMember) int { return cmpOrder(a.order, b.order, a.name, b.name) })
	}
	const unselected, selected = 1, 2
	state := unselected
	var out outcome
	var rules []RuleRef
	var acts []model.AdminAction
	for _, m := range members {
		if state == 0 {
			break
		}
		out |= m.v.out &^ outNone
		rules = append(rules, m.v.rules...)
		acts = append(acts, m.v.acts...)
		next := 0
		if m.v.out&outNone != 0 {
			next = selected
		}
		if m.maybe {
			state |= next
		} else {
			state = next
		}
	}
	endDeny := false
	if state&selected != 0 {
		if tier.pass {
			out |= outPass
		} else {
			out |= outDeny
			endDeny = true
		}
	}
	if state&unselected != 0 {
		out |= outPass
	}
	return out, tierStep(tier, members, out, rules, acts, endDeny), true
}

// knpVerdict is what a Kubernetes NetworkPolicy does in Calico's default
// tier: its rules allow; when none matches, the next policy decides.
func knpVerdict(pv policyVerdict) adminVerdict {
	v := adminVerdict{out: outNone}
	switch {
	case len(pv.allows) > 0:
		v.out, v.rules = outAllow, pv.allows
	case len(pv.maybes) > 0:
		v.out, v.rules = outAllow|outNone, pv.maybes
	}
	for range v.rules {
		v.acts = append(v.acts, model.AdminAllow)
	}
	return v
}

// tierStep describes a tier's outcome, naming the policies that select
// the pod and the rules that decide.
func tierStep(tier *calicoTier, members []tierMember, out outcome, rules []RuleRef, acts []model.AdminAction, endDeny bool) Step {
	var names []string
	for _, m := range members {
		n := m.ref.Policy.Name
		if m.order != nil {
			n += fmt.Sprintf(" (order %g)", *m.order)
		}
		if m.maybe {
			n += " (may select)"
		}
		names = append(names, n)
	}
	head := fmt.Sprintf("tier %s: selected by %s", tier.name, strings.Join(names, ", "))
	s := Step{Layer: LayerCalico, Rules: rules}
	ruleText := ruleActions(rules, acts)
	switch {
	case out == outAllow:
		s.Decision, s.Reason = Allow, head+"; allowed by "+ruleText
	case out == outDeny && endDeny:
		s.Decision = Deny
		s.Reason = head + "; no rule decides, so the tier's default action Deny applies"
		if len(rules) > 0 {
			s.Reason = head + "; after " + ruleText + ", no rule decides, so the tier's default action Deny applies"
		}
		for _, m := range members {
			s.Rules = append(s.Rules, m.ref)
		}
	case out == outDeny:
		s.Decision, s.Reason = Deny, head+"; denied by "+ruleText
	case out == outPass:
		s.Decision = NoOpinion
		if len(rules) == 0 {
			s.Reason = head + "; no rule decides, so the tier passes it to the next tier"
		} else {
			s.Reason = head + "; passed to the next tier by " + ruleText
		}
	default:
		s.Decision = Undecided
		s.Reason = fmt.Sprintf("%s; the outcome is one of %s, depending on %s", head, strings.ReplaceAll(outcomeNames(out), "pass to NetworkPolicy", "pass to the next tier"), ruleText)
	}
	return s
}

// calicoHostStep is the step for host-network pods when global Calico
// egress policies exist: they may apply to host endpoints.
func (e *Engine) calicoHostStep() (Step, bool) {
	if e.calico == nil || len(e.calico.host) == 0 {
		return Step{}, false
	}
	return Step{Layer: LayerCalico, Decision: Undecided, Rules: policyRefs(e.calico.host),
		Reason: calicoNames(e.calico.host) + " may apply to host endpoints, and so to host-network pods; imdsguard does not evaluate host endpoints"}, true
}

func policyRefs(ps []*model.CalicoPolicy) []RuleRef {
	out := make([]RuleRef, len(ps))
	for i, p := range ps {
		out[i] = RuleRef{Policy: p.Ref, Rule: -1, Source: p.Source}
	}
	return out
}

func selRefs(sels []calicoSel) []RuleRef {
	out := make([]RuleRef, len(sels))
	for i, s := range sels {
		out[i] = RuleRef{Policy: s.p.Ref, Rule: -1, Source: s.p.Source}
	}
	return out
}

func selNames(sels []calicoSel) string {
	names := make([]string, len(sels))
	for i, s := range sels {
		names[i] = s.p.Ref.Name
	}
	return strings.Join(names, ", ")
}

func calicoNames(ps []*model.CalicoPolicy) string {
	names := make([]string, 0, 3)
	for i, p := range ps {
		if i == 3 {
			names = append(names, fmt.Sprintf("%d more", len(ps)-3))
			break
		}
		names = append(names, p.Ref.Kind+" "+p.Ref.Name)
	}
	return strings.Join(names, ", ")
}
