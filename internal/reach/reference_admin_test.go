package reach_test

import (
	"slices"
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// The reference reading of AdminNetworkPolicy and
// BaselineAdminNetworkPolicy egress (sigs.k8s.io/network-policy-api
// apis/v1alpha1) and of ClusterNetworkPolicy egress (apis/v1alpha2),
// written as a search over every way the datapath could go: each rule
// that may match either does or does not, each subject that may select
// the pod either does or does not, and among policies of one priority that
// match, any may be applied. The API gives no order between
// AdminNetworkPolicy and the Admin tier of ClusterNetworkPolicy, nor
// between BaselineAdminNetworkPolicy and the Baseline tier: the search
// follows both orders, one kind before the other and the other way round
// (a mix cannot end in a way that neither order reaches: the first policy
// that decides, decides). The verdict is decided only when every way ends
// the same. Like reference_test.go, it shares no matching code with the
// engine.

// refChoice is one possible result of a single admin policy: the rule
// that matched first and its action, or no match (rule -1).
type refChoice struct {
	action model.AdminAction
	rule   int
}

// refLayers is what the reference records while searching: the verdicts
// of every way, and the rules each layer could name.
type refLayers struct {
	verdicts  []reach.Verdict
	admin     []refRule
	np        []refRule
	baseline  []refRule
	reachedNP bool
	maybe     map[*model.AdminPolicy]bool
	// ciliumDeny are the Cilium deny rules that certainly deny.
	ciliumDeny []refRule
}

// refStage is one step of a tier's walk: a group of policies of one kind
// and priority, any of which may apply when several match, or (oneOf) the
// BaselineAdminNetworkPolicies of the input, one of which is the
// cluster's.
type refStage struct {
	ps    []*model.AdminPolicy
	oneOf bool
}

// refAdminPod evaluates a pod (not on the host network) with the admin
// layers around NetworkPolicy. It returns the combined verdict before
// stubs and unreadable input are considered, and what each layer names.
func refAdminPod(inv *model.Inventory, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) (reach.Verdict, *refLayers) {
	l := &refLayers{maybe: map[*model.AdminPolicy]bool{}}
	var anps, cnps []*model.AdminPolicy
	for _, p := range inv.AdminPolicies {
		if p.Baseline || !l.selects(inv, p, ns, pod) {
			continue
		}
		if p.Ref.Kind == "ClusterNetworkPolicy" {
			cnps = append(cnps, p)
		} else {
			anps = append(anps, p)
		}
	}
	below := func() { l.below(inv, ns, pod, selecting, t) }
	for _, order := range refOrders(refGroups(anps), refGroups(cnps)) {
		l.walk(order, t, func(r refRule) { l.admin = append(l.admin, r) }, func(a model.AdminAction) {
			switch a {
			case model.AdminAllow, model.AdminAccept:
				l.verdicts = append(l.verdicts, reach.Reachable)
			case model.AdminDeny:
				l.verdicts = append(l.verdicts, reach.Blocked)
			case model.AdminPass:
				below()
			}
		}, below)
	}
	v := l.verdicts[0]
	for _, o := range l.verdicts[1:] {
		if o != v {
			v = reach.Unknown
		}
	}
	return v, l
}

// selects reports whether an admin policy's subject selects, or may
// select, the pod, remembering the maybes.
func (l *refLayers) selects(inv *model.Inventory, p *model.AdminPolicy, ns string, pod *model.PodTemplate) bool {
	switch refSubject(inv, &p.Subject, ns, pod.Labels) {
	case refYes:
		return true
	case refMaybe:
		l.maybe[p] = true
		return true
	}
	return false
}

// refGroups sorts policies of one kind into stages of one priority each:
// "Policies with lower priority values have higher precedence."
func refGroups(ps []*model.AdminPolicy) []refStage {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Priority < ps[j].Priority })
	var out []refStage
	for i, p := range ps {
		if i == 0 || p.Priority != ps[i-1].Priority {
			out = append(out, refStage{})
		}
		out[len(out)-1].ps = append(out[len(out)-1].ps, p)
	}
	return out
}

