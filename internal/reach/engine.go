package reach

import (
	"fmt"
	"slices"
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
	node     NodeLayer
	// admin holds the AdminNetworkPolicies and Admin-tier
	// ClusterNetworkPolicies, baseline the BaselineAdminNetworkPolicies and
	// Baseline-tier ClusterNetworkPolicies, each by priority; adminCompiled
	// what each one's egress rules say about each target.
	admin, baseline []*model.AdminPolicy
	adminCompiled   map[*model.AdminPolicy][]adminVerdict
	// cilium holds the Cilium policies' rules (cilium.go).
	cilium ciliumState
	// calico holds the Calico policies by tier (calico.go); nil when the
	// inventory has none.
	calico *calicoIndex
}

type policyVerdict struct {
	allows []RuleRef
	maybes []RuleRef
}

type clusterStubs struct {
	admin, baseline, host []*model.PolicyStub
}

// New indexes the inventory for the given targets.
func New(inv *model.Inventory, targets []Target, opts ...Option) *Engine {
	e := &Engine{inv: inv, targets: targets, ns: map[string]*nsIndex{}, compiled: map[*model.NetworkPolicy][]policyVerdict{}}
	for _, o := range opts {
		o(e)
	}
	for _, np := range inv.NetworkPolicies {
		e.index(np.Ref.Namespace).policies = append(e.index(np.Ref.Namespace).policies, np)
		if np.Egress {
			e.compiled[np] = compile(np, targets)
		}
	}
	e.adminCompiled = make(map[*model.AdminPolicy][]adminVerdict, len(inv.AdminPolicies))
	for _, p := range inv.AdminPolicies {
		if p.Baseline {
			e.baseline = append(e.baseline, p)
		} else {
			e.admin = append(e.admin, p)
		}
		e.adminCompiled[p] = compileAdmin(p, targets)
	}
	sortAdmin(e.admin)
	sortAdmin(e.baseline)
	e.calico = newCalicoIndex(inv, targets)
	e.cilium = compileCilium(inv.CiliumPolicies, targets)
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
		// Most rules say the same of every target ("to any destination"):
		// share the lists, as compiled results are never modified.
		for _, prev := range out[:ti] {
			if slices.Equal(prev.allows, out[ti].allows) {
				out[ti].allows = prev.allows
			}
			if slices.Equal(prev.maybes, out[ti].maybes) {
				out[ti].maybes = prev.maybes
			}
		}
	}
	return out
}

// Pod evaluates one pod shape in a namespace against every target. policies
// must be the egress policies that select the pod (see Selecting). Results
// for different targets share trace steps where they are equal; they must
// not be modified.
func (e *Engine) Pod(ns string, t *model.PodTemplate, policies []*model.NetworkPolicy) []Result {
	admin, baseline := e.adminSelect(ns, t)
	return e.pod(ns, t, policies, admin, baseline, e.ciliumSelect(ns, t))
}

// pod is Pod with the admin policies and Cilium rules that select the pod
// already known.
func (e *Engine) pod(ns string, t *model.PodTemplate, policies []*model.NetworkPolicy, admin, baseline []adminSel, cilium []ciliumSel) []Result {
	out := make([]Result, len(e.targets))
	pe := podEval{e: e, ns: ns, t: t, policies: policies, admin: admin, baseline: baseline, cilium: cilium}
	for ti := range e.targets {
		if t.HostNetwork {
			out[ti] = e.hostNetwork()
		} else {
			out[ti] = pe.evaluate(ti)
		}
		out[ti] = e.applyNode(out[ti], ti, t)
	}
	return out
}

var (
	hostStep = Step{Layer: LayerHostNetwork, Decision: Allow,
		Reason: "the pod uses the host network, so NetworkPolicy does not apply to it"}
	notIsolatedStep = Step{Layer: LayerNetworkPolicy, Decision: NoOpinion,
		Reason: "no NetworkPolicy selects the pod for egress, so all egress is allowed"}
	hostTrace        = []Step{hostStep}
	notIsolatedTrace = []Step{notIsolatedStep}
)

