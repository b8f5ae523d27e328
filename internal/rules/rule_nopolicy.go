package rules

import (
	"fmt"

	"github.com/imdsguard/imdsguard/internal/model"
)

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-003",
		Name:     "namespace-without-egress-policy",
		Title:    "Namespace has workloads but no egress NetworkPolicy",
		Severity: Medium,
		Description: "No NetworkPolicy in this namespace governs egress, so every pod in it may " +
			"connect anywhere, the metadata service included.",
		Remediation: "Add an egress NetworkPolicy that selects every pod (`podSelector: {}`) and " +
			"allows egress except to the metadata addresses, keeping DNS open. " +
			"`imdsguard generate` writes one that fits the namespace.",
		References: []Reference{mitreIMDS, cisNetpol},
		Check:      checkNoPolicy,
	})
}

func checkNoPolicy(ctx *Context) []Finding {
	inv := ctx.Inventory
	hasEgress := map[string]bool{}
	for _, np := range inv.NetworkPolicies {
		if np.Egress {
			hasEgress[np.Ref.Namespace] = true
		}
	}
	first := map[string]*model.Workload{}
	count := map[string]int{}
	for _, w := range inv.Workloads {
		if w.HostNetwork() {
			continue
		}
		ns := w.Ref.Namespace
		count[ns]++
		if first[ns] == nil {
			first[ns] = w
		}
	}
	var out []Finding
	for _, name := range inv.NamespaceNames() {
		if hasEgress[name] || count[name] == 0 {
			continue
		}
		ns := inv.Namespaces[name]
		src := ns.Source
		if !ns.Declared {
			src = first[name].Source
		}
		out = append(out, Finding{
			Severity: Medium,
			Object:   model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: name},
			Source:   src,
			Message: fmt.Sprintf("namespace %s has %d workload(s) and no NetworkPolicy governs their egress",
				name, count[name]),
		})
	}
	return out
}
