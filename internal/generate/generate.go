package generate

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// Input is what Build works from: a scan's inventory and analysis.
type Input struct {
	Inventory *model.Inventory
	Analysis  *reach.Analysis
	// KeepOpen are the node-local services that must stay reachable.
	KeepOpen []reach.Target
	// Originals finds policies as written; nil means patches cannot be
	// made (the input was a scan report), and policies to patch are
	// reported instead.
	Originals Originals
}

// Set is everything Build produced, and what it could not close.
type Set struct {
	Artifacts []Artifact
	// Patches are the changes to existing policies, also present as
	// artifacts (the patched objects, and in directory output the patches).
	Patches []*Patch
	// Open lists what the generated NetworkPolicies cannot close, each with
	// the reason: hostNetwork workloads (closed by admission and node
	// settings instead), namespaces whose selectors are too many,
	// policies that could not be patched.
	Open []Gap
	// Exempt lists the workloads left alone because their namespace is
	// exempt.
	Exempt []model.ObjectRef
}

// Gap is something the generated NetworkPolicies leave open, and why.
type Gap struct {
	Object model.ObjectRef
	Source model.Source
	Why    string
	// HostNetwork marks a workload on the host network, which no
	// NetworkPolicy can close: an expected gap, closed by admission and
	// node settings instead.
	HostNetwork bool
}

// DenyAddresses returns the distinct metadata addresses of the targets,
// IPv4 first; keep-open targets are left out.
func DenyAddresses(targets []reach.Target) []netip.Addr {
	var out []netip.Addr
	for _, t := range targets {
		if !t.KeepOpen() {
			out = append(out, t.Addr)
		}
	}
	return dedupeAddrs(out)
}

// Exempt reports whether a namespace is exempt by name or label.
func (o *Options) Exempt(ns *model.Namespace) bool {
	if isExemptName(o, ns.Name) {
		return true
	}
	k, v := o.exemptLabel()
	return ns.Labels[k] == v
}

// Build generates the mitigations selected by include. When o.Deny is empty
// it is filled from the analysis targets.
func Build(in Input, o Options, include map[Group]bool) (*Set, error) {
	if len(o.Deny) == 0 {
		o.Deny = DenyAddresses(in.Analysis.Targets)
	}
	set := &Set{}
	inv := in.Inventory
	byNS := map[string][]*model.NetworkPolicy{}
	for _, p := range inv.NetworkPolicies {
		byNS[p.Ref.Namespace] = append(byNS[p.Ref.Namespace], p)
	}
	workloadsByNS := map[string][]*reach.WorkloadResult{}
	for _, wr := range in.Analysis.Workloads {
		ns := wr.Workload.Ref.Namespace
		workloadsByNS[ns] = append(workloadsByNS[ns], wr)
	}
	for _, name := range inv.NamespaceNames() {
		ns := inv.Namespaces[name]
		if o.Exempt(ns) {
			for _, wr := range workloadsByNS[name] {
				set.Exempt = append(set.Exempt, wr.Workload.Ref)
			}
			continue
		}
		for _, wr := range workloadsByNS[name] {
			if wr.Workload.HostNetwork() {
				set.Open = append(set.Open, Gap{Object: wr.Workload.Ref, Source: wr.Workload.Source, HostNetwork: true,
					Why: "uses the host network, which NetworkPolicy does not govern: the admission policy rejects it from now on, and the node settings decide what it obtains"})
			}
		}
		if include[GroupNamespace] {
			nps, ok := namespacePolicies(name, byNS[name], in.KeepOpen, &o)
			if !ok {
				set.Open = append(set.Open, Gap{Object: model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: name}, Source: ns.Source,
					Why: fmt.Sprintf("its egress policies' selectors need more than %d generated policies to cover the pods they leave out; write a policy by hand", maxComplementSelectors)})
			}
			for _, np := range nps {
				set.Artifacts = append(set.Artifacts, Artifact{Group: GroupNamespace,
					File:   fmt.Sprintf("namespace/%s.%s.yaml", name, np.Name),
					Object: toUnstructured(np), Why: namespaceWhy(np, unisolated(workloadsByNS[name]), &o)})
			}
		}
		if include[GroupPatch] {
			patchNamespace(set, in, byNS[name], &o)
		}
	}
	if err := addGroups(set, &o, include, inv); err != nil {
		return nil, err
	}
	return set, nil
}

// addGroups adds the groups that do not depend on the reachability
// analysis. inv is nil when generating from a report.
func addGroups(set *Set, o *Options, include map[Group]bool, inv *model.Inventory) error {
	for _, g := range Groups {
		if !include[g] {
			continue
		}
		var arts []Artifact
		var err error
		switch g {
		case GroupCluster:
			arts, err = Cluster(o)
		case GroupAdmission:
			if arts, err = Admission(o); err == nil {
				arts, err = admissionForms(arts, o.AdmissionKinds)
			}
		case GroupDetection:
			arts, err = Detection(o)
		case GroupNode:
			if inv == nil {
				err = fmt.Errorf("node fixes need the scanned inputs: a scan report does not hold the node settings")
			} else {
				arts = NodeFixes(inv)
			}
		}
		if err != nil {
			return err
		}
		set.Artifacts = append(set.Artifacts, arts...)
	}
	return nil
}

