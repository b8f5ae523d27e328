package rules

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/reach"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-001",
		Name:     "metadata-reachable",
		Title:    "Workload can reach a cloud metadata endpoint",
		Severity: High,
		SeverityNote: "Critical when the workload uses the host network: nothing in the " +
			"cluster can then stand between it and the node's credentials.",
		Description: "Pods of this workload can open a connection to an instance metadata " +
			"endpoint. From there a compromised container, or an SSRF bug in the application, " +
			"can read the node's cloud credentials and user-data.",
		Remediation: "Isolate the pods for egress and make sure no egress rule that selects them " +
			"allows the metadata addresses: use ipBlock 0.0.0.0/0 with except 169.254.169.254/32 " +
			"(and ::/0 with except fd00:ec2::254/128 on dual-stack clusters) instead of an empty `to`. " +
			"`imdsguard generate` writes such policies.",
		References: []Reference{mitreIMDS},
		Check:      checkReachable,
	})
}

func checkReachable(ctx *Context) []Finding {
	a := ctx.Analysis
	meta := metadataTargets(a)
	var out []Finding
	for _, wr := range a.Workloads {
		var open []string
		var related []Location
		reason := ""
		for _, ti := range meta {
			r := wr.Results[ti]
			if r.Verdict != reach.Reachable {
				continue
			}
			open = append(open, a.Targets[ti].String())
			related = append(related, allowers(r)...)
			if reason == "" {
				reason = decidingReason(r)
			}
		}
		if len(open) == 0 {
			continue
		}
		sev := High
		if wr.Workload.HostNetwork() {
			sev = Critical
		}
		out = append(out, Finding{
			Severity: sev,
			Object:   wr.Workload.Ref,
			Source:   wr.Workload.Source,
			Targets:  open,
			Related:  dedupLocations(related),
			Message:  fmt.Sprintf("%s can reach %s: %s", wr.Workload.Ref, strings.Join(open, ", "), reason),
		})
	}
	return out
}
