package rules

import (
	"fmt"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
)

// metadataTargets returns the indexes of the targets that are metadata
// endpoints (not keep-open services, should a caller mix them in).
func metadataTargets(a *reach.Analysis) []int {
	out := make([]int, 0, len(a.Targets))
	for i, t := range a.Targets {
		if !t.KeepOpen() {
			out = append(out, i)
		}
	}
	return out
}

// allowers returns the rules that allowed a result, as related locations.
func allowers(r reach.Result) []Location {
	var out []Location
	for _, s := range r.Trace {
		if s.Decision != reach.Allow || s.Layer != reach.LayerNetworkPolicy {
			continue
		}
		for _, ref := range s.Rules {
			out = append(out, Location{Object: ref.Policy, Source: ref.Source,
				Note: fmt.Sprintf("egress rule %d allows it: %s", ref.Rule, ref.Why)})
		}
	}
	return out
}

// decidingReason returns the reason of the trace's last step.
func decidingReason(r reach.Result) string {
	if len(r.Trace) == 0 {
		return ""
	}
	return r.Trace[len(r.Trace)-1].Reason
}

func joinRefs(refs []model.ObjectRef) string {
	s := make([]string, len(refs))
	for i, r := range refs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

func dedupLocations(ls []Location) []Location {
	if len(ls) < 2 {
		return ls
	}
	seen := make(map[Location]bool, len(ls))
	out := ls[:0:0]
	for _, l := range ls {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}