func (e *Engine) hostNetwork() Result {
	trace := hostTrace
	if len(e.cluster.host) > 0 {
		trace = append(slices.Clip(trace), stubStep(e.cluster.host, "can apply to host-network pods"))
	}
	if s, ok := e.calicoHostStep(); ok {
		trace = append(slices.Clip(trace), s)
	}
	if len(e.cilium.host) > 0 {
		trace = append(slices.Clip(trace), ciliumHostStep(e.cilium.host))
	}
	if len(trace) == 1 {
		return Result{Verdict: Reachable, Trace: trace}
	}
	return Result{Verdict: Unknown, Trace: trace}
}

// podEval evaluates one pod shape target by target, building the parts of
// the trace that do not depend on the target only once.
type podEval struct {
	e        *Engine
	ns       string
	t        *model.PodTemplate
	policies []*model.NetworkPolicy
	// admin and baseline are the admin policies selecting the pod, admin
	// by priority.
	admin, baseline []adminSel
	// cilium are the Cilium rules selecting the pod (cilium.go).
	cilium   []ciliumSel
	prefix   []Step // steps of unevaluated kinds that come first
	prefixOK bool
	names    string
	deny     []Step // the whole trace of a Blocked verdict
	// calicoSels are the Calico policies selecting the pod (calicotiers.go).
	calicoSels []calicoSel
	calicoOK   bool
}

func (pe *podEval) evaluate(ti int) Result {
	e := pe.e
	if !pe.prefixOK {
		pe.prefixOK = true
		// An unevaluated policy kind that comes before NetworkPolicy, or sits
		// beside it in the namespace, may override either answer.
		if len(e.cluster.admin) > 0 {
			pe.prefix = append(pe.prefix, stubStep(e.cluster.admin, "is evaluated before NetworkPolicy and may allow or deny"))
		}
		if ix := e.ns[pe.ns]; ix != nil && len(ix.stubs) > 0 {
			pe.prefix = append(pe.prefix, stubStep(ix.stubs, "selects pods in this namespace"))
		}
	}
	if e.calico != nil {
		if r, ok := pe.calicoResult(ti); ok {
			if len(pe.cilium) > 0 {
				// A cluster runs one CNI; which of the two would enforce is
				// not for imdsguard to guess.
				return Result{Verdict: Unknown, Trace: append(slices.Clip(r.Trace), Step{Layer: LayerCilium, Decision: Undecided,
					Reason: "Cilium rules select the pod too; imdsguard does not model a cluster with both Calico and Cilium policies"})}
			}
			return r
		}
	}
	return pe.finish(pe.kubeLayers(ti))
}

// kubeLayers decides with the Kubernetes kinds: AdminNetworkPolicy,
// NetworkPolicy and BaselineAdminNetworkPolicy.
func (pe *podEval) kubeLayers(ti int) (Verdict, []Step) {
	if len(pe.admin) == 0 {
		return pe.belowAdmin(ti)
	}
	out, step := pe.adminLayer(ti)
	trace := []Step{step}
	var verdicts []Verdict
	if out&outAllow != 0 {
		verdicts = append(verdicts, Reachable)
	}
	if out&outDeny != 0 {
		verdicts = append(verdicts, Blocked)
	}
	if out&outPass != 0 {
		v, below := pe.belowAdmin(ti)
		verdicts = append(verdicts, v)
		trace = append(trace, below...)
	}
	verdict := verdicts[0]
	for _, v := range verdicts[1:] {
		if v != verdict {
			verdict = Unknown
		}
	}
	return verdict, trace
}

// finish applies what can only make a verdict less certain: policy kinds
// not evaluated that come first or sit beside NetworkPolicy, and input
// that could not be read. The trace is never modified: results share it.
func (pe *podEval) finish(verdict Verdict, trace []Step) Result {
	if len(pe.prefix) > 0 {
		return Result{Verdict: Unknown, Trace: append(append([]Step{}, pe.prefix...), trace...)}
	}
	if verdict == Blocked {
		if why, ok := pe.e.incomplete(pe.ns); ok {
			return Result{Verdict: Unknown, Trace: append(append([]Step{}, trace...), Step{Layer: LayerInput, Decision: Undecided,
				Reason: "input that could decide this could not be read: " + why})}
		}
	}
	return Result{Verdict: verdict, Trace: trace}
}

