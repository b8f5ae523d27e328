package reach

import (
	"fmt"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// The Cilium layer evaluates CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy together with NetworkPolicy, as the
// Cilium agent does (docs/semantics.md): every egressDeny rule that matches
// wins; otherwise a pod that some rule isolates (a NetworkPolicy, or a
// Cilium rule in default deny) may send what any allow rule of either kind
// allows. A rule that may select the pod, or may match the target, is
// followed both ways, and the verdict is decided only when every way ends
// the same.

// LayerCilium is the Cilium policy layer, which on a Cilium cluster also
// decides for NetworkPolicy.
const LayerCilium Layer = "CiliumNetworkPolicy"

// ciliumSel is a Cilium rule that selects, or may select, a pod.
type ciliumSel struct {
	p     *model.CiliumPolicy
	r     *model.CiliumRule
	maybe bool
	why   string // why the selection is uncertain
}

// ciliumVerdict is what the egress rules of one Cilium rule say about a
// target: the allow and deny rules that match, and those that may.
type ciliumVerdict struct {
	allows, allowMaybes, denies, denyMaybes []RuleRef
}

// ciliumState holds the Cilium rules the engine evaluates.
type ciliumState struct {
	// byNS holds the rules with egress rules of each namespace's
	// CiliumNetworkPolicies, cluster those of the
	// CiliumClusterwideNetworkPolicies: a pod meets only these two lists.
	byNS    map[string][]ciliumSel
	cluster []ciliumSel
	// ids number the rules, for the result cache's keys.
	ids map[*model.CiliumRule]int
	// host are the policies with a host rule (nodeSelector) that has
	// egress rules: they may apply to host-network pods.
	host     []*model.CiliumPolicy
	compiled map[*model.CiliumRule][]ciliumVerdict
}

func compileCilium(ps []*model.CiliumPolicy, targets []Target) ciliumState {
	s := ciliumState{byNS: map[string][]ciliumSel{}, ids: map[*model.CiliumRule]int{}, compiled: map[*model.CiliumRule][]ciliumVerdict{}}
	for _, p := range ps {
		host := false
		for ri := range p.Rules {
			r := &p.Rules[ri]
			if !r.HasEgress() {
				continue
			}
			if r.NodeSelector != nil {
				host = true
				continue
			}
			s.ids[r] = len(s.ids)
			if p.Clusterwide {
				s.cluster = append(s.cluster, ciliumSel{p: p, r: r})
			} else {
				s.byNS[p.Ref.Namespace] = append(s.byNS[p.Ref.Namespace], ciliumSel{p: p, r: r})
			}
			s.compiled[r] = compileCiliumRule(p, r, targets)
		}
		if host {
			s.host = append(s.host, p)
		}
	}
	return s
}

func compileCiliumRule(p *model.CiliumPolicy, r *model.CiliumRule, targets []Target) []ciliumVerdict {
	out := make([]ciliumVerdict, len(targets))
	for ti := range targets {
		v := &out[ti]
		for ei := range r.Egress {
			er := &r.Egress[ei]
			m, why := ciliumRuleMatch(er, &targets[ti])
			if m == no {
				continue
			}
			ref := RuleRef{Policy: p.Ref, Rule: er.Index, Source: er.Source, Why: er.Path + ": " + why}
			switch {
			case er.Deny && m == yes:
				v.denies = append(v.denies, ref)
			case er.Deny:
				v.denyMaybes = append(v.denyMaybes, ref)
			case m == yes:
				v.allows = append(v.allows, ref)
			default:
				v.allowMaybes = append(v.allowMaybes, ref)
			}
		}
	}
	return out
}

// ciliumRuleMatch decides whether an egress or egressDeny rule matches the
// target: its peer (layer 3) and its ports (layer 4).
func ciliumRuleMatch(r *model.CiliumEgressRule, t *Target) (tri, string) {
	l3, why3 := ciliumPeerMatch(r, t)
	if l3 == no {
		return no, ""
	}
	l4, why4 := ciliumPortsMatch(r, t)
	if l4 == no {
		return no, ""
	}
	return min(l3, l4), why3 + ", " + why4
}

func ciliumPeerMatch(r *model.CiliumEgressRule, t *Target) (tri, string) {
	out, why := no, ""
	switch r.Peer {
	case "":
		if !r.HasToPorts && !r.ICMP {
			return no, "" // selects nothing
		}
		out, why = yes, "no peer field (every destination)"
	case model.CiliumToCIDR, model.CiliumToCIDRSet:
		for i := range r.CIDRs {
			m, w := ipBlockMatch(&r.CIDRs[i], t)
			if m > out {
				out, why = m, strings.Replace(w, "ipBlock", r.Peer, 1)
			}
			if out == yes {
				break
			}
		}
	case model.CiliumToEntities:
		for _, e := range r.Entities {
			if ciliumEntityHas(e, t) {
				out, why = yes, fmt.Sprintf("toEntities %s includes %s (outside the cluster)", e, t.Addr)
				break
			}
		}
	case model.CiliumToEndpoints:
		for _, s := range r.Endpoints {
			for _, term := range s.Terms {
				if term.LabelSource == "reserved" {
					out, why = maybe, fmt.Sprintf("toEndpoints %s selects reserved identities, such as world, which imdsguard does not evaluate", s.Text)
				}
			}
		}
	}
	// toEndpoints and toNodes select pods and nodes, never a metadata
	// address. What imdsguard does not evaluate either adds destinations
	// (toServices, toGroups, toFQDNs, CIDR groups stand for addresses the
	// input does not hold) or narrows the rule (toRequires, authentication).
	var adds, narrows []string
	for _, u := range r.Unmodelled {
		if ruleLevel(u) {
			narrows = append(narrows, u)
		} else {
			adds = append(adds, u)
		}
	}
	switch {
	case out == no && len(adds) > 0:
		out, why = maybe, fmt.Sprintf("%s may stand for %s (imdsguard does not evaluate it)", strings.Join(adds, ", "), t.Addr)
	case out == yes && len(narrows) > 0:
		out, why = maybe, why+fmt.Sprintf("; %s may narrow the rule (imdsguard does not evaluate it)", strings.Join(narrows, ", "))
	}
	return out, why
}

// ruleLevel reports whether an unmodelled construct narrows the whole
// rule rather than adding destinations.
func ruleLevel(s string) bool { return s == "toRequires" || s == "authentication" }

// ciliumEntityHas reports whether an entity includes a metadata address:
// world (and all) is everything outside the cluster.
func ciliumEntityHas(e string, t *Target) bool {
	switch e {
	case "all", "world":
		return true
	case "world-ipv4":
		return t.Addr.Is4()
	case "world-ipv6":
		return !t.Addr.Is4()
	}
	return false
}

func ciliumPortsMatch(r *model.CiliumEgressRule, t *Target) (tri, string) {
	if r.ICMP {
		return no, ""
	}
	if !r.HasToPorts {
		return yes, "no toPorts (every port)"
	}
	best, why := no, ""
	for _, pr := range r.ToPorts {
		for i := range pr.Ports {
			p := &pr.Ports[i]
			if !ciliumProtoHas(p.Protocol, t.Protocol) || p.Name != "" {
				continue
			}
			var w string
			switch {
			case p.Number == 0:
				w = fmt.Sprintf("port 0/%s (every port)", p.Protocol)
			case p.EndPort == 0 && p.Number == t.Port:
				w = fmt.Sprintf("port %d/%s", p.Number, p.Protocol)
			case p.EndPort != 0 && p.Number <= t.Port && t.Port <= p.EndPort:
				w = fmt.Sprintf("port range %d-%d/%s", p.Number, p.EndPort, p.Protocol)
			default:
				continue
			}
			if pr.L7 == "" {
				return yes, w
			}
			if best == no {
				best, why = maybe, w+" with "+pr.L7+": the proxy decides request by request (imdsguard does not evaluate layer 7 rules)"
			}
		}
	}
	return best, why
}

// ciliumProtoHas reports whether a port's protocol covers the target's.
func ciliumProtoHas(p, target model.Protocol) bool {
	if p == model.CiliumAnyProtocol {
		return target == model.TCP || target == model.UDP || target == model.SCTP
	}
	return p == target
}

// ciliumSelect returns the Cilium rules that select, or may select, a pod
// shape. Host-network pods are not Cilium endpoints.
func (e *Engine) ciliumSelect(ns string, t *model.PodTemplate) []ciliumSel {
	if t.HostNetwork {
		return nil
	}
	var out []ciliumSel
	for _, list := range [][]ciliumSel{e.cilium.byNS[ns], e.cilium.cluster} {
		for _, s := range list {
			if m, why := e.ciliumSelects(s.p, s.r.EndpointSelector, ns, t); m != no {
				s.maybe, s.why = m == maybe, why
				out = append(out, s)
			}
		}
	}
	return out
}

// The labels Cilium gives a pod besides its own.
const (
	ciliumNamespaceLabel      = "io.kubernetes.pod.namespace"
	ciliumServiceAccountLabel = "io.cilium.k8s.policy.serviceaccount"
	ciliumClusterLabel        = "io.cilium.k8s.policy.cluster"
	ciliumNamespaceLabels     = "io.cilium.k8s.namespace.labels."
)

// ciliumSelects decides whether an endpoint selector selects a pod. A
// CiliumNetworkPolicy selects only in its own namespace (the agent replaces
// a k8s:io.kubernetes.pod.namespace label of its selector by it).
func (e *Engine) ciliumSelects(p *model.CiliumPolicy, sel *model.CiliumSelector, ns string, t *model.PodTemplate) (tri, string) {
	if !p.Clusterwide && p.Ref.Namespace != ns {
		return no, ""
	}
	out, why := yes, ""
	for _, term := range sel.Terms {
		if !p.Clusterwide && term.FromMatchLabels && term.LabelSource == "k8s" && term.Key == ciliumNamespaceLabel {
			continue
		}
		v, present, unknown := e.ciliumLabel(term, ns, t)
		if unknown != "" {
			out, why = maybe, unknown
			continue
		}
		if !termHolds(term.Operator, term.Values, v, present) {
			return no, ""
		}
	}
	return out, why
}

func termHolds(op string, values []string, v string, present bool) bool {
	switch op {
	case "In":
		return present && slices.Contains(values, v)
	case "NotIn":
		return !present || !slices.Contains(values, v)
	case "Exists":
		return present
	case "DoesNotExist":
		return !present
	}
	return false
}

// ciliumLabel looks up the label a term asks about on a pod: its value,
// whether the pod has it, and, when the input cannot tell, why.
func (e *Engine) ciliumLabel(term model.CiliumTerm, ns string, t *model.PodTemplate) (string, bool, string) {
	switch term.LabelSource {
	case "k8s", "any":
	case "reserved":
		return "", false, "" // a pod has no reserved labels once initialised
	default:
		return "", false, fmt.Sprintf("labels of source %q are not in the input", term.LabelSource)
	}
	key := term.Key
	switch {
	case key == ciliumNamespaceLabel:
		return ns, true, ""
	case key == ciliumServiceAccountLabel:
		sa := t.ServiceAccount
		if sa == "" {
			sa = "default"
		}
		return sa, true, ""
	case key == ciliumClusterLabel:
		return "", false, "the cluster's name (label " + key + ") is not in the input"
	case strings.HasPrefix(key, ciliumNamespaceLabels):
		nsKey := strings.TrimPrefix(key, ciliumNamespaceLabels)
		if n := e.inv.Namespaces[ns]; n != nil && n.Declared {
			v, ok := n.Labels[nsKey]
			return v, ok, ""
		}
		if nsKey == model.MetadataNameLabel {
			return ns, true, ""
		}
		return "", false, fmt.Sprintf("the labels of namespace %s are not in the input", ns)
	case ciliumFilteredLabel(key):
		return "", false, fmt.Sprintf("Cilium's default identity-label filter leaves out label %s", key)
	}
	v, ok := t.Labels[key]
	return v, ok, ""
}

// ciliumFilteredLabel reports whether the Cilium agent's default
// identity-label filter may leave a pod label out of the pod's identity,
// so that no selector sees it (pkg/labelsfilter, defaults).
func ciliumFilteredLabel(key string) bool {
	if strings.HasPrefix(key, "app.kubernetes.io") {
		return false
	}
	for _, s := range []string{"kubernetes.io", "k8s.io"} {
		if strings.Contains(key, s) {
			return true
		}
	}
	for _, s := range []string{"pod-template-generation", "pod-template-hash", "controller-revision-hash", "controller-uid", "annotation", "etcd_node"} {
		if strings.HasPrefix(key, s) {
			return true
		}
	}
	return false
}

// ciliumLayer decides for a pod that Cilium rules select, together with
// the NetworkPolicies selecting it. It returns the verdict and the trace,
// which may be shared and must be copied before it is extended.
func (pe *podEval) ciliumLayer(ti int) (Verdict, []Step) {
	e := pe.e
	var certainDeny, denies, allows, isolators []RuleRef
	certainAllow, possibleAllow := false, false
	certainIso, maybeIso, isoWithoutAllow := len(pe.policies) > 0, false, false
	for _, p := range pe.policies {
		pv := e.compiled[p][ti]
		allows = append(append(allows, pv.allows...), pv.maybes...)
		certainAllow = certainAllow || len(pv.allows) > 0
		possibleAllow = possibleAllow || len(pv.allows)+len(pv.maybes) > 0
		isolators = append(isolators, RuleRef{Policy: p.Ref, Rule: -1, Source: p.Source})
	}
	for _, s := range pe.cilium {
		v := e.cilium.compiled[s.r][ti]
		if s.r.DefaultDenyEgress {
			isolators = append(isolators, RuleRef{Policy: s.p.Ref, Rule: -1, Source: s.r.Source, Why: s.r.Path + " (default deny for egress)"})
		}
		if !s.maybe {
			certainDeny = append(certainDeny, v.denies...)
			denies = append(denies, v.denyMaybes...)
			allows = append(append(allows, v.allows...), v.allowMaybes...)
			certainAllow = certainAllow || len(v.allows) > 0
			possibleAllow = possibleAllow || len(v.allows)+len(v.allowMaybes) > 0
			certainIso = certainIso || s.r.DefaultDenyEgress
			continue
		}
		denies = append(append(denies, v.denies...), v.denyMaybes...)
		if len(v.denies) > 0 {
			continue // selecting this rule denies: no way through it allows
		}
		allows = append(append(allows, v.allows...), v.allowMaybes...)
		possibleAllow = possibleAllow || len(v.allows)+len(v.allowMaybes) > 0
		if s.r.DefaultDenyEgress {
			maybeIso = true
			isoWithoutAllow = isoWithoutAllow || len(v.allows) == 0
		}
	}
	names := ciliumNames(pe.policies, pe.cilium)
	if len(certainDeny) > 0 {
		return Blocked, []Step{{Layer: LayerCilium, Decision: Deny, Rules: certainDeny,
			Reason: fmt.Sprintf("selected by %s; denied by %s (egressDeny takes precedence over every allow)", names, ciliumRuleNames(certainDeny))}}
	}
	var verdicts []Verdict
	if len(denies) > 0 {
		verdicts = append(verdicts, Blocked)
	}
	if (certainIso || maybeIso) && possibleAllow {
		verdicts = append(verdicts, Reachable)
	}
	if !certainAllow && (certainIso || isoWithoutAllow) {
		verdicts = append(verdicts, Blocked)
	}
	var open []Step
	if !certainIso {
		v, below := pe.notIsolated(ti)
		verdicts = append(verdicts, v)
		open = below[1:] // the baseline's steps, if any
	}
	verdict := verdicts[0]
	for _, v := range verdicts[1:] {
		if v != verdict {
			verdict = Unknown
		}
	}
	step := Step{Layer: LayerCilium}
	switch {
	case verdict == Reachable && len(allows) > 0:
		step.Decision, step.Rules = Allow, allows
		step.Reason = fmt.Sprintf("selected by %s; allowed by %s", names, ciliumRuleNames(allows))
	case verdict == Reachable:
		step.Decision = NoOpinion
		step.Reason = fmt.Sprintf("selected by %s; no rule puts the pod in default deny for egress, and no egressDeny rule matches", names)
	case verdict == Blocked && len(denies) > 0:
		step.Decision, step.Rules = Deny, denies
		step.Reason = fmt.Sprintf("selected by %s; no rule allows it, and %s may deny it", names, ciliumRuleNames(denies))
	case verdict == Blocked:
		step.Decision, step.Rules = Deny, isolators
		step.Reason = fmt.Sprintf("isolated by %s; no rule allows it", names)
	default:
		step.Decision, step.Rules = Undecided, append(append([]RuleRef{}, denies...), allows...)
		if len(step.Rules) == 0 {
			step.Rules = isolators
		}
		step.Reason = fmt.Sprintf("selected by %s; allowed or denied depending on %s", names, ciliumUncertain(pe.cilium, step.Rules))
	}
	return verdict, append([]Step{step}, open...)
}

// ciliumUncertain says what leaves the Cilium layer's answer open.
func ciliumUncertain(sel []ciliumSel, rules []RuleRef) string {
	var parts []string
	for _, s := range sel {
		if s.maybe {
			parts = append(parts, fmt.Sprintf("whether %s %s selects the pod (%s)", s.p.Ref.Name, s.r.Path, s.why))
		}
	}
	for _, r := range rules {
		if r.Rule >= 0 {
			parts = append(parts, r.Policy.Name+" "+r.Why)
		}
	}
	if len(parts) > 3 {
		parts = append(parts[:3], fmt.Sprintf("%d more", len(parts)-3))
	}
	return strings.Join(parts, "; ")
}

// ciliumNames names the NetworkPolicies and Cilium rules that select a pod.
func ciliumNames(nps []*model.NetworkPolicy, sel []ciliumSel) string {
	var parts []string
	for _, p := range nps {
		parts = append(parts, "NetworkPolicy "+p.Ref.Name)
	}
	for _, s := range sel {
		n := fmt.Sprintf("%s %s %s", s.p.Ref.Kind, s.p.Ref.Name, s.r.Path)
		if s.maybe {
			n += " (may select)"
		}
		parts = append(parts, n)
	}
	return strings.Join(parts, ", ")
}

// ciliumRuleNames names up to three rules, by their paths for Cilium rules.
func ciliumRuleNames(refs []RuleRef) string {
	var s []string
	for i, r := range refs {
		if i == 3 {
			s = append(s, fmt.Sprintf("%d more", len(refs)-3))
			break
		}
		switch {
		case r.Rule < 0:
			s = append(s, r.Policy.Name)
		case r.Policy.Kind == "NetworkPolicy":
			s = append(s, fmt.Sprintf("%s egress rule %d", r.Policy.Name, r.Rule))
		default:
			path, _, _ := strings.Cut(r.Why, ":")
			s = append(s, r.Policy.Name+" "+path)
		}
	}
	return strings.Join(s, ", ")
}

// ciliumHostStep says that host policies may decide for host-network pods.
func ciliumHostStep(ps []*model.CiliumPolicy) Step {
	refs := make([]RuleRef, len(ps))
	names := make([]string, len(ps))
	for i, p := range ps {
		refs[i] = RuleRef{Policy: p.Ref, Rule: -1, Source: p.Source}
		names[i] = p.Ref.Name
	}
	return Step{Layer: LayerCilium, Decision: Undecided, Rules: refs,
		Reason: fmt.Sprintf("CiliumClusterwideNetworkPolicy %s selects nodes (nodeSelector), so its egress rules apply to host-network pods; imdsguard does not evaluate host policies", strings.Join(names, ", "))}
}
