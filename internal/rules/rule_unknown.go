package rules

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-007",
		Name:     "verdict-unknown",
		Title:    "Metadata reachability could not be decided",
		Severity: Medium,
		Description: "Something that decides this workload's egress is outside what imdsguard " +
			"can decide: a policy kind it does not model yet (Cilium host policies, Cilium or Calico " +
			"policies of other versions), a rule that may or may not " +
			"match (an ambiguous ipBlock, a domain name, AdminNetworkPolicies of equal priority that " +
			"disagree, an AdminNetworkPolicy and a ClusterNetworkPolicy that disagree, a namespace whose labels are not in the input, " +
			"a Cilium rule with layer 7 rules, toFQDNs or toServices, a Calico rule with a destination selector), or input that failed to load. " +
			"imdsguard does not claim the endpoint is blocked when it has not shown it.",
		Remediation: "Read the trace (`imdsguard explain`) to see which object left the verdict open. " +
			"Fix input errors, or verify the datapath with `imdsguard probe`.",
		References: []Reference{mitreIMDS},
		Check:      checkUnknown,
	})
}

func checkUnknown(ctx *Context) []Finding {
	a := ctx.Analysis
	meta := metadataTargets(a)
	var out []Finding
	for _, wr := range a.Workloads {
		var open []string
		reason := ""
		for _, ti := range meta {
			r := wr.Results[ti]
			if r.Verdict != reach.Unknown {
				continue
			}
			open = append(open, a.Targets[ti].String())
			if reason == "" {
				reason = undecidedReason(r)
			}
		}
		if len(open) == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: Medium,
			Object:   wr.Workload.Ref,
			Source:   wr.Workload.Source,
			Targets:  open,
			Message: fmt.Sprintf("%s: reachability of %s is unknown: %s",
				wr.Workload.Ref, strings.Join(open, ", "), reason),
		})
	}
	return out
}

func undecidedReason(r reach.Result) string {
	var why []string
	for _, s := range r.Trace {
		if s.Decision == reach.Undecided {
			why = append(why, s.Reason)
		}
	}
	return strings.Join(why, "; ")
}
