package rules

import (
	"net/netip"
	"slices"
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
	// Results share their traces, so the rules behind them are described
	// once per trace rather than once per workload.
	described := map[traceSet]related{}
	shared := locationSets{}
	out := make([]Finding, 0, len(a.Workloads))
	for _, wr := range a.Workloads {
		var key traceSet
		n := 0
		for i, ti := range meta {
			if r := wr.Results[ti]; r.Verdict == reach.Reachable {
				if n < len(key.steps) {
					key.steps[n] = &r.Trace[0]
				}
				key.targets |= 1 << (i % 64)
				n++
			}
		}
		if n == 0 {
			continue
		}
		rel, ok := described[key]
		if !ok || n > len(key.steps) || len(meta) > 64 {
			rel = describeReachable(a, wr, meta)
			rel.locations = shared.intern(rel.locations)
			described[key] = rel
		}
		open, reason := rel.targets, rel.reason
		sev := High
		if wr.Workload.HostNetwork() {
			sev = Critical
		}
		out = append(out, Finding{
			Severity: sev,
			Object:   wr.Workload.Ref,
			Source:   wr.Workload.Source,
			Targets:  open,
			Related:  rel.locations,
			Message:  wr.Workload.Ref.String() + " can reach " + strings.Join(open, ", ") + ": " + reason,
			// Empty unless an admin policy let it out: the rule's then.
			Remediation: rel.remediation,
		})
	}
	return out
}

// traceSet identifies the traces behind a workload's Reachable verdicts.
// Workloads with the same traces get the same description, shared.
type traceSet struct {
	steps   [4]*reach.Step
	targets uint64
}

type related struct {
	targets   []string
	locations []Location
	reason    string
	// remediation is the finding's own, when the rule's does not fit (an
	// admin policy let the traffic out).
	remediation string
}

func describeReachable(a *reach.Analysis, wr *reach.WorkloadResult, meta []int) related {
	var rel related
	var locs []Location
	var addrs []netip.Addr
	var byAdmin *reach.Result
	for _, ti := range meta {
		r := wr.Results[ti]
		if r.Verdict != reach.Reachable {
			continue
		}
		rel.targets = append(rel.targets, a.Targets[ti].String())
		addrs = append(addrs, a.Targets[ti].Addr)
		locs = appendAllowers(locs, r)
		if rel.reason == "" {
			rel.reason = decidingReason(r)
		}
		if byAdmin == nil && len(adminAllowers(r)) > 0 {
			byAdmin = &wr.Results[ti]
		}
	}
	rel.locations = dedupLocations(locs)
	if byAdmin != nil {
		rel.remediation = AdminAllowAdvice(*byAdmin, addrs)
	}
	return rel
}

// locationSets shares equal lists of related locations: in a namespace,
// workloads that meet different policies are mostly let out by the same
// few rules.
type locationSets map[string][]Location

// intern returns a list equal to ls, shared with every equal list before,
// and without spare capacity.
func (s locationSets) intern(ls []Location) []Location {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Object.Key())
		b.WriteByte(0)
		b.WriteString(l.Source.String())
		b.WriteByte(0)
		b.WriteString(l.Note)
		b.WriteByte(0)
	}
	if prev, ok := s[b.String()]; ok {
		return prev
	}
	ls = slices.Clone(ls)
	s[b.String()] = ls
	return ls
}
