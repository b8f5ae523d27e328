package terraform

import (
	"fmt"
	"sort"
	"strings"

	"github.com/imdsguard/imdsguard/internal/model"
)

// render writes a result as the readable text kept in golden files.
func render(res *Result) string {
	var b strings.Builder
	for _, c := range res.Configs {
		fmt.Fprintf(&b, "%s %s (%s) at %s\n", c.Kind, c.Name, c.Cloud, c.Source)
		if c.Cluster != "" {
			fmt.Fprintf(&b, "  cluster: %s\n", c.Cluster)
		}
		if len(c.NodeLabels) > 0 {
			keys := make([]string, 0, len(c.NodeLabels))
			for k := range c.NodeLabels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, "  label %s=%s\n", k, c.NodeLabels[k])
			}
		}
		if r := c.RefersTo; r != nil {
			fmt.Fprintf(&b, "  refers to: %s %s", r.Kind, r.Name)
			if r.Version != "" {
				fmt.Fprintf(&b, " version %s", r.Version)
			}
			fmt.Fprintf(&b, " at %s\n", r.Source)
		}
		if a := c.AWS; a != nil {
			value(&b, "http_endpoint", a.HTTPEndpoint)
			value(&b, "http_tokens", a.HTTPTokens)
			value(&b, "http_put_response_hop_limit", a.HopLimit)
			value(&b, "http_protocol_ipv6", a.HTTPProtocolIPv6)
			value(&b, "instance_metadata_tags", a.InstanceTags)
		}
		if g := c.GKE; g != nil {
			value(&b, "workload_metadata_mode", g.WorkloadMetadataMode)
			value(&b, "disable_legacy_endpoints", g.DisableLegacyEndpoints)
			value(&b, "workload_pool", g.WorkloadPool)
		}
		if a := c.AKS; a != nil {
			value(&b, "oidc_issuer_enabled", a.OIDCIssuerEnabled)
			value(&b, "workload_identity_enabled", a.WorkloadIdentityEnabled)
		}
	}
	for _, e := range res.Errors {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(&b, "skipped: %s\n", s)
	}
	return b.String()
}

func value(b *strings.Builder, name string, v model.Value) {
	fmt.Fprintf(b, "  %s: %s", name, v.State)
	if v.State == model.Set {
		fmt.Fprintf(b, " %q", v.Raw)
	}
	fmt.Fprintf(b, " at %s", v.Source)
	if v.Why != "" {
		fmt.Fprintf(b, " (%s)", v.Why)
	}
	b.WriteString("\n")
}
