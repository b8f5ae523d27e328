package protection

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
)

// FixHint says how to close a re-opening rule.
const FixHint = "add each address as a /32 (IPv4) or /128 (IPv6) to the except list of the ipBlock that contains it, " +
	"or replace an empty `to` with ipBlocks that except them (`imdsguard fix` shows the patch)"

// DescribeOpenings renders the openings of one policy, rule by rule:
// "spec.egress[0] allows 169.254.169.254:80/TCP (ipBlock 0.0.0.0/0 contains 169.254.169.254, ...)".
func DescribeOpenings(openings []reach.Opening) string {
	var parts []string
	for i := 0; i < len(openings); {
		j := i
		var targets []string
		for ; j < len(openings) && openings[j].Rule == openings[i].Rule; j++ {
			o := openings[j]
			t := o.Target.String()
			if !o.Certain {
				t += " (depending on the CNI)"
			}
			targets = append(targets, t)
		}
		parts = append(parts, fmt.Sprintf("spec.egress[%d] allows %s (%s)", openings[i].Rule, strings.Join(targets, ", "), openings[i].Why))
		i = j
	}
	return strings.Join(parts, "; ")
}

// CountRules counts the distinct rules of openings in rule order.
func CountRules(openings []reach.Opening) int {
	n := 0
	for i := range openings {
		if i == 0 || openings[i].Rule != openings[i-1].Rule {
			n++
		}
	}
	return n
}
