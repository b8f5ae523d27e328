package rules

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-006",
		Name:     "ipv6-metadata-open",
		Title:    "IPv6 metadata endpoint open while IPv4 is blocked",
		Severity: High,
		Description: "The IPv4 metadata address is blocked for this workload but the cloud's IPv6 " +
			"metadata address (fd00:ec2::254 on AWS Nitro) is not. On a dual-stack or IPv6 cluster " +
			"the credentials are one address away.",
		Remediation: "Block the IPv6 endpoint too: an ipBlock of ::/0 with except fd00:ec2::254/128 " +
			"(or drop ::/0 from the allow), alongside 0.0.0.0/0 with except 169.254.169.254/32.",
		References: []Reference{mitreIMDS},
		Check:      checkIPv6,
	})
}

func checkIPv6(ctx *Context) []Finding {
	a := ctx.Analysis
	meta := metadataTargets(a)
	clouds := endpoints.Clouds()
	var out []Finding
	for _, wr := range a.Workloads {
		var open []string
		for _, c := range clouds {
			v4, v6 := familyVerdicts(a, meta, wr, c)
			if v4 == reach.Blocked && v6.ok {
				open = append(open, v6.target)
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
			Message: fmt.Sprintf("%s is blocked from the IPv4 metadata address but can reach %s",
				wr.Workload.Ref, strings.Join(open, ", ")),
		})
	}
	return out
}

type openV6 struct {
	ok     bool
	target string
}

// familyVerdicts returns the cloud's worst IPv4 metadata verdict and the
// first reachable IPv6 metadata target.
func familyVerdicts(a *reach.Analysis, meta []int, wr *reach.WorkloadResult, c endpoints.Cloud) (reach.Verdict, openV6) {
	v4, seen4 := reach.Blocked, false
	var v6 openV6
	for _, ti := range meta {
		t := &a.Targets[ti]
		if !servesCloud(t, c) {
			continue
		}
		v := wr.Results[ti].Verdict
		if t.Addr.Is4() {
			seen4 = true
			v4 = max(v4, v)
		} else if v == reach.Reachable && !v6.ok {
			v6 = openV6{ok: true, target: t.String()}
		}
	}
	if !seen4 {
		return reach.Unknown, v6
	}
	return v4, v6
}

func servesCloud(t *reach.Target, c endpoints.Cloud) bool {
	for _, e := range t.Endpoints {
		if e.Cloud == c {
			return true
		}
	}
	return false
}
