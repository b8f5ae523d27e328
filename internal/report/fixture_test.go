package report

import (
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// Target IDs of the fixture.
const (
	tIPv4 = "169.254.169.254:80/TCP"
	tIPv6 = "[fd00:ec2::254]:80/TCP"
	tPod  = "169.254.170.23:80/TCP"
)

// fixtureDocument is a hand-built scan of two namespaces: monitoring runs a
// hostNetwork DaemonSet, payments has a workload that an over-broad egress
// rule lets out, one blocked for IPv4 but Unknown for IPv6 because a policy
// failed to parse, and an inferred Job. It has suppressed findings (by
// annotation and by config), related locations, a cluster-sourced finding,
// an input error and a warning.
func fixtureDocument() *Document {
	mitre := rules.Reference{Name: "MITRE ATT&CK T1552.005 (Cloud Instance Metadata API)", URL: "https://attack.mitre.org/techniques/T1552/005/"}
	cis := rules.Reference{Name: "CIS Kubernetes Benchmark 5.3.2 (Ensure that all Namespaces have Network Policies defined)"}

	exporter := model.ObjectRef{APIVersion: "apps/v1", Kind: "DaemonSet", Namespace: "monitoring", Name: "node-exporter"}
	exporterSrc := model.Source{File: "manifests/monitoring/node-exporter.yaml", Line: 1}
	api := model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "payments", Name: "api"}
	apiSrc := model.Source{File: "manifests/payments/api.yaml", Line: 1}
	worker := model.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "payments", Name: "worker"}
	workerSrc := model.Source{File: "manifests/payments/worker.yaml", Line: 1}
	migrate := model.ObjectRef{APIVersion: "batch/v1", Kind: "Job", Namespace: "payments", Name: "migrate"}
	allowEgress := model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "payments", Name: "allow-egress"}
	allowEgressSrc := model.Source{File: "manifests/payments/netpol.yaml", Line: 1}
	denyMeta := model.ObjectRef{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy", Namespace: "payments", Name: "deny-metadata"}

	hostStep := reach.Step{Layer: reach.LayerHostNetwork, Decision: reach.Allow,
		Reason: "pods use the host network: NetworkPolicy does not apply"}
	notHost := reach.Step{Layer: reach.LayerHostNetwork, Decision: reach.NotApplied, Reason: "pods use the pod network"}
	allowRule := reach.RuleRef{Policy: allowEgress, Rule: 0, Source: allowEgressSrc.At(14), Why: "ipBlock 0.0.0.0/0 on port 80"}
	npAllow := reach.Step{Layer: reach.LayerNetworkPolicy, Decision: reach.Allow,
		Reason: "egress rule 0 of allow-egress allows it", Rules: []reach.RuleRef{allowRule}}
	npDeny := reach.Step{Layer: reach.LayerNetworkPolicy, Decision: reach.Deny,
		Reason: "pods are isolated for egress and no rule allows it",
		Rules:  []reach.RuleRef{{Policy: allowEgress, Rule: -1, Source: allowEgressSrc}}}
	inputUnknown := reach.Step{Layer: reach.LayerInput, Decision: reach.Undecided,
		Reason: "NetworkPolicy payments/deny-metadata could not be read"}

	return &Document{
		SchemaVersion: SchemaVersion,
		Tool:          Tool{Name: "imdsguard", Version: "v0.3.0"},
		Complete:      false,
		Clouds:        []string{"aws", "gcp"},
		Inputs:        []string{"manifests/"},
		Summary: Summary{
			Namespaces: 2, Workloads: 4,
			Verdicts:    map[string]int{"Reachable": 3, "Blocked": 4, "Unknown": 1},
			DecidedBy:   map[string]int{"hostNetwork": 2, "NetworkPolicy": 5, "Input": 1},
			Findings:    map[string]int{"critical": 1, "high": 1, "medium": 2, "low": 0, "info": 0},
			Suppressed:  2,
			InputErrors: 1,
		},
		Targets: []Target{
			{ID: tIPv4, Address: "169.254.169.254", Port: 80, Protocol: "TCP", Endpoints: []Endpoint{
				{ID: "aws-imds-ipv4", Cloud: "aws", Service: "AWS IMDS"},
				{ID: "gcp-metadata-ipv4", Cloud: "gcp", Service: "GCE metadata server"},
			}},
			{ID: tIPv6, Address: "fd00:ec2::254", Port: 80, Protocol: "TCP", Endpoints: []Endpoint{
				{ID: "aws-imds-ipv6", Cloud: "aws", Service: "AWS IMDS (IPv6, Nitro)"},
			}},
			{ID: tPod, Address: "169.254.170.23", Port: 80, Protocol: "TCP", KeepOpen: true, Endpoints: []Endpoint{
				{ID: "eks-pod-identity-ipv4", Cloud: "aws", Service: "EKS Pod Identity agent"},
			}},
		},
		Namespaces: []string{"monitoring", "payments"},
		Workloads: []Workload{
			{Object: exporter, Source: exporterSrc, HostNetwork: true, Policies: []string{}, Verdicts: []Verdict{
				{Target: tIPv4, Verdict: reach.Reachable, Trace: []reach.Step{hostStep}},
				{Target: tIPv6, Verdict: reach.Reachable, Trace: []reach.Step{hostStep}},
				{Target: tPod, Verdict: reach.Reachable, Trace: []reach.Step{hostStep}},
			}},
			{Object: api, Source: apiSrc, Policies: []string{"allow-egress"}, Verdicts: []Verdict{
				{Target: tIPv4, Verdict: reach.Reachable, Trace: []reach.Step{notHost, npAllow}},
				{Target: tIPv6, Verdict: reach.Blocked, Trace: []reach.Step{notHost, npDeny}},
				{Target: tPod, Verdict: reach.Reachable, Trace: []reach.Step{notHost, npAllow}},
			}},
			{Object: migrate, Source: model.Source{File: "manifests/payments/migrate-pod.yaml", Line: 1}, Inferred: true,
				Policies: []string{"allow-egress"}, Verdicts: []Verdict{
					{Target: tIPv4, Verdict: reach.Blocked, Trace: []reach.Step{notHost, npDeny}},
					{Target: tIPv6, Verdict: reach.Blocked, Trace: []reach.Step{notHost, npDeny}},
				}},
			{Object: worker, Source: workerSrc, Policies: []string{"allow-egress"}, Verdicts: []Verdict{
				{Target: tIPv4, Verdict: reach.Blocked, Trace: []reach.Step{notHost, npDeny}},
				{Target: tIPv6, Verdict: reach.Unknown, Trace: []reach.Step{notHost, npDeny, inputUnknown}},
			}},
		},
		Findings: []rules.Finding{
			{RuleID: "IMDS-001", Severity: rules.Critical, Namespace: "monitoring", Object: exporter, Source: exporterSrc,
				Message:     "DaemonSet monitoring/node-exporter can reach " + tIPv4 + ", " + tIPv6 + ": pods use the host network: NetworkPolicy does not apply",
				Targets:     []string{tIPv4, tIPv6},
				Remediation: "Isolate the pods for egress."},
			{RuleID: "IMDS-002", Severity: rules.High, Namespace: "monitoring", Object: exporter, Source: exporterSrc,
				Message:     "DaemonSet monitoring/node-exporter runs pods with hostNetwork: true, which NetworkPolicy cannot restrict",
				Remediation: "Drop `hostNetwork: true`.",
				Suppressed: &rules.Suppression{By: "annotation", Reason: "node metrics need the host network",
					Source: exporterSrc.At(6)}},
			{RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "monitoring",
				Object:      model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "monitoring"},
				Source:      model.Source{Cluster: "prod-eks"},
				Message:     "Namespace monitoring has workloads but no egress NetworkPolicy",
				Remediation: "Add a default egress policy."},
			{RuleID: "IMDS-001", Severity: rules.High, Namespace: "payments", Object: api, Source: apiSrc,
				Message: "Deployment payments/api can reach " + tIPv4 + ": egress rule 0 of allow-egress allows it",
				Targets: []string{tIPv4},
				Related: []rules.Location{{Object: allowEgress, Source: allowEgressSrc.At(14),
					Note: "egress rule 0 allows it: ipBlock 0.0.0.0/0 on port 80"}},
				Remediation: "Isolate the pods for egress."},
			{RuleID: "IMDS-007", Severity: rules.Medium, Namespace: "payments", Object: worker, Source: workerSrc,
				Message:     "Deployment payments/worker: reachability of " + tIPv6 + " is Unknown: NetworkPolicy payments/deny-metadata could not be read",
				Targets:     []string{tIPv6},
				Remediation: "Fix the input errors and scan again."},
			{RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "payments",
				Object:      model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "payments"},
				Source:      model.Source{File: "manifests/payments/namespace.yaml", Line: 1},
				Message:     "Namespace payments has workloads but no egress NetworkPolicy that isolates all of them",
				Remediation: "Add a default egress policy.",
				Suppressed: &rules.Suppression{By: "config", Reason: "egress is enforced by the service mesh",
					Source: model.Source{File: "imdsguard.yaml", Line: 12}}},
		},
		Rules: []Rule{
			{ID: "IMDS-001", Name: "metadata-reachable", Title: "Workload can reach a cloud metadata endpoint",
				Severity: rules.High, SeverityNote: "Critical when the workload uses the host network.",
				Description: "Pods of this workload can open a connection to an instance metadata endpoint.",
				Remediation: "Isolate the pods for egress and use ipBlock 0.0.0.0/0 with except 169.254.169.254/32.",
				References:  []rules.Reference{mitre}},
			{ID: "IMDS-002", Name: "host-network", Title: "Workload uses the host network", Severity: rules.High,
				Description: "A hostNetwork pod shares the node's network namespace.",
				Remediation: "Drop `hostNetwork: true` unless the workload truly needs the node's network.",
				References:  []rules.Reference{mitre}},
			{ID: "IMDS-003", Name: "namespace-without-egress-policy", Title: "Namespace has workloads but no egress NetworkPolicy",
				Severity: rules.Medium, Description: "Nothing isolates the namespace's pods for egress.",
				Remediation: "Add a default-deny egress policy with the allowances the workloads need.",
				References:  []rules.Reference{cis}},
			{ID: "IMDS-007", Name: "verdict-unknown", Title: "Metadata reachability could not be decided",
				Severity: rules.Medium, Description: "An input error or an unsupported policy left the verdict open.",
				Remediation: "Fix the input errors and scan again.", References: []rules.Reference{}},
		},
		Errors: []InputError{{
			Source:  model.Source{File: "manifests/payments/deny-metadata.yaml", Line: 9},
			Object:  &denyMeta,
			Message: `spec.egress[0].to[0].ipBlock.cidr: invalid CIDR "169.254.169.254/33"`,
		}},
		Warnings: []string{
			"manifests/payments/worker.yaml:4: Deployment payments/worker: annotation imdsguard.io/ignore is not honoured without imdsguard.io/ignore-reason",
		},
		UnknownKinds: map[string]int{"monitoring.coreos.com/v1/ServiceMonitor": 2},
	}
}

// emptyDocument is what a scan of nothing produces: every list left nil.
func emptyDocument() *Document {
	return &Document{SchemaVersion: SchemaVersion, Tool: Tool{Name: "imdsguard", Version: "dev"}, Complete: true}
}
