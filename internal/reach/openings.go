package reach

import "github.com/imdsguard/imdsguard/internal/model"

// Opening is an egress rule of a NetworkPolicy that allows a metadata
// target, or may allow it depending on how the CNI reads the rule.
type Opening struct {
	// Rule is the rule's index in spec.egress.
	Rule   int
	Target Target
	// Certain is false when the answer depends on the CNI (an ambiguous
	// ipBlock).
	Certain bool
	// Why says which peer and port let the traffic through.
	Why string
}

// Openings lists the metadata targets each egress rule of the policy
// opens, in rule order. A policy that does not govern egress opens
// nothing, and keep-open targets (services pods need) are not reported.
func Openings(np *model.NetworkPolicy, targets []Target) []Opening {
	if !np.Egress {
		return nil
	}
	var out []Opening
	for ri := range np.EgressRules {
		r := &np.EgressRules[ri]
		for ti := range targets {
			t := &targets[ti]
			if t.KeepOpen() {
				continue
			}
			m, why := ruleMatch(r, t)
			if m == no {
				continue
			}
			out = append(out, Opening{Rule: r.Index, Target: *t, Certain: m == yes, Why: why})
		}
	}
	return out
}
