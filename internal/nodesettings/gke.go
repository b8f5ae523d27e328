package nodesettings

import (
	"fmt"

	"github.com/imdsguard/imdsguard/internal/model"
)

// gkeReach says whether a pod's metadata requests reach the Compute Engine
// metadata server (which serves the node's service account) or the GKE
// metadata server (which serves the pod's own workload identity).
type gkeReach int

const (
	reachesGCE gkeReach = iota
	reachesGKE
	reachUnknown
)

func evaluateGKE(g *model.GKEMetadata, class Class, family Family) Outcome {
	if family == IPv6 {
		return unknown("GKE: the IPv6 metadata endpoint is not covered by these rules", g.WorkloadMetadataMode.Source)
	}
	reach, why := gkePodReach(g)
	var o Outcome
	mode := g.WorkloadMetadataMode
	switch {
	case class == HostNetwork:
		reach = reachesGCE
		o = served("a hostNetwork pod's metadata requests are not redirected to the GKE metadata server, so the Compute Engine metadata server serves it the node's service account token ("+describe("workload metadata mode", mode)+")", mode.Source)
	case reach == reachesGKE:
		o = withheld(why+": the GKE metadata server answers pod-network pods with their own workload identity, never the node's service account, and conceals kube-env", mode.Source)
	case reach == reachesGCE:
		o = served(why+": pod-network pods reach the Compute Engine metadata server, which serves the node's service account token", mode.Source)
	default:
		o = unknown(why, mode.Source, g.WorkloadPool.Source)
	}
	o.LegacyEndpoints = legacyEndpoints(g.DisableLegacyEndpoints, reach)
	switch o.LegacyEndpoints {
	case On:
		o.Reason += "; disable-legacy-endpoints = false, so the legacy /0.1/ and /computeMetadata/v1beta1/ paths also answer without the Metadata-Flavor header"
		o.Sources = distinct(append(o.Sources, g.DisableLegacyEndpoints.Source))
	case Undetermined:
		o.Reason += "; whether the legacy /0.1/ and /computeMetadata/v1beta1/ paths answer (without the Metadata-Flavor header) is not known"
		o.Sources = distinct(append(o.Sources, g.DisableLegacyEndpoints.Source))
	}
	return o
}

// gkePodReach decides where a pod-network pod's metadata requests go, from
// the node pool's workload metadata mode (new or legacy field).
func gkePodReach(g *model.GKEMetadata) (gkeReach, string) {
	mode := g.WorkloadMetadataMode
	d := describe("workload metadata mode", mode)
	if mode.State == model.Unresolved {
		return reachUnknown, d + ": GKE_METADATA would withhold the node's credentials from pods, other modes would not"
	}
	switch mode.Raw {
	case "GKE_METADATA", "GKE_METADATA_SERVER":
		return reachesGKE, d
	case "GCE_METADATA", "EXPOSE":
		return reachesGCE, d
	case "SECURE":
		return reachesGCE, d + " (metadata concealment): it hides kube-env and the instance identity token from pod-network pods but still serves them the node's service account token"
	case "", "MODE_UNSPECIFIED", "UNSPECIFIED":
		switch g.WorkloadPool.State {
		case model.Unset:
			return reachesGCE, d + " and no workload pool on the cluster: the GKE metadata server can only run when Workload Identity is enabled on the cluster"
		case model.Unresolved:
			return reachUnknown, d + " and " + describe("workload pool", g.WorkloadPool) + ": what the node pool defaults to is not known"
		}
		return reachUnknown, d + " on a cluster with workload pool " + g.WorkloadPool.Raw + ": whether such a node pool defaults to GKE_METADATA is not documented clearly enough to rely on"
	}
	return reachUnknown, fmt.Sprintf("workload metadata mode %s is not a mode GKE documents", mode.Raw)
}

// legacyEndpoints says whether the legacy metadata paths are open to a pod
// that reaches the Compute Engine metadata server: closed when
// disable-legacy-endpoints is true or unset (GKE's default since 1.12).
// The GKE metadata server serves only the v1 API.
func legacyEndpoints(v model.Value, reach gkeReach) Toggle {
	if reach == reachesGKE {
		return Off
	}
	switch {
	case v.State == model.Unset || (v.State == model.Set && v.Raw == "true"):
		return Off
	case v.State == model.Set && v.Raw == "false" && reach == reachesGCE:
		return On
	}
	return Undetermined
}
