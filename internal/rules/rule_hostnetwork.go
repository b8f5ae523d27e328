package rules

func init() {
	mustRegister(&Rule{
		ID:       "IMDS-002",
		Name:     "host-network",
		Title:    "Workload uses the host network",
		Severity: High,
		Description: "A hostNetwork pod shares the node's network namespace. NetworkPolicy does not " +
			"apply to it, and the AWS IMDSv2 hop limit does not stop it, so it reaches the metadata " +
			"service exactly as the node does.",
		Remediation: "Drop `hostNetwork: true` unless the workload truly needs the node's network " +
			"(CNI agents, node exporters). Keep the exceptions in a few audited namespaces, and reject " +
			"hostNetwork elsewhere with an admission policy (`imdsguard generate` writes one).",
		References: []Reference{mitreIMDS, cisHostNw},
		Check:      checkHostNetwork,
	})
}

func checkHostNetwork(ctx *Context) []Finding {
	var out []Finding
	for _, w := range ctx.Inventory.Workloads {
		if !w.HostNetwork() {
			continue
		}
		out = append(out, Finding{
			Severity: High,
			Object:   w.Ref,
			Source:   w.Source,
			Message:  w.Ref.String() + " runs pods with hostNetwork: true, which NetworkPolicy cannot restrict",
		})
	}
	return out
}
