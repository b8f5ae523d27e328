package report

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

// TestIdentityKind checks the table's short identity against every kind
// model.OwnIdentity describes, so that a new wording there shows here.
func TestIdentityKind(t *testing.T) {
	sa := func(k, v string) *model.ServiceAccount {
		return &model.ServiceAccount{Ref: model.ObjectRef{Kind: "ServiceAccount", Namespace: "ns", Name: "app"}, Annotations: map[string]string{k: v}}
	}
	w := &model.Workload{Ref: model.ObjectRef{Kind: "Deployment", Namespace: "ns", Name: "app"},
		Templates: []model.PodTemplate{{ServiceAccount: "app", Labels: model.Labels{model.AzureUseLabel: "true"}}}}
	for _, tt := range []struct {
		sa   *model.ServiceAccount
		want string
	}{
		{sa(model.IRSARoleAnnotation, "arn:aws:iam::1:role/app"), "IRSA"},
		{sa(model.GKEServiceAccountAnnotation, "app@p.iam.gserviceaccount.com"), "GKE WI"},
		{sa(model.AzureClientIDAnnotation, "00000000-0000-0000-0000-000000000000"), "Azure WI"},
		{sa("other", "x"), "-"},
	} {
		id := model.OwnIdentity(w, model.ServiceAccountIndex([]*model.ServiceAccount{tt.sa}))
		if got := identityKind(id); got != tt.want {
			t.Errorf("identityKind(%q) = %q, want %q", id, got, tt.want)
		}
	}
}
