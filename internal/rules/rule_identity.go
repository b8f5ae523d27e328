package rules

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-009",
		Name:     "own-identity-node-reachable",
		Title:    "Workload has its own cloud identity but can still reach the node's",
		Severity: High,
		Description: "The workload's ServiceAccount gives it a cloud identity of its own (IRSA, GKE " +
			"Workload Identity, Azure Workload Identity), which suggests someone meant to keep it " +
			"off the node's credentials. Per-pod identity adds credentials; it does not take the " +
			"node's away. The metadata endpoint is still reachable, so a compromised pod can act " +
			"as the node as well as as itself.",
		Remediation: "Close the metadata endpoint for these pods as well: an egress NetworkPolicy " +
			"that excepts the metadata addresses, IMDSv2 with a hop limit of 1 on AWS, or the GKE " +
			"metadata server (GKE_METADATA) on GKE.",
		References: []Reference{mitreIMDS},
		Check:      checkIdentity,
	})
}

func checkIdentity(ctx *Context) []Finding {
	a := ctx.Analysis
	sas := model.ServiceAccountIndex(ctx.Inventory.ServiceAccounts)
	meta := metadataTargets(a)
	var out []Finding
	for _, wr := range a.Workloads {
		id := model.OwnIdentity(wr.Workload, sas)
		if id == "" {
			continue
		}
		var open []string
		for _, ti := range meta {
			if wr.Results[ti].Verdict == reach.Reachable {
				open = append(open, a.Targets[ti].String())
			}
		}
		if len(open) == 0 {
			continue
		}
		out = append(out, Finding{
			Severity: High,
			Object:   wr.Workload.Ref,
			Source:   wr.Workload.Source,
			Targets:  open,
			Message: fmt.Sprintf("%s has its own identity (%s) but can still reach %s, and with it the node's credentials",
				wr.Workload.Ref, id, strings.Join(open, ", ")),
		})
	}
	return out
}
