package reach

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Engine answers reachability questions over one inventory. Build it once
// with New; it indexes pods by label and policies by namespace, so the work
// is proportional to the pods each policy selects, never pairwise across
// namespaces.
type Engine struct {
	inv     *model.Inventory
	targets []Target
	ns      map[string]*nsIndex
	// compiled[p][t] is what policy p's egress rules say about target t.
	compiled map[*model.NetworkPolicy][]policyVerdict
	cluster  clusterStubs
}

type policyVerdict struct {
	allows []RuleRef
	maybes []RuleRef
}

type clusterStubs struct {
	admin, baseline, host []*model.PolicyStub
}

// New indexes the inventory for the given targets.
func New(inv *model.Inventory, targets []Target) *Engine {
	e := &Engine{inv: inv, targets: targets, ns: map[string]*nsIndex{}, compiled: map[*model.NetworkPolicy][]policyVerdict{}}
	for _, np := range inv.NetworkPolicies {
		e.index(np.Ref.Namespace).policies = append(e.index(np.Ref.Namespace).policies, np)
		if np.Egress {
			e.compiled[np] = compile(np, targets)
		}
	}
	for _, s := range inv.Unsupported {
		if !s.ClusterScoped {
			e.index(s.Ref.Namespace).stubs = append(e.index(s.Ref.Namespace).stubs, s)
			continue
		}
		if s.SelectsHostNetwork {
			e.cluster.host = append(e.cluster.host, s)
		}
		if s.Baseline {
			e.cluster.baseline = append(e.cluster.baseline, s)
		} else {
			// Calico and Cilium cluster-wide kinds also apply to ordinary
			// pods, ahead of NetworkPolicy, as AdminNetworkPolicy does.
			e.cluster.admin = append(e.cluster.admin, s)
		}
	}
	return e
}

// Targets returns the targets the engine answers for.
func (e *Engine) Targets() []Target { return e.targets }

func (e *Engine) index(ns string) *nsIndex {
	ix, ok := e.ns[ns]
	if !ok {
		ix = &nsIndex{}
		e.ns[ns] = ix
	}
	return ix
}

func compile(np *model.NetworkPolicy, targets []Target) []policyVerdict {
	out := make([]policyVerdict, len(targets))
	for ti := range targets {
		for ri := range np.EgressRules {
			r := &np.EgressRules[ri]
			m, why := ruleMatch(r, &targets[ti])
			ref := RuleRef{Policy: np.Ref, Rule: r.Index, Source: r.Source, Why: why}
			switch m {
			case yes:
				out[ti].allows = append(out[ti].allows, ref)
			case maybe:
				out[ti].maybes = append(out[ti].maybes, ref)
			}
		}
	}
	return out
}

// Pod evaluates one pod shape in a namespace against every target. policies
// must be the egress policies that select the pod (see Selecting).
func (e *Engine) Pod(ns string, t *model.PodTemplate, policies []*model.NetworkPolicy) []Result {
	out := make([]Result, len(e.targets))
	for ti := range e.targets {
		out[ti] = e.evaluate(ns, t, policies, ti)
	}
	return out
}

func (e *Engine) evaluate(ns string, t *model.PodTemplate, policies []*model.NetworkPolicy, ti int) Result {
	if t.HostNetwork {
		r := Result{Verdict: Reachable, Trace: []Step{{Layer: LayerHostNetwork, Decision: Allow,
			Reason: "the pod uses the host network, so NetworkPolicy does not apply to it"}}}
		if len(e.cluster.host) > 0 {
			r.Verdict = Unknown
			r.Trace = append(r.Trace, stubStep(e.cluster.host, "can apply to host-network pods"))
		}
		return r
	}
	var r Result
	// An unevaluated policy kind that comes before NetworkPolicy, or sits
	// beside it in the namespace, may override either answer.
	overridden := false
	if len(e.cluster.admin) > 0 {
		r.Trace = append(r.Trace, stubStep(e.cluster.admin, "is evaluated before NetworkPolicy and may allow or deny"))
		overridden = true
	}
	if ix := e.ns[ns]; ix != nil && len(ix.stubs) > 0 {
		r.Trace = append(r.Trace, stubStep(ix.stubs, "selects pods in this namespace"))
		overridden = true
	}
	np := e.networkPolicyStep(policies, ti)
	r.Trace = append(r.Trace, np.step)
	r.Verdict = np.verdict
	if !np.isolated && len(e.cluster.baseline) > 0 {
		r.Trace = append(r.Trace, stubStep(e.cluster.baseline, "decides for pods that no NetworkPolicy isolates"))
		overridden = true
	}
	if overridden {
		r.Verdict = Unknown
	}
	if r.Verdict == Blocked {
		if why, ok := e.incomplete(ns); ok {
			r.Verdict = Unknown
			r.Trace = append(r.Trace, Step{Layer: LayerInput, Decision: Undecided,
				Reason: "input that could decide this could not be read: " + why})
		}
	}
	return r
}