// refOrders is the orders two kinds of one tier may be walked in.
func refOrders(a, b []refStage) [][]refStage {
	ab := append(slices.Clone(a), b...)
	if len(a) == 0 || len(b) == 0 {
		return [][]refStage{ab}
	}
	return [][]refStage{ab, append(slices.Clone(b), a...)}
}

// walk follows every way through the stages: record is told each rule
// that matches, decide its action; end is called for every way that
// leaves the last stage unmatched.
func (l *refLayers) walk(stages []refStage, t *reach.Target, record func(refRule), decide func(model.AdminAction), end func()) {
	if len(stages) == 0 {
		end()
		return
	}
	next := func() { l.walk(stages[1:], t, record, decide, end) }
	st := stages[0]
	if st.oneOf {
		for _, p := range st.ps {
			for _, c := range refChoices(p, t, l.maybe[p]) {
				if c.rule < 0 {
					next()
					continue
				}
				record(refRule{p.Ref, c.rule})
				decide(c.action)
			}
		}
		return
	}
	options := make([][]refChoice, len(st.ps))
	for i, p := range st.ps {
		options[i] = refChoices(p, t, l.maybe[p])
	}
	// Every combination of the policies' own results.
	pick := make([]int, len(st.ps))
	for {
		var matched []int
		for i := range st.ps {
			if options[i][pick[i]].rule >= 0 {
				matched = append(matched, i)
			}
		}
		if len(matched) == 0 {
			next()
		}
		// "The implementation can apply any of the matching policies."
		for _, i := range matched {
			c := options[i][pick[i]]
			record(refRule{st.ps[i].Ref, c.rule})
			decide(c.action)
		}
		k := 0
		for k < len(pick) {
			pick[k]++
			if pick[k] < len(options[k]) {
				break
			}
			pick[k] = 0
			k++
		}
		if k == len(pick) {
			return
		}
	}
}

// refChoices lists what one policy may do with the target: walking its
// egress rules in order, a rule that certainly matches ends the walk, one
// that may match is a fork. A subject that may not select the pod, and a
// walk that ends without a match, give "no match".
func refChoices(p *model.AdminPolicy, t *reach.Target, maybeSubject bool) []refChoice {
	var out []refChoice
	if maybeSubject {
		out = append(out, refChoice{rule: -1})
	}
	for i, r := range p.Egress {
		m := refAdminRule(&r, t)
		if m == refNo {
			continue
		}
		out = append(out, refChoice{action: r.Action, rule: i})
		if m == refYes {
			return out
		}
	}
	if !maybeSubject {
		out = append(out, refChoice{rule: -1})
	}
	return out
}

// below is NetworkPolicy, then for a pod it does not isolate the baseline
// tier: the BaselineAdminNetworkPolicy and the Baseline-tier
// ClusterNetworkPolicies. Traffic that no baseline rule matches, or that a
// Baseline Pass rule passes on from the last tier, is allowed.
func (l *refLayers) below(inv *model.Inventory, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) {
	if l.ciliumBelow(inv, ns, pod, selecting, t) { // reference_cilium_test.go
		return
	}
	o, isolated := refNetworkPolicy(selecting, t)
	if !l.reachedNP {
		l.reachedNP = true
		l.np = o.Rules
	}
	if isolated {
		l.verdicts = append(l.verdicts, o.Verdict)
		return
	}
	l.baselineVerdicts(inv, ns, pod, t)
}

