package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestVerdictUnknown(t *testing.T) {
	anp := &model.PolicyStub{
		Ref:           model.ObjectRef{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "AdminNetworkPolicy", Name: "cluster-egress"},
		Source:        at("anp.yaml", 1),
		ClusterScoped: true,
	}
	banp := &model.PolicyStub{
		Ref:           model.ObjectRef{APIVersion: "policy.networking.k8s.io/v1alpha1", Kind: "BaselineAdminNetworkPolicy", Name: "default"},
		Source:        at("banp.yaml", 1),
		ClusterScoped: true,
		Baseline:      true,
	}
	cnp := &model.PolicyStub{
		Ref:    model.ObjectRef{APIVersion: "cilium.io/v2", Kind: "CiliumNetworkPolicy", Namespace: "apps", Name: "l7"},
		Source: at("cnp.yaml", 1),
	}
	both := awsIMDS4 + ", " + awsIMDS6
	tests := []struct {
		name  string
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name: "an AdminNetworkPolicy leaves every pod-network workload undecided",
			build: func(b *inventory) {
				b.deployment("default", "web")
				b.egressPolicy("default", "deny-all", "")
				b.hostNetworkDeployment("default", "agent")
				b.inv.Unsupported = append(b.inv.Unsupported, anp)
			},
			want: []rules.Finding{{
				RuleID: "IMDS-007", Severity: rules.Medium, Namespace: "default",
				Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment default/web: reachability of " + both + " is unknown: AdminNetworkPolicy " +
					"is evaluated before NetworkPolicy and may allow or deny; imdsguard does not evaluate this kind yet",
			}},
		},
		{
			name: "a BaselineAdminNetworkPolicy decides only for pods no NetworkPolicy isolates",
			build: func(b *inventory) {
				b.deployment("open", "web")
				b.deployment("isolated", "api")
				b.egressPolicy("isolated", "deny-all", "")
				b.inv.Unsupported = append(b.inv.Unsupported, banp)
			},
			want: []rules.Finding{{
				RuleID: "IMDS-007", Severity: rules.Medium, Namespace: "open",
				Object: deploymentRef("open", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment open/web: reachability of " + both + " is unknown: BaselineAdminNetworkPolicy " +
					"decides for pods that no NetworkPolicy isolates; imdsguard does not evaluate this kind yet",
			}},
		},
		{
			name: "a namespaced policy of another kind concerns its own namespace",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.deployment("other", "web")
				b.egressPolicy("other", "deny-all", "")
				b.inv.Unsupported = append(b.inv.Unsupported, cnp)
			},
			want: []rules.Finding{{
				RuleID: "IMDS-007", Severity: rules.Medium, Namespace: "apps",
				Object: deploymentRef("apps", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment apps/web: reachability of " + both + " is unknown: CiliumNetworkPolicy " +
					"selects pods in this namespace; imdsguard does not evaluate this kind yet",
			}},
		},
		{
			name: "unreadable input keeps a block from being claimed",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.egressPolicy("apps", "deny-all", "")
				b.inv.MarkIncomplete("apps", "broken.yaml:3: invalid cidr")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-007", Severity: rules.Medium, Namespace: "apps",
				Object: deploymentRef("apps", "web"), Source: at("web.yaml", 1),
				Targets: []string{awsIMDS4, awsIMDS6},
				Message: "Deployment apps/web: reachability of " + both + " is unknown: " +
					"input that could decide this could not be read: broken.yaml:3: invalid cidr",
			}},
		},
		{
			name: "decided verdicts do not fire",
			build: func(b *inventory) {
				b.deployment("apps", "web")
				b.deployment("apps", "db")
				b.egressPolicy("apps", "deny-db", "db")
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(endpoints.AWS), "IMDS-007"), tt.want)
		})
	}
}
