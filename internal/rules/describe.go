package rules

import (
	"slices"
	"strconv"
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

// allowNotes are the policy layers whose allowing rules are related
// locations, with how each note says the rule let the traffic out.
var allowNotes = map[reach.Layer]string{
	reach.LayerNetworkPolicy: " allows it: ",
	reach.LayerCalico:        " allows it: ",
	reach.LayerCilium:        " allows it: ",
	reach.LayerAdmin:         " allows it, ahead of every NetworkPolicy: ",
}

// appendAllowers appends the rules that allowed a result to out.
func appendAllowers(out []Location, r reach.Result) []Location {
	for _, s := range r.Trace {
		what, ok := allowNotes[s.Layer]
		if s.Decision != reach.Allow || !ok {
			continue
		}
		for _, ref := range s.Rules {
			if ref.Rule < 0 {
				continue // a Calico step after every tier passed names no rule
			}
			note := "egress rule " + strconv.Itoa(ref.Rule) + what + ref.Why
			if s.Layer == reach.LayerCilium && ref.Policy.Kind != "NetworkPolicy" {
				note = ref.Why // a Cilium rule: "spec.egress[0]: why"
			}
			out = append(out, Location{Object: ref.Policy, Source: ref.Source, Note: note})
		}
	}
	return out
}

// decidingReason joins the reasons of the trace's steps: the network's and,
// when node settings were read, the node layer's.
func decidingReason(r reach.Result) string {
	reasons := make([]string, len(r.Trace))
	for i, s := range r.Trace {
		reasons[i] = s.Reason
	}
	return strings.Join(reasons, "; ")
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
	if len(ls) <= 8 { // the usual case: a quadratic scan beats a map
		out := ls[:0]
		for _, l := range ls {
			if !slices.Contains(out, l) {
				out = append(out, l)
			}
		}
		return out
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
