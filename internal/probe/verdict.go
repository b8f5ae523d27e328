package probe

import (
	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// LayerProbe marks trace steps that come from a probe's answers rather
// than from the policy engine.
const LayerProbe reach.Layer = "Probe"

// TargetVerdict is what a probe's checks of one metadata target add up to.
type TargetVerdict struct {
	Target reach.Target
	// Verdict is Reachable when a check reached a metadata service, Blocked
	// when every check was refused or never connected, Unknown otherwise.
	Verdict reach.Verdict
	// Credentials is true when a check was served credentials.
	Credentials bool
	// Trace has one step per check.
	Trace []reach.Step
	// Results are the checks' answers.
	Results []Result
}

// checkVerdict is what one answer says of the target's reachability; ok is
// false when it says nothing (a name that did not resolve tells nothing of
// the address behind it).
func checkVerdict(c Class) (v reach.Verdict, d reach.Decision, ok bool) {
	switch c {
	case Credentials, Metadata:
		return reach.Reachable, reach.Allow, true
	case Refused, ProxyBlocked, Timeout, ConnRefused:
		return reach.Blocked, reach.Deny, true
	case DNSFailure:
		return reach.Blocked, reach.NoOpinion, false
	}
	return reach.Unknown, reach.Undecided, true
}

// Verdicts groups the report's results by metadata target (address, port
// and protocol, the unit the static verdicts use), in target order.
func (r *Report) Verdicts() []TargetVerdict {
	byID := map[string]endpoints.Endpoint{}
	for _, e := range endpoints.ForClouds() {
		byID[e.ID] = e
	}
	var eps []endpoints.Endpoint
	seen := map[string]bool{}
	for _, res := range r.Results {
		if e, ok := byID[res.Endpoint]; ok && !seen[e.ID] {
			seen[e.ID] = true
			eps = append(eps, e)
		}
	}
	targets := reach.Targets(eps)
	reach.SortTargets(targets)
	out := make([]TargetVerdict, len(targets))
	for i, t := range targets {
		tv := TargetVerdict{Target: t, Verdict: reach.Blocked}
		decided := false
		for _, res := range r.Results {
			if e, ok := byID[res.Endpoint]; !ok || e.Addr != t.Addr || e.Port != t.Port || e.Protocol != t.Protocol {
				continue
			}
			tv.Results = append(tv.Results, res)
			v, d, ok := checkVerdict(res.Class)
			tv.Trace = append(tv.Trace, reach.Step{Layer: LayerProbe, Decision: d,
				Reason: res.Check + ": " + string(res.Class) + ": " + res.Detail})
			if !ok {
				continue
			}
			decided = true
			tv.Verdict = max(tv.Verdict, v)
			tv.Credentials = tv.Credentials || res.Class == Credentials
		}
		if !decided {
			tv.Verdict = reach.Unknown
		}
		out[i] = tv
	}
	return out
}