// belowAdmin decides with NetworkPolicy and, for a pod that no
// NetworkPolicy isolates, the baseline layer. The trace may be shared
// between targets and must be copied before it is extended.
func (pe *podEval) belowAdmin(ti int) (Verdict, []Step) {
	if len(pe.cilium) > 0 {
		return pe.ciliumLayer(ti)
	}
	if len(pe.policies) > 0 {
		verdict, step, shared := pe.networkPolicyStep(ti)
		if shared != nil {
			return verdict, shared
		}
		return verdict, []Step{step}
	}
	return pe.notIsolated(ti)
}

// notIsolated decides for a pod that nothing isolates for egress: the
// baseline layer, if any, else Reachable. The trace starts with the
// NetworkPolicy step that says so.
func (pe *podEval) notIsolated(ti int) (Verdict, []Step) {
	e := pe.e
	if len(pe.baseline) == 0 && len(e.cluster.baseline) == 0 {
		return Reachable, notIsolatedTrace
	}
	trace := []Step{notIsolatedStep}
	verdict := Reachable
	if len(pe.baseline) > 0 {
		out, step := pe.baselineLayer(ti)
		trace = append(trace, step)
		switch out {
		case outAllow:
		case outDeny:
			verdict = Blocked
		default:
			verdict = Unknown
		}
	}
	if len(e.cluster.baseline) > 0 {
		trace = append(trace, stubStep(e.cluster.baseline, "decides for pods that no NetworkPolicy isolates"))
		verdict = Unknown
	}
	return verdict, trace
}

// networkPolicyStep decides for an isolated pod. For Blocked it also returns
// the one-step trace shared by every target.
func (pe *podEval) networkPolicyStep(ti int) (Verdict, Step, []Step) {
	e := pe.e
	var allows, maybes []RuleRef
	for _, p := range pe.policies {
		pv := e.compiled[p][ti]
		allows = appendShared(allows, pv.allows)
		maybes = appendShared(maybes, pv.maybes)
	}
	if pe.names == "" {
		pe.names = policyNames(pe.policies)
	}
	switch {
	case len(allows) > 0:
		return Reachable, Step{Layer: LayerNetworkPolicy, Decision: Allow,
			Reason: fmt.Sprintf("isolated by %s; allowed by %s", pe.names, ruleNames(allows)), Rules: allows}, nil
	case len(maybes) > 0:
		return Unknown, Step{Layer: LayerNetworkPolicy, Decision: Undecided,
			Reason: fmt.Sprintf("isolated by %s; %d rule(s) may allow it, depending on the CNI", pe.names, len(maybes)), Rules: maybes}, nil
	}
	if pe.deny == nil {
		refs := make([]RuleRef, len(pe.policies))
		for i, p := range pe.policies {
			refs[i] = RuleRef{Policy: p.Ref, Rule: -1, Source: p.Source}
		}
		pe.deny = []Step{{Layer: LayerNetworkPolicy, Decision: Deny,
			Reason: fmt.Sprintf("isolated by %s; no rule allows it", pe.names), Rules: refs}}
	}
	return Blocked, pe.deny[0], pe.deny
}

// appendShared appends b to a, reusing b itself when a is empty so that a
// single policy's compiled rule list is shared, not copied.
func appendShared(a, b []RuleRef) []RuleRef {
	if len(a) == 0 {
		return b[:len(b):len(b)]
	}
	if len(b) == 0 {
		return a
	}
	return append(a[:len(a):len(a)], b...)
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
	var kindList, unreadable []string
	for i, s := range stubs {
		refs[i] = RuleRef{Policy: s.Ref, Rule: -1, Source: s.Source}
		switch {
		case s.Unreadable != "":
			unreadable = append(unreadable, s.Ref.Kind+": "+s.Unreadable)
		case !kinds[s.Ref.Kind]:
			kinds[s.Ref.Kind] = true
			kindList = append(kindList, s.Ref.Kind)
		}
	}
	var why []string
	if len(kindList) > 0 {
		why = append(why, fmt.Sprintf("%s %s; imdsguard does not evaluate this kind yet", strings.Join(kindList, ", "), what))
	}
	if len(unreadable) > 0 {
		why = append(why, "policies that could decide this could not be read ("+strings.Join(unreadable, "; ")+")")
	}
	return Step{Layer: LayerUnsupported, Decision: Undecided, Rules: refs, Reason: strings.Join(why, "; ")}
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