// baselineVerdicts is what may happen to a pod that nothing isolates.
func (l *refLayers) baselineVerdicts(inv *model.Inventory, ns string, pod *model.PodTemplate, t *reach.Target) {
	// Only one BaselineAdminNetworkPolicy can exist; if the input holds
	// several, any of them may be it.
	var banp refStage
	banp.oneOf = true
	var cnps []*model.AdminPolicy
	for _, p := range inv.AdminPolicies {
		if !p.Baseline || !l.selects(inv, p, ns, pod) {
			continue
		}
		if p.Ref.Kind == "ClusterNetworkPolicy" {
			cnps = append(cnps, p)
		} else {
			banp.ps = append(banp.ps, p)
		}
	}
	var banps []refStage
	if len(banp.ps) > 0 {
		banps = append(banps, banp)
	}
	for _, order := range refOrders(banps, refGroups(cnps)) {
		l.walk(order, t, func(r refRule) { l.baseline = append(l.baseline, r) }, func(a model.AdminAction) {
			if a == model.AdminDeny {
				l.verdicts = append(l.verdicts, reach.Blocked)
			} else {
				l.verdicts = append(l.verdicts, reach.Reachable)
			}
		}, func() { l.verdicts = append(l.verdicts, reach.Reachable) })
	}
	for _, s := range inv.Unsupported {
		if s.ClusterScoped && s.Baseline {
			l.verdicts = append(l.verdicts, reach.Unknown)
		}
	}
}

// refAdminRule: "If any element [of to] matches the destination of
// outgoing traffic then the specified action is applied", subject to
// ports ("If Ports is not set then the rule does not filter traffic via
// port").
func refAdminRule(r *model.AdminRule, t *reach.Target) refTri {
	if !refPorts(r.Ports, t) {
		return refNo
	}
	out := refNo
	for _, p := range r.To {
		// namespaces and pods select pods, nodes select node IPs: a
		// metadata address is neither.
		for _, b := range p.Networks {
			switch {
			case b.Ambiguous != "":
				out = max(out, refMaybe)
			case refPrefixHas(b.CIDR.Addr().AsSlice(), b.CIDR.Bits(), t.Addr.AsSlice()):
				out = refYes
			}
		}
		if len(p.DomainNames) > 0 {
			// A name may resolve to the metadata address.
			out = max(out, refMaybe)
		}
	}
	return out
}

// refSubject: subject.namespaces selects every pod of the namespaces its
// selector selects; subject.pods the pods its podSelector selects in the
// namespaces its namespaceSelector selects.
func refSubject(inv *model.Inventory, s *model.AdminSubject, ns string, l model.Labels) refTri {
	if s.Namespaces != nil {
		return refNamespace(inv, s.Namespaces, ns)
	}
	if s.Pods == nil || !refSelectorSelects(&s.Pods.PodSelector, l) {
		return refNo
	}
	return refNamespace(inv, &s.Pods.NamespaceSelector, ns)
}

// refNamespace: a declared namespace has the labels it was written with
// (and its name label). Of one that is not declared only the name label is
// known: a selector asking about any other label may go either way.
func refNamespace(inv *model.Inventory, sel *model.Selector, ns string) refTri {
	if n, ok := inv.Namespaces[ns]; ok && n.Declared {
		if refSelectorSelects(sel, n.Labels) {
			return refYes
		}
		return refNo
	}
	known := model.Labels{model.MetadataNameLabel: ns}
	// Split the selector: the terms about the name label decide alone.
	var nameOnly model.Selector
	other := false
	for k, v := range sel.MatchLabels {
		if k != model.MetadataNameLabel {
			other = true
			continue
		}
		if nameOnly.MatchLabels == nil {
			nameOnly.MatchLabels = map[string]string{}
		}
		nameOnly.MatchLabels[k] = v
	}
	for _, r := range sel.MatchExpressions {
		if r.Key != model.MetadataNameLabel {
			other = true
			continue
		}
		nameOnly.MatchExpressions = append(nameOnly.MatchExpressions, r)
	}
	switch {
	case !refSelectorSelects(&nameOnly, known):
		return refNo
	case other:
		return refMaybe
	}
	return refYes
}

// refSorted dedupes and sorts rule references, to compare as sets.
func refSorted(rs []refRule) []refRule {
	out := slices.Clone(rs)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Policy.Name != out[j].Policy.Name {
			return out[i].Policy.Name < out[j].Policy.Name
		}
		return out[i].Rule < out[j].Rule
	})
	return slices.Compact(out)
}
