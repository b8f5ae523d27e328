package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

func TestHostNetwork(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *inventory)
		want  []rules.Finding
	}{
		{
			name: "a hostNetwork workload",
			build: func(b *inventory) {
				b.hostNetworkDeployment("kube-system", "agent")
				b.deployment("kube-system", "web")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-002", Severity: rules.High, Namespace: "kube-system",
				Object: deploymentRef("kube-system", "agent"), Source: at("agent.yaml", 1),
				Message: "Deployment kube-system/agent runs pods with hostNetwork: true, which NetworkPolicy cannot restrict",
			}},
		},
		{
			name: "one hostNetwork pod shape among several is enough",
			build: func(b *inventory) {
				w := b.deployment("default", "mixed")
				w.Templates = append(w.Templates, model.PodTemplate{Labels: model.Labels{"app": "mixed"}, HostNetwork: true})
			},
			want: []rules.Finding{{
				RuleID: "IMDS-002", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "mixed"), Source: at("mixed.yaml", 1),
				Message: "Deployment default/mixed runs pods with hostNetwork: true, which NetworkPolicy cannot restrict",
			}},
		},
		{
			name: "policies do not matter",
			build: func(b *inventory) {
				b.hostNetworkDeployment("default", "agent")
				b.egressPolicy("default", "deny-all", "")
			},
			want: []rules.Finding{{
				RuleID: "IMDS-002", Severity: rules.High, Namespace: "default",
				Object: deploymentRef("default", "agent"), Source: at("agent.yaml", 1),
				Message: "Deployment default/agent runs pods with hostNetwork: true, which NetworkPolicy cannot restrict",
			}},
		},
		{
			name:  "pod-network workloads do not fire",
			build: func(b *inventory) { b.deployment("default", "web") },
			want:  nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			tt.build(b)
			assertFindings(t, only(b.run(endpoints.AWS), "IMDS-002"), tt.want)
		})
	}
}