// admissionForms keeps the admission artifacts of the chosen forms.
func admissionForms(arts []Artifact, kinds []string) ([]Artifact, error) {
	if len(kinds) == 0 {
		return arts, nil
	}
	groups := map[string]bool{}
	for _, k := range kinds {
		gs, ok := admissionGroups[k]
		if !ok {
			return nil, fmt.Errorf("unknown admission form %q (want %s)", k, strings.Join(AdmissionKindNames, ", "))
		}
		for _, g := range gs {
			groups[g] = true
		}
	}
	var out []Artifact
	for _, a := range arts {
		if a.Object != nil && groups[a.Object.GroupVersionKind().Group] {
			out = append(out, a)
		}
	}
	return out, nil
}

// unisolated names the pod-network workloads that no egress policy
// isolates.
func unisolated(ws []*reach.WorkloadResult) []string {
	var out []string
	for _, wr := range ws {
		for t, tp := range wr.Workload.Templates {
			if !tp.HostNetwork && len(wr.TemplatePolicies[t]) == 0 {
				out = append(out, strings.ToLower(wr.Workload.Ref.Kind)+"/"+wr.Workload.Ref.Name)
				break
			}
		}
	}
	return out
}

// patchNamespace patches every egress policy of a namespace with a rule
// that opens a metadata address. Every policy is checked, not only those
// selecting a workload seen now: a pod created later meets them too.
func patchNamespace(set *Set, in Input, policies []*model.NetworkPolicy, o *Options) {
	var metadata []reach.Target
	for _, t := range in.Analysis.Targets {
		if !t.KeepOpen() {
			metadata = append(metadata, t)
		}
	}
	keepOpen := map[*reach.WorkloadResult][]reach.Result{}
	for _, np := range policies {
		if !np.Egress {
			continue
		}
		rules := openingRules(np, metadata)
		carve := cutOff(in, np, keepOpen)
		if len(rules) == 0 && len(carve) == 0 {
			continue
		}
		addPatch(set, np, rules, carve, in.KeepOpen, o, in.Originals)
	}
}

// openingRules returns the indexes of the egress rules that open (or may
// open) any of the targets.
func openingRules(np *model.NetworkPolicy, targets []reach.Target) []int {
	var out []int
	for ri := range np.EgressRules {
		for ti := range targets {
			if reach.RuleOpens(&np.EgressRules[ri], &targets[ti]) {
				out = append(out, np.EgressRules[ri].Index)
				break
			}
		}
	}
	return out
}

// addPatch patches one policy and adds it to the set, or records why it
// cannot be patched.
func addPatch(set *Set, np *model.NetworkPolicy, rules []int, carve, keepOpen []reach.Target, o *Options, originals Originals) {
	if originals == nil || np.Source.Cluster != "" && np.Source.File == "" && isFileOriginals(originals) {
		set.Open = append(set.Open, Gap{Object: np.Ref, Source: np.Source,
			Why: "opens metadata or cuts off a node-local service; run generate on the manifests or the cluster to get a patch"})
		return
	}
	orig, err := originals.Original(np)
	if err == nil {
		var p *Patch
		if p, err = patchPolicy(np, orig, rules, o.Deny, carve, keepOpen); err == nil {
			set.Patches = append(set.Patches, p)
			set.Artifacts = append(set.Artifacts, Artifact{Group: GroupPatch,
				File:   fmt.Sprintf("patched/%s.%s.yaml", np.Ref.Namespace, np.Ref.Name),
				Object: p.Patched, Why: fmt.Sprintf("%s, patched: %s.", np.Ref.Name, strings.Join(p.Changes, "; "))})
			return
		}
	}
	set.Open = append(set.Open, Gap{Object: np.Ref, Source: np.Source, Why: "cannot be patched: " + err.Error()})
}

func isFileOriginals(o Originals) bool {
	_, ok := o.(*FileOriginals)
	return ok
}

// cutOff returns the node-local services that an except of the policy
// covers and that some workload it selects cannot (or may not) reach; rule
// IMDS-005 reports the certain ones. seen holds each workload's verdicts for
// the node-local services, evaluated once for all the policies selecting it.
func cutOff(in Input, np *model.NetworkPolicy, seen map[*reach.WorkloadResult][]reach.Result) []reach.Target {
	var out []reach.Target
	for ti := range in.KeepOpen {
		t := &in.KeepOpen[ti]
		if len(reach.Excepts(np, t)) == 0 {
			continue
		}
		for _, wr := range in.Analysis.Selects[np] {
			// Unknown counts: an ambiguous block elsewhere in the policy may
			// hide the cut, and the patch rewrites such blocks.
			rs, ok := seen[wr]
			if !ok {
				rs = in.Analysis.Extra(wr, in.KeepOpen)
				seen[wr] = rs
			}
			if rs[ti].Verdict != reach.Reachable {
				out = append(out, *t)
				break
			}
		}
	}
	return out
}

// isExemptName reports whether a namespace is exempt by name.
func isExemptName(o *Options, ns string) bool {
	for _, n := range o.ExemptNamespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// dedupeAddrs sorts addresses, IPv4 first, and drops repeats.
func dedupeAddrs(as []netip.Addr) []netip.Addr {
	sort.Slice(as, func(i, j int) bool {
		if as[i].Is4() != as[j].Is4() {
			return as[i].Is4()
		}
		return as[i].Less(as[j])
	})
	var out []netip.Addr
	for i, a := range as {
		if i == 0 || a != as[i-1] {
			out = append(out, a)
		}
	}
	return out
}
