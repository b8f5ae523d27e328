package generate

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/report"
)

// IsReport reports whether data is a scan's JSON report.
func IsReport(data []byte) bool {
	var head struct {
		SchemaVersion string `json:"schemaVersion"`
	}
	return json.Unmarshal(data, &head) == nil && head.SchemaVersion == report.SchemaVersion
}

// FromReport generates from a scan's JSON report instead of the inputs. A
// report holds verdicts, traces and sources, but not the policies' selectors
// and rules, so it yields less:
//   - a namespace policy (selecting every pod) only where no workload is
//     isolated by an egress policy; a namespace where some are is listed as
//     open, since the complement of its policies' selectors cannot be built;
//   - patches for the rules that the traces show allowing a metadata
//     address, read again from the files the report points at (a report of
//     a live cluster points at none: those policies are listed);
//   - no carve-outs for node-local services cut off by an except (the
//     report does not say which except), and exemption by namespace name
//     only (it does not hold namespace labels);
//   - no proof: there is no inventory to evaluate again.
func FromReport(doc *report.Document, o Options, include map[Group]bool, originals Originals) (*Set, error) {
	if doc.SchemaVersion != report.SchemaVersion {
		return nil, fmt.Errorf("not a scan report: schemaVersion %q, want %q", doc.SchemaVersion, report.SchemaVersion)
	}
	if len(o.Deny) == 0 {
		for _, t := range doc.Targets {
			if t.KeepOpen {
				continue
			}
			a, err := netip.ParseAddr(t.Address)
			if err != nil {
				return nil, fmt.Errorf("report target %s: %v", t.ID, err)
			}
			o.Deny = append(o.Deny, a)
		}
		o.Deny = dedupeAddrs(o.Deny)
	}
	var clouds []endpoints.Cloud
	for _, c := range doc.Clouds {
		cl, err := endpoints.ParseCloud(c)
		if err != nil {
			return nil, fmt.Errorf("report cloud %q: %v", c, err)
		}
		clouds = append(clouds, cl)
	}
	keepOpen := reach.Targets(endpoints.KeepOpen(clouds...))
	reach.SortTargets(keepOpen)

	set := &Set{}
	byNS := map[string][]*report.Workload{}
	for i := range doc.Workloads {
		w := &doc.Workloads[i]
		byNS[w.Object.Namespace] = append(byNS[w.Object.Namespace], w)
	}
	type policyRules struct {
		np    *model.NetworkPolicy
		rules map[int]bool
	}
	patches := map[string]*policyRules{}
	for _, ns := range doc.Namespaces {
		if isExemptName(&o, ns) {
			for _, w := range byNS[ns] {
				set.Exempt = append(set.Exempt, w.Object)
			}
			continue
		}
		isolated, open := 0, []string{}
		for _, w := range byNS[ns] {
			if w.HostNetwork {
				set.Open = append(set.Open, Gap{Object: w.Object, Source: w.Source, HostNetwork: true, Why: hostNetworkWhy + ", which NetworkPolicy does not govern"})
				continue
			}
			if len(w.Policies) > 0 {
				isolated++
			} else {
				open = append(open, w.Object.Kind+"/"+w.Object.Name)
			}
			for _, v := range w.Verdicts {
				for _, st := range v.Trace {
					if (st.Layer != reach.LayerNetworkPolicy && st.Layer != reach.LayerCilium) || (st.Decision != reach.Allow && st.Decision != reach.Undecided) {
						continue
					}
					for _, rr := range st.Rules {
						if rr.Rule < 0 || (st.Layer == reach.LayerCilium && rr.Policy.Kind != "NetworkPolicy") {
							continue // the Cilium layer also names Cilium rules
						}
						key := rr.Policy.Namespace + "/" + rr.Policy.Name
						pr := patches[key]
						if pr == nil {
							pr = &policyRules{np: &model.NetworkPolicy{Ref: rr.Policy, Source: model.Source{File: rr.Source.File, Cluster: rr.Source.Cluster}}, rules: map[int]bool{}}
							patches[key] = pr
						}
						pr.rules[rr.Rule] = true
					}
				}
			}
		}
		if !include[GroupNamespace] || len(open) == 0 {
			continue
		}
		if isolated > 0 {
			set.Open = append(set.Open, Gap{Object: model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: ns},
				Why: "some of its pods are isolated by egress policies whose selectors a report does not hold; run generate on the inputs or the cluster"})
			continue
		}
		nps, _ := namespacePolicies(ns, nil, keepOpen, &o)
		for _, np := range nps {
			set.Artifacts = append(set.Artifacts, Artifact{Group: GroupNamespace, File: fmt.Sprintf("namespace/%s.%s.yaml", ns, np.Name),
				Object: toUnstructured(np), Why: namespaceWhy(np, open, &o)})
		}
	}
	if include[GroupPatch] {
		keys := make([]string, 0, len(patches))
		for k := range patches {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			pr := patches[k]
			var rules []int
			for r := range pr.rules {
				rules = append(rules, r)
			}
			sort.Ints(rules)
			addPatch(set, pr.np, rules, nil, nil, &o, originals)
		}
	}
	if err := addGroups(set, &o, include, nil); err != nil {
		return nil, err
	}
	return set, nil
}
