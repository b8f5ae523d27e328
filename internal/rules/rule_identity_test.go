package rules_test

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
)

func TestIdentityRule(t *testing.T) {
	tests := []struct {
		name     string
		ann      map[string]string
		podLabel map[string]string
		isolate  bool // a deny-all egress policy selects the pod
		want     int
	}{
		{"IRSA and reachable", map[string]string{model.IRSARoleAnnotation: "arn:aws:iam::1:role/app"}, nil, false, 1},
		{"IRSA and blocked", map[string]string{model.IRSARoleAnnotation: "arn:aws:iam::1:role/app"}, nil, true, 0},
		{"GKE workload identity", map[string]string{model.GKEServiceAccountAnnotation: "app@p.iam.gserviceaccount.com"}, nil, false, 1},
		{"Azure without the pod label", map[string]string{model.AzureClientIDAnnotation: "0000"}, nil, false, 0},
		{"Azure with the pod label", map[string]string{model.AzureClientIDAnnotation: "0000"}, map[string]string{model.AzureUseLabel: "true"}, false, 1},
		{"no identity", nil, nil, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newInventory(t)
			w := b.deployment("apps", "web")
			for k, v := range tt.podLabel {
				w.Templates[0].Labels[k] = v
			}
			b.inv.ServiceAccounts = []*model.ServiceAccount{{Ref: model.ObjectRef{Kind: "ServiceAccount", Namespace: "apps", Name: "default"}, Annotations: tt.ann}}
			if tt.isolate {
				b.egressPolicy("apps", "deny-all", "web")
			}
			if got := len(only(b.run(endpoints.AWS), "IMDS-009")); got != tt.want {
				t.Errorf("%d IMDS-009 findings, want %d", got, tt.want)
			}
		})
	}
}
