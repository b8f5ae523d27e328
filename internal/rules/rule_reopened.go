package rules

import (
	"fmt"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-004",
		Name:     "metadata-block-reopened",
		Title:    "Metadata block is re-opened by another egress rule",
		Severity: High,
		Description: "A NetworkPolicy excepts a metadata address from its egress allow, but another " +
			"rule that selects the same pods allows it. NetworkPolicies are allow-lists and the " +
			"allows of every policy that selects a pod are unioned, so the except protects nothing " +
			"for those pods.",
		Remediation: "Add the metadata addresses to the `except` list of the re-opening rule's " +
			"ipBlocks, or replace its empty `to` with explicit ipBlocks that carry the excepts. " +
			"Adding yet another deny policy cannot work.",
		References: []Reference{mitreIMDS},
		Check:      checkReopened,
	})
}

type reopenKey struct {
	blocker *model.NetworkPolicy
	opener  model.ObjectRef
	rule    int
}

type reopening struct {
	blockerAt model.Source
	openerAt  model.Source
	why       string
	targets   map[string]bool
	workloads map[model.ObjectRef]bool
}

func checkReopened(ctx *Context) []Finding {
	a := ctx.Analysis
	found := map[reopenKey]*reopening{}
	var order []reopenKey
	for _, np := range ctx.Inventory.NetworkPolicies {
		if !np.Egress {
			continue
		}
		for _, ti := range metadataTargets(a) {
			blocks := reach.Excepts(np, &a.Targets[ti])
			if len(blocks) == 0 {
				continue
			}
			for _, wr := range a.Selects[np] {
				for _, ref := range openingRules(wr.Results[ti]) {
					k := reopenKey{np, ref.Policy, ref.Rule}
					ro := found[k]
					if ro == nil {
						ro = &reopening{blockerAt: blocks[0].Source, openerAt: ref.Source, why: ref.Why,
							targets: map[string]bool{}, workloads: map[model.ObjectRef]bool{}}
						found[k] = ro
						order = append(order, k)
					}
					ro.targets[a.Targets[ti].String()] = true
					ro.workloads[wr.Workload.Ref] = true
				}
			}
		}
	}
	out := make([]Finding, 0, len(order))
	for _, k := range order {
		out = append(out, reopenFinding(k, found[k]))
	}
	return out
}

// openingRules returns the rules that allowed a Reachable result.
func openingRules(r reach.Result) []reach.RuleRef {
	if r.Verdict != reach.Reachable {
		return nil
	}
	var out []reach.RuleRef
	for _, s := range r.Trace {
		if s.Decision != reach.Allow || (s.Layer != reach.LayerNetworkPolicy && s.Layer != reach.LayerCilium) {
			continue
		}
		for _, r := range s.Rules {
			// The Cilium layer also names the NetworkPolicy rules that allow.
			if s.Layer == reach.LayerNetworkPolicy || r.Policy.Kind == "NetworkPolicy" {
				out = append(out, r)
			}
		}
	}
	return out
}

func reopenFinding(k reopenKey, ro *reopening) Finding {
	targets := sortedKeys(ro.targets)
	var wls []model.ObjectRef
	for w := range ro.workloads {
		wls = append(wls, w)
	}
	sort.Slice(wls, func(i, j int) bool { return wls[i].String() < wls[j].String() })
	opener := fmt.Sprintf("%s egress rule %d", k.opener, k.rule)
	if k.opener == k.blocker.Ref {
		opener = fmt.Sprintf("its own egress rule %d", k.rule)
	}
	return Finding{
		Severity: High,
		Object:   k.opener,
		Source:   ro.openerAt,
		Targets:  targets,
		Related: []Location{{Object: k.blocker.Ref, Source: ro.blockerAt,
			Note: "excepts " + strings.Join(targets, ", ") + " but is re-opened"}},
		Message: fmt.Sprintf("%s excepts %s, but %s re-opens it (%s) for %s",
			k.blocker.Ref, strings.Join(targets, ", "), opener, ro.why, joinRefs(wls)),
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
