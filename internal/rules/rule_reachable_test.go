package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestMetadataReachable(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name:  "a pod that no policy isolates",
			build: func(b *inventory) { b.deployment("default", "web") },
			want: []rules.Finding{{
				RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment default/web can reach 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP: " +
					"no NetworkPolicy selects the pod for egress, so all egress is allowed",
			}},
		},
		{
			name: "hostNetwork is critical, whatever the policies say",
			build: func(b *inventory) {
				b.hostNetworkDeployment("kube-system", "agent")
				b.egressPolicy("kube-system", "deny-all", "")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-001", Severity: rules.Critical, Namespace: "kube-system",
				Object: deploymentRef("kube-system", "agent"), Source: at("agent.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment kube-system/agent can reach 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP: " +
					"the pod uses the host network, so NetworkPolicy does not apply to it",
			}},
		},
		{
			name: "the message and related locations name the allowing rule",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "open-imds", "web", egress(to(ipBlock("169.254.169.254/32")), tcp(80)))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4},
				Message: "Deployment default/web can reach 169.254.169.254:80/TCP: isolated by open-imds; " +
					"allowed by open-imds egress rule 0",
				Related: []rules.Location{{Object: policyRef("default", "open-imds"), Source: at("open-imds.yaml", 10),
					Note: "egress rule 0 allows it: ipBlock 169.254.169.254/32 contains 169.254.169.254, port 80/TCP"}},
			}},
		},
		{
			name: "every allowing rule is related, once",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "allow-all", "", egress(nil))
				b.egressPolicy("default", "dual-stack", "", egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"), ipBlock("::/0"))))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment default/web can reach 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP: " +
					"isolated by allow-all, dual-stack; allowed by allow-all egress rule 0",
				Related: []rules.Location{
					{Object: policyRef("default", "allow-all"), Source: at("allow-all.yaml", 10),
						Note: "egress rule 0 allows it: empty `to` allows every destination, no `ports` (every port)"},
					{Object: policyRef("default", "dual-stack"), Source: at("dual-stack.yaml", 10),
						Note: "egress rule 0 allows it: ipBlock ::/0 contains fd00:ec2::254, no `ports` (every port)"},
				},
			}},
		},
		{
			name: "workloads that share a trace each get their own finding",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.deployment("default", "api")
				b.egressPolicy("default", "allow-all", "", egress(nil))
			},
			want: []rules.Finding{
				{
					RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
					Object: deploymentRef("default", "api"), Source: at("api.yaml", 1),
					Targets: []string{awsIMDS4, awsIMDS6},
					Message: "Deployment default/api can reach 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP: " +
						"isolated by allow-all; allowed by allow-all egress rule 0",
					Related: []rules.Location{{Object: policyRef("default", "allow-all"), Source: at("allow-all.yaml", 10),
						Note: "egress rule 0 allows it: empty `to` allows every destination, no `ports` (every port)"}},
				},
				{
					RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
					Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
					Targets: []string{awsIMDS4, awsIMDS6},
					Message: "Deployment default/web can reach 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP: " +
						"isolated by allow-all; allowed by allow-all egress rule 0",
					Related: []rules.Location{{Object: policyRef("default", "allow-all"), Source: at("allow-all.yaml", 10),
						Note: "egress rule 0 allows it: empty `to` allows every destination, no `ports` (every port)"}},
				},
			},
		},
		{
			name: "both families excepted: no finding",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-imds", "", egress(to(
					ipBlock("0.0.0.0/0", "169.254.169.254/32"), ipBlock("::/0", "fd00:ec2::254/128"))))
			},
			want: nil,
		},
		{
			name: "deny all: no finding",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "deny-all", "")
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(endpoints.AWS), "IMDS-001"), tt.want)
		})
	}
}
