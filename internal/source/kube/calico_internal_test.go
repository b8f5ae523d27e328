package kube

import (
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

// TestPreferAggregated checks that the crd.projectcalico.org/v1 view of
// Calico objects is dropped when the projectcalico.org/v3 view was read,
// and kept when it is the only one.
func TestPreferAggregated(t *testing.T) {
	policy := func(v string) *model.CalicoPolicy {
		return &model.CalicoPolicy{Ref: model.ObjectRef{APIVersion: v, Kind: "GlobalNetworkPolicy", Name: "p"}}
	}
	tier := func(v string) *model.CalicoTier {
		return &model.CalicoTier{Ref: model.ObjectRef{APIVersion: v, Kind: "Tier", Name: "t"}}
	}
	ps, ts := preferAggregated([]*model.CalicoPolicy{policy("crd.projectcalico.org/v1"), policy("projectcalico.org/v3")},
		[]*model.CalicoTier{tier("crd.projectcalico.org/v1")})
	if len(ps) != 1 || ps[0].Ref.APIVersion != "projectcalico.org/v3" || len(ts) != 0 {
		t.Errorf("both views: kept %d policies, %d tiers, want the v3 policy alone", len(ps), len(ts))
	}
	ps, ts = preferAggregated([]*model.CalicoPolicy{policy("crd.projectcalico.org/v1")}, []*model.CalicoTier{tier("crd.projectcalico.org/v1")})
	if len(ps) != 1 || len(ts) != 1 {
		t.Errorf("the CRD view alone: kept %d policies, %d tiers, want both", len(ps), len(ts))
	}
}
