package nodeconfigtest

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// Render writes node configs as the readable text kept in golden files:
// a line per config, then its settings that are not Unset and what it
// refers to.
func Render(ncs []*model.NodeConfig) string {
	var b strings.Builder
	for _, nc := range ncs {
		fmt.Fprintf(&b, "%s %s cloud=%s cluster=%q labels=%s src=%s\n", nc.Kind, nc.Name, nc.Cloud, nc.Cluster, labels(nc.NodeLabels), nc.Source)
		if o := nc.AWS; o != nil {
			for _, s := range []struct {
				name string
				v    model.Value
			}{{"HttpEndpoint", o.HTTPEndpoint}, {"HttpTokens", o.HTTPTokens}, {"HopLimit", o.HopLimit},
				{"HttpProtocolIpv6", o.HTTPProtocolIPv6}, {"InstanceMetadataTags", o.InstanceTags}, {"State", o.State},
				{"EksctlDisableIMDSv1", o.EksctlDisableIMDSv1}, {"EksctlDisablePodIMDS", o.EksctlDisablePodIMDS}} {
				if s.v.State != model.Unset {
					fmt.Fprintf(&b, "  %s %s %q src=%s why=%q\n", s.name, s.v.State, s.v.Raw, s.v.Source, s.v.Why)
				}
			}
		}
		if r := nc.RefersTo; r != nil {
			fmt.Fprintf(&b, "  refersTo %q %q version=%q src=%s\n", r.Kind, r.Name, r.Version, r.Source)
		}
	}
	return b.String()
}

func labels(m model.Labels) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
