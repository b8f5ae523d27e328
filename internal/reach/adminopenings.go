package reach

import (
	"cmp"
	"slices"

	"github.com/imdsguard/imdsguard/internal/model"
)

// AdminOpenings lists the metadata targets that an Admin-tier policy
// (AdminNetworkPolicy, or ClusterNetworkPolicy in the Admin tier) lets out
// with an Allow or Accept rule, in rule order: for each target, the rules
// are walked as the datapath does, and an Allow or Accept that may be the
// first matching rule opens it. Such a rule is decided before every
// NetworkPolicy, so no namespace policy can close what it opens. A
// baseline policy opens nothing here: it only applies to pods no
// NetworkPolicy isolates. Keep-open targets are not reported.
func AdminOpenings(p *model.AdminPolicy, targets []Target) []Opening {
	if p.Baseline {
		return nil
	}
	var out []Opening
	for ti := range targets {
		t := &targets[ti]
		if t.KeepOpen() {
			continue
		}
		certain := true // no earlier rule may have matched first
		for ri := range p.Egress {
			r := &p.Egress[ri]
			m, why := adminRuleMatch(r, t)
			if m == no {
				continue
			}
			if r.Action.Allows() {
				out = append(out, Opening{Rule: r.Index, Target: *t, Certain: certain && m == yes, Why: why})
			}
			if m == yes {
				break
			}
			certain = false
		}
	}
	slices.SortStableFunc(out, func(a, b Opening) int { return cmp.Compare(a.Rule, b.Rule) })
	return out
}
