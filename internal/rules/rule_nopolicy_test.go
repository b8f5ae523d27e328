package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestNamespaceWithoutEgressPolicy(t *testing.T) {
	nsRef := func(name string) model.ObjectRef {
		return model.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: name}
	}
	tests := []struct {
		name  string
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name: "an inferred namespace points at its first workload",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.deployment("apps", "api")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "apps",
				Object: nsRef("apps"), Source: at("web.yaml", 1),
				Message: "namespace apps has 2 workload(s) and no NetworkPolicy governs their egress",
			}},
		},
		{
			name: "a declared namespace points at its manifest",
			build: func(b *inventory) {
				b.namespace("apps", nil)
				b.deployment("apps", "web")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "apps",
				Object: nsRef("apps"), Source: at("ns-apps.yaml", 1),
				Message: "namespace apps has 1 workload(s) and no NetworkPolicy governs their egress",
			}},
		},
		{
			name: "an ingress-only policy does not govern egress",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.ingressPolicy("apps", "ingress-only")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "apps",
				Object: nsRef("apps"), Source: at("web.yaml", 1),
				Message: "namespace apps has 1 workload(s) and no NetworkPolicy governs their egress",
			}},
		},
		{
			name: "hostNetwork workloads are not counted",
			build: func(b *inventory) {
				b.hostNetworkDeployment("apps", "agent")
				b.deployment("apps", "web")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "apps",
				Object: nsRef("apps"), Source: at("web.yaml", 1),
				Message: "namespace apps has 1 workload(s) and no NetworkPolicy governs their egress",
			}},
		},
		{
			name: "an egress policy elsewhere does not count",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.egressPolicy("other", "deny-all", "")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-003", Severity: rules.Medium, Namespace: "apps",
				Object: nsRef("apps"), Source: at("web.yaml", 1),
				Message: "namespace apps has 1 workload(s) and no NetworkPolicy governs their egress",
			}},
		},
		{
			name:  "a namespace with only hostNetwork workloads",
			build: func(b *inventory) { b.hostNetworkDeployment("kube-system", "agent") },
			want:  nil,
		},
		{
			name: "an egress policy in the namespace",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.egressPolicy("apps", "deny-all", "")
			},
			want: nil,
		},
		{
			name:  "a declared namespace without workloads",
			build: func(b *inventory) { b.namespace("empty", nil) },
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(endpoints.AWS), "IMDS-003"), tt.want)
		})
	}
}
