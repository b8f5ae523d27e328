package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestMetadataBlockReopened(t *testing.T) {
	const emptyTo = "empty `to` allows every destination, no `ports` (every port)"
	tests := []struct {
		name  string
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name: "another policy re-opens the block",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "block-imds", "", egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"))))
				b.egressPolicy("default", "allow-all", "web", egress(nil))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-004", Severity: rules.High, Namespace: "default",
				Object: policyRef("default", "allow-all"), Source: at("allow-all.yaml", 10),
				Targets: []string{awsIMDS4},
				Related: []rules.Location{{Object: policyRef("default", "block-imds"), Source: at("block-imds.yaml", 11),
					Note: "excepts 169.254.169.254:80/TCP but is re-opened"}},
				Message: "NetworkPolicy default/block-imds excepts 169.254.169.254:80/TCP, but NetworkPolicy " +
					"default/allow-all egress rule 0 re-opens it (" + emptyTo + ") for Deployment default/web",
			}},
		},
		{
			name: "a policy re-opened by its own second rule",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "leaky", "",
					egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"))),
					egress(to(ipBlock("169.254.0.0/16")), tcp(80)))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-004", Severity: rules.High, Namespace: "default",
				Object: policyRef("default", "leaky"), Source: at("leaky.yaml", 20),
				Targets: []string{awsIMDS4},
				Related: []rules.Location{{Object: policyRef("default", "leaky"), Source: at("leaky.yaml", 11),
					Note: "excepts 169.254.169.254:80/TCP but is re-opened"}},
				Message: "NetworkPolicy default/leaky excepts 169.254.169.254:80/TCP, but its own egress rule 1 " +
					"re-opens it (ipBlock 169.254.0.0/16 contains 169.254.169.254, port 80/TCP) for Deployment default/web",
			}},
		},
		{
			name: "every target and workload re-opened by one rule is in one finding",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.deployment("default", "api")
				b.egressPolicy("default", "block-imds", "", egress(to(
					ipBlock("0.0.0.0/0", "169.254.169.254/32"), ipBlock("::/0", "fd00:ec2::254/128"))))
				b.egressPolicy("default", "allow-all", "", egress(nil))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-004", Severity: rules.High, Namespace: "default",
				Object: policyRef("default", "allow-all"), Source: at("allow-all.yaml", 10),
				Targets: []string{awsIMDS4, awsIMDS6},
				Related: []rules.Location{{Object: policyRef("default", "block-imds"), Source: at("block-imds.yaml", 11),
					Note: "excepts 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP but is re-opened"}},
				Message: "NetworkPolicy default/block-imds excepts 169.254.169.254:80/TCP, [fd00:ec2::254]:80/TCP, " +
					"but NetworkPolicy default/allow-all egress rule 0 re-opens it (" + emptyTo + ") " +
					"for Deployment default/api, Deployment default/web",
			}},
		},
		{
			name: "an allow for other pods re-opens nothing",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.deployment("default", "db")
				b.egressPolicy("default", "block-imds", "web", egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"))))
				b.egressPolicy("default", "allow-db", "db", egress(nil))
			},
			want: nil,
		},
		{
			name: "a block that nothing re-opens",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "block-imds", "", egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"))))
				b.egressPolicy("default", "dns", "", egress(to(ipBlock("10.96.0.10/32")), udp(53)))
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(endpoints.AWS), "IMDS-004"), tt.want)
		})
	}
}