type npOutcome struct {
	step     Step
	verdict  Verdict
	isolated bool
}

func (e *Engine) networkPolicyStep(policies []*model.NetworkPolicy, ti int) npOutcome {
	if len(policies) == 0 {
		return npOutcome{verdict: Reachable, step: Step{Layer: LayerNetworkPolicy, Decision: NoOpinion,
			Reason: "no NetworkPolicy selects the pod for egress, so all egress is allowed"}}
	}
	var allows, maybes []RuleRef
	for _, p := range policies {
		pv := e.compiled[p][ti]
		allows = append(allows, pv.allows...)
		maybes = append(maybes, pv.maybes...)
	}
	names := policyNames(policies)
	switch {
	case len(allows) > 0:
		return npOutcome{isolated: true, verdict: Reachable, step: Step{Layer: LayerNetworkPolicy, Decision: Allow,
			Reason: fmt.Sprintf("isolated by %s; allowed by %s", names, ruleNames(allows)), Rules: allows}}
	case len(maybes) > 0:
		return npOutcome{isolated: true, verdict: Unknown, step: Step{Layer: LayerNetworkPolicy, Decision: Undecided,
			Reason: fmt.Sprintf("isolated by %s; %d rule(s) may allow it, depending on the CNI", names, len(maybes)), Rules: maybes}}
	}
	refs := make([]RuleRef, len(policies))
	for i, p := range policies {
		refs[i] = RuleRef{Policy: p.Ref, Rule: -1, Source: p.Source}
	}
	return npOutcome{isolated: true, verdict: Blocked, step: Step{Layer: LayerNetworkPolicy, Decision: Deny,
		Reason: fmt.Sprintf("isolated by %s; no rule allows it", names), Rules: refs}}
}

// ruleNames names up to three rules, "p egress rule 0, q egress rule 2 and 1 more".
func ruleNames(refs []RuleRef) string {
	var s []string
	for i, r := range refs {
		if i == 3 {
			s = append(s, fmt.Sprintf("%d more", len(refs)-3))
			break
		}
		s = append(s, fmt.Sprintf("%s egress rule %d", r.Policy.Name, r.Rule))
	}
	return strings.Join(s, ", ")
}

func policyNames(ps []*model.NetworkPolicy) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Ref.Name
	}
	return strings.Join(names, ", ")
}

func stubStep(stubs []*model.PolicyStub, what string) Step {
	refs := make([]RuleRef, len(stubs))
	kinds := map[string]bool{}
	var kindList []string
	for i, s := range stubs {
		refs[i] = RuleRef{Policy: s.Ref, Rule: -1, Source: s.Source}
		if !kinds[s.Ref.Kind] {
			kinds[s.Ref.Kind] = true
			kindList = append(kindList, s.Ref.Kind)
		}
	}
	return Step{Layer: LayerUnsupported, Decision: Undecided, Rules: refs,
		Reason: fmt.Sprintf("%s %s; imdsguard does not evaluate this kind yet", strings.Join(kindList, ", "), what)}
}

// incomplete reports whether unreadable input could affect the namespace,
// and why.
func (e *Engine) incomplete(ns string) (string, bool) {
	all, okAll := e.inv.Incomplete[""]
	mine, okNS := e.inv.Incomplete[ns]
	if !okAll && !okNS {
		return "", false
	}
	why := append(append([]string{}, all...), mine...)
	return strings.Join(why, "; "), true
}
