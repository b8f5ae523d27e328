package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
)

// AdminDenyAdvice says how to close what an Allow or Accept rule of an
// admin policy (AdminNetworkPolicy, Admin-tier ClusterNetworkPolicy) lets
// out, for the metadata networks nets.
func AdminDenyAdvice(nets []netip.Prefix) string {
	s := make([]string, len(nets))
	for i, p := range nets {
		s[i] = p.String()
	}
	return fmt.Sprintf("add a Deny rule whose networks are the metadata addresses (%s) above the rule, in this policy or in an admin policy "+
		"of higher precedence (a lower priority value), or narrow the rule's networks so that none contains a metadata address; "+
		"to let one workload through, select only a namespace that opted out", strings.Join(s, ", "))
}

// AdminAllowAdvice is the remediation of a Reachable result that an
// admin policy's Allow or Accept let out, naming the rules; "" when the
// result was not decided so. addrs are the metadata addresses reached.
func AdminAllowAdvice(r reach.Result, addrs []netip.Addr) string {
	refs := adminAllowers(r)
	if len(refs) == 0 {
		return ""
	}
	names := make([]string, len(refs))
	for i, ref := range refs {
		names[i] = fmt.Sprintf("%s %s egress rule %d", ref.Policy.Kind, ref.Policy.Name, ref.Rule)
	}
	nets := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		if p := netip.PrefixFrom(a, a.BitLen()); !slices.Contains(nets, p) {
			nets = append(nets, p)
		}
	}
	slices.SortFunc(nets, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return fmt.Sprintf("The traffic is let out by %s, an admin policy rule that is decided before every NetworkPolicy: "+
		"no NetworkPolicy, and none that `imdsguard generate` writes per namespace, can close it. To fix it, %s.",
		strings.Join(names, ", "), AdminDenyAdvice(nets))
}

// adminAllowers returns the admin rules that let a Reachable result out.
func adminAllowers(r reach.Result) []reach.RuleRef {
	if r.Verdict != reach.Reachable {
		return nil
	}
	for _, s := range r.Trace {
		if s.Layer == reach.LayerAdmin && s.Decision == reach.Allow {
			return s.Rules
		}
	}
	return nil
}
