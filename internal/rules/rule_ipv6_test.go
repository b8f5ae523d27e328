package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestIPv6MetadataOpen(t *testing.T) {
	v4Blocked := egress(to(ipBlock("0.0.0.0/0", "169.254.169.254/32"), ipBlock("::/0")))
	tests := []struct {
		name   string
		clouds []endpoints.Cloud
		build  func(b *inventory)
		want   []rules.Finding
	}{
		{
			name:   "IPv4 excepted, IPv6 allowed by ::/0",
			clouds: []endpoints.Cloud{endpoints.AWS},
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "v4-only-block", "", v4Blocked)
			},
			want: []rules.Finding{{
				RuleID: "IMDS-006", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS6},
				Message: "Deployment default/web is blocked from the IPv4 metadata address but can reach [fd00:ec2::254]:80/TCP",
			}},
		},
		{
			name:   "every cloud with an IPv6 endpoint is named",
			clouds: nil,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "v4-only-block", "", v4Blocked)
			},
			want: []rules.Finding{{
				RuleID: "IMDS-006", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS6, "[fd20:ce::254]:80/TCP"},
				Message: "Deployment default/web is blocked from the IPv4 metadata address but can reach " +
					"[fd00:ec2::254]:80/TCP, [fd20:ce::254]:80/TCP",
			}},
		},
		{
			name:   "both families excepted",
			clouds: []endpoints.Cloud{endpoints.AWS},
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "block-both", "", egress(to(
					ipBlock("0.0.0.0/0", "169.254.169.254/32"), ipBlock("::/0", "fd00:ec2::254/128"))))
			},
			want: nil,
		},
		{
			name:   "both families reachable is IMDS-001's business",
			clouds: []endpoints.Cloud{endpoints.AWS},
			build:  func(b *inventory) { b.deployment("default", "web") },
			want:   nil,
		},
		{
			name:   "IPv4 reachable, IPv6 blocked",
			clouds: []endpoints.Cloud{endpoints.AWS},
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "v4-only-allow", "", egress(to(ipBlock("0.0.0.0/0"))))
			},
			want: nil,
		},
		{
			name:   "hostNetwork reaches both families",
			clouds: []endpoints.Cloud{endpoints.AWS},
			build: func(b *inventory) {
				b.hostNetworkDeployment("default", "agent")
				b.egressPolicy("default", "v4-only-block", "", v4Blocked)
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(tt.clouds...), "IMDS-006"), tt.want)
		})
	}
}
