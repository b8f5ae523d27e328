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
		ID:       "IMDS-005",
		Name:     "overbroad-link-local-block",
		Title:    "Metadata block also cuts off node-local services",
		Severity: Medium,
		Description: "The policy's except list covers more than the metadata endpoints: typically " +
			"169.254.0.0/16, which also holds the EKS Pod Identity agent (169.254.170.23), ECS task " +
			"credentials (169.254.170.2) and NodeLocal DNSCache (169.254.20.10). Pods it selects lose " +
			"DNS or their own pod identity credentials, and teams then remove the block altogether.",
		Remediation: "Except only the metadata addresses (169.254.169.254/32, fd00:ec2::254/128, and " +
			"your cloud's others), or add an explicit allow for the node-local services the pods need.",
		References: []Reference{mitreIMDS},
		Check:      checkOverbroad,
	})
}

func checkOverbroad(ctx *Context) []Finding {
	a := ctx.Analysis
	var out []Finding
	cache := map[*reach.WorkloadResult][]reach.Result{}
	for _, np := range ctx.Inventory.NetworkPolicies {
		if !np.Egress {
			continue
		}
		broken := map[string]bool{}
		var blockAt model.Source
		var raw []string
		affected := map[model.ObjectRef]bool{}
		for ti := range ctx.KeepOpen {
			t := &ctx.KeepOpen[ti]
			blocks := reach.Excepts(np, t)
			if len(blocks) == 0 {
				continue
			}
			for _, wr := range a.Selects[np] {
				res, ok := cache[wr]
				if !ok {
					res = a.Extra(wr, ctx.KeepOpen)
					cache[wr] = res
				}
				if res[ti].Verdict != reach.Blocked {
					continue
				}
				broken[fmt.Sprintf("%s %s", t.Endpoints[0].Service, t)] = true
				affected[wr.Workload.Ref] = true
				if blockAt.File == "" && blockAt.Cluster == "" {
					blockAt = blocks[0].Source
				}
				raw = append(raw, exceptsCovering(blocks, *t)...)
			}
		}
		if len(broken) == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: Medium,
			Object:   np.Ref,
			Source:   blockAt,
			Message: fmt.Sprintf("%s excepts %s, which also blocks %s for %d workload(s)",
				np.Ref, strings.Join(uniqSorted(raw), ", "), strings.Join(sortedKeys(broken), "; "), len(affected)),
		})
	}
	return out
}

func exceptsCovering(blocks []*model.IPBlock, t reach.Target) []string {
	var out []string
	for _, b := range blocks {
		for i, ex := range b.Except {
			if ex.Addr().Is4() == t.Addr.Is4() && ex.Contains(t.Addr) {
				out = append(out, b.RawExcept[i])
			}
		}
	}
	return out
}

func uniqSorted(s []string) []string {
	m := map[string]bool{}
	for _, v := range s {
		m[v] = true
	}
	out := make([]string, 0, len(m))
	for v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
