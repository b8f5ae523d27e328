package rules

// The rules of `imdsguard probe`. Their findings come from a probe's
// answers (package probe), not from a scan's context, so their checks find
// nothing in a scan; they are registered so that every format describes
// them, --fail-on counts them like the rest, and docs/rules.md lists them.
const (
	DatapathDisagreesID = "IMDS-013"
	ProbeCredentialsID  = "IMDS-014"
)

func init() {
	mustRegister(&Rule{
		ID:       DatapathDisagreesID,
		Name:     "datapath-disagrees",
		Title:    "The datapath disagrees with the static verdict",
		Severity: High,
		SeverityNote: "critical when the static verdict is Blocked and the probe was served credentials; " +
			"high when it reached the metadata service without credentials; low when the static " +
			"verdict is Reachable and the probe was kept out.",
		Description: "`imdsguard probe` ran a pod where the workload runs, wearing its labels, ServiceAccount " +
			"and hostNetwork setting, and what the pod met differs from what the policies say. A probe " +
			"that reaches a metadata service the policies block means the policies are not enforced: " +
			"a CNI that does not implement NetworkPolicy, a proxy or DNAT rule in front of the policy, " +
			"a host route. A probe kept out of a service the policies leave open means something the " +
			"scan does not see is blocking it (a node proxy, a cloud firewall, node settings).",
		Remediation: "When the policy says Blocked and the probe got through, check that the CNI enforces " +
			"NetworkPolicy for egress and that nothing rewrites the destination before the policy is " +
			"applied; until then, treat the workload as Reachable. When the probe was kept out, record " +
			"what blocks it (for example `imdsguard proxy`, or node settings with --node-profile) so the " +
			"static verdict can show it.",
		References: []Reference{mitreIMDS},
		Check:      probeOnly,
		ProbeOnly:  true,
	})
	mustRegister(&Rule{
		ID:       ProbeCredentialsID,
		Name:     "probe-served-credentials",
		Title:    "A probe was served cloud credentials",
		Severity: High,
		Description: "A probe asked a metadata service for credentials the way a compromised pod would, " +
			"and got them: AWS or Alibaba role keys, or a GCP or Azure access token. The probe kept only " +
			"the names of the fields it saw. Any pod where the probe ran can do the same.",
		Remediation: "Block the metadata endpoint for the namespace (`imdsguard generate`), require IMDSv2 with " +
			"a hop limit of 1 on AWS nodes, use the GKE metadata server or Azure Workload Identity, or run " +
			"`imdsguard proxy` on the nodes. Then probe again.",
		References: []Reference{mitreIMDS},
		Check:      probeOnly,
		ProbeOnly:  true,
	})
}

// probeOnly is the check of a rule whose findings only a probe raises.
func probeOnly(*Context) []Finding { return nil }
