package reach_test

import (
	"slices"
	"sort"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// The reference reading of AdminNetworkPolicy and
// BaselineAdminNetworkPolicy egress (sigs.k8s.io/network-policy-api
// apis/v1alpha1), written as a search over every way the datapath could
// go: each rule that may match either does or does not, each subject that
// may select the pod either does or does not, and among policies of one
// priority that match, any may be applied. The verdict is decided only
// when every way ends the same. Like reference_test.go, it shares no
// matching code with the engine.

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
	// ciliumDeny are the Cilium deny rules that certainly deny.
	ciliumDeny []refRule
}

// refAdminPod evaluates a pod (not on the host network) with the admin
// layers around NetworkPolicy. It returns the combined verdict before
// stubs and unreadable input are considered, and what each layer names.
func refAdminPod(inv *model.Inventory, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) (reach.Verdict, *refLayers) {
	var anps []*model.AdminPolicy
	maybe := map[*model.AdminPolicy]bool{}
	for _, p := range inv.AdminPolicies {
		if p.Baseline {
			continue
		}
		switch refSubject(inv, &p.Subject, ns, pod.Labels) {
		case refYes:
			anps = append(anps, p)
		case refMaybe:
			anps = append(anps, p)
			maybe[p] = true
		}
	}
	// "Policies with lower priority values have higher precedence."
	sort.SliceStable(anps, func(i, j int) bool { return anps[i].Priority < anps[j].Priority })
	var groups [][]*model.AdminPolicy
	for i, p := range anps {
		if i == 0 || p.Priority != anps[i-1].Priority {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], p)
	}
	l := &refLayers{}
	l.explore(inv, groups, maybe, ns, pod, selecting, t)
	v := l.verdicts[0]
	for _, o := range l.verdicts[1:] {
		if o != v {
			v = reach.Unknown
		}
	}
	return v, l
}

// explore follows every way through the priority groups.
func (l *refLayers) explore(inv *model.Inventory, groups [][]*model.AdminPolicy, maybe map[*model.AdminPolicy]bool, ns string, pod *model.PodTemplate, selecting []*model.NetworkPolicy, t *reach.Target) {
	if len(groups) == 0 {
		l.below(inv, ns, pod, selecting, t)
		return
	}
	group := groups[0]
	options := make([][]refChoice, len(group))
	for i, p := range group {
		options[i] = refChoices(p, t, maybe[p])
	}
	// Every combination of the policies' own results.
	pick := make([]int, len(group))
	for {
		var matched []int
		for i := range group {
			if options[i][pick[i]].rule >= 0 {
				matched = append(matched, i)
			}
		}
		if len(matched) == 0 {
			l.explore(inv, groups[1:], maybe, ns, pod, selecting, t)
		}
		// "The implementation can apply any of the matching policies."
		for _, i := range matched {
			c := options[i][pick[i]]
			l.admin = append(l.admin, refRule{group[i].Ref, c.rule})
			switch c.action {
			case model.AdminAllow:
				l.verdicts = append(l.verdicts, reach.Reachable)
			case model.AdminDeny:
				l.verdicts = append(l.verdicts, reach.Blocked)
			case model.AdminPass:
				l.below(inv, ns, pod, selecting, t)
			}
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

// below is NetworkPolicy, then for a pod it does not isolate the
// BaselineAdminNetworkPolicy, whose unmatched traffic is allowed.
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
	any := false
	for _, p := range inv.AdminPolicies {
		if !p.Baseline {
			continue
		}
		sel := refSubject(inv, &p.Subject, ns, pod.Labels)
		if sel == refNo {
			continue
		}
		any = true
		for _, c := range refChoices(p, t, sel == refMaybe) {
			switch c.action {
			case model.AdminDeny:
				l.verdicts = append(l.verdicts, reach.Blocked)
			default:
				l.verdicts = append(l.verdicts, reach.Reachable)
			}
			if c.rule >= 0 {
				l.baseline = append(l.baseline, refRule{p.Ref, c.rule})
			}
		}
	}
	if !any {
		l.verdicts = append(l.verdicts, reach.Reachable)
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
