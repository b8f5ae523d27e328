package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestOverbroadLinkLocalBlock(t *testing.T) {
	const (
		ecs      = "ECS task credentials 169.254.170.2:80/TCP"
		podID    = "EKS Pod Identity agent 169.254.170.23:80/TCP"
		dnsAlt   = "NodeLocal DNSCache (alternate address) 169.254.25.10:53/UDP"
		dnsTCP   = "NodeLocal DNSCache 169.254.20.10:53/TCP"
		dnsUDP   = "NodeLocal DNSCache 169.254.20.10:53/UDP"
		linkLoc  = "169.254.0.0/16"
		everyV4  = "0.0.0.0/0"
		imdsOnly = "169.254.169.254/32"
	)
	tests := []struct {
		name  string
		cloud endpoints.Cloud
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name:  "except 169.254.0.0/16 blocks every keep-open service of AWS",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "", egress(to(ipBlock(everyV4, linkLoc))))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-005", Severity: rules.Medium, Namespace: "default",
				Object: policyRef("default", "no-link-local"), Source: at("no-link-local.yaml", 11),
				Message: "NetworkPolicy default/no-link-local excepts 169.254.0.0/16, which also blocks " +
					ecs + "; " + podID + "; " + dnsAlt + "; " + dnsTCP + "; " + dnsUDP + " for 1 workload(s)",
			}},
		},
		{
			name:  "on GCP only the cloud-neutral DNS cache is concerned",
			cloud: endpoints.GCP,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.deployment("default", "api")
				b.egressPolicy("default", "no-link-local", "", egress(to(ipBlock(everyV4, linkLoc))))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-005", Severity: rules.Medium, Namespace: "default",
				Object: policyRef("default", "no-link-local"), Source: at("no-link-local.yaml", 11),
				Message: "NetworkPolicy default/no-link-local excepts 169.254.0.0/16, which also blocks " +
					dnsAlt + "; " + dnsTCP + "; " + dnsUDP + " for 2 workload(s)",
			}},
		},
		{
			name:  "allowing DNS and Pod Identity leaves the other services blocked",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "",
					egress(to(ipBlock(everyV4, linkLoc))),
					egress(to(ipBlock("169.254.20.10/32"), ipBlock("169.254.170.23/32"))))
			},
			want: []rules.Finding{{
				RuleID: "IMDS-005", Severity: rules.Medium, Namespace: "default",
				Object: policyRef("default", "no-link-local"), Source: at("no-link-local.yaml", 11),
				Message: "NetworkPolicy default/no-link-local excepts 169.254.0.0/16, which also blocks " +
					ecs + "; " + dnsAlt + " for 1 workload(s)",
			}},
		},
		{
			name:  "another rule allows every keep-open address",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "",
					egress(to(ipBlock(everyV4, linkLoc))),
					egress(to(ipBlock("169.254.20.10/32"), ipBlock("169.254.170.23/32"),
						ipBlock("169.254.170.2/32"), ipBlock("169.254.25.10/32"))))
			},
			want: nil,
		},
		{
			name:  "on GCP, another rule allows 169.254.20.10/32 and 169.254.25.10/32",
			cloud: endpoints.GCP,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "",
					egress(to(ipBlock(everyV4, linkLoc))),
					egress(to(ipBlock("169.254.20.10/32"), ipBlock("169.254.25.10/32")), udp(53), tcp(53)))
			},
			want: nil,
		},
		{
			name:  "another policy re-opens the services",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "", egress(to(ipBlock(everyV4, linkLoc))))
				b.egressPolicy("default", "allow-all", "", egress(nil))
			},
			want: nil,
		},
		{
			name:  "excepting only the metadata address",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-imds", "", egress(to(ipBlock(everyV4, imdsOnly))))
			},
			want: nil,
		},
		{
			name:  "a policy that selects no workload",
			cloud: endpoints.AWS,
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "no-link-local", "db", egress(to(ipBlock(everyV4, linkLoc))))
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(tt.cloud), "IMDS-005"), tt.want)
		})
	}
}
