package rules_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// adminAllow adds an admin policy on every namespace whose egress rule 0
// lets cidr out with action.
func (b *inventory) adminAllow(kind, name string, action model.AdminAction, cidr string) {
	b.t.Helper()
	var block model.IPBlock
	if problem := block.SetCIDR(cidr); problem != "" {
		b.t.Fatal(problem)
	}
	block.Source = at(name+".yaml", 10)
	version := "policy.networking.k8s.io/v1alpha1"
	if kind == model.KindClusterNetworkPolicy {
		version = "policy.networking.k8s.io/v1alpha2"
	}
	b.inv.AdminPolicies = append(b.inv.AdminPolicies, &model.AdminPolicy{
		Ref:      model.ObjectRef{APIVersion: version, Kind: kind, Name: name},
		Priority: 5,
		Subject:  model.AdminSubject{Namespaces: &model.Selector{Compiled: labels.Everything()}},
		Egress: []model.AdminRule{{Index: 0, Action: action, Source: at(name+".yaml", 9),
			To: []model.AdminPeer{{Networks: []model.IPBlock{block}}}}},
		Source: at(name+".yaml", 1),
	})
}

// TestAdminAllowRemediation checks that a workload let out by an admin
// policy's Allow or Accept is told to fix that rule, with the rule named
// among the related locations, and not the NetworkPolicy advice, which
// cannot work there; a workload let out by a NetworkPolicy keeps it.
func TestAdminAllowRemediation(t *testing.T) {
	for _, tc := range []struct {
		kind   string
		action model.AdminAction
	}{
		{"AdminNetworkPolicy", model.AdminAllow},
		{model.KindClusterNetworkPolicy, model.AdminAccept},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			b := newInventory(t)
			b.deployment("default", "web")
			b.egressPolicy("default", "deny-all", "web")
			b.adminAllow(tc.kind, "allow-imds", tc.action, "169.254.0.0/16")
			fs := only(b.run(), "IMDS-001")
			if len(fs) != 1 {
				t.Fatalf("%d IMDS-001 findings, want 1: %+v", len(fs), fs)
			}
			f := fs[0]
			for _, want := range []string{"let out by " + tc.kind + " allow-imds egress rule 0", "decided before every NetworkPolicy",
				"add a Deny rule whose networks are the metadata addresses (169.254.169.254/32) above the rule",
				"narrow the rule's networks"} {
				if !strings.Contains(f.Remediation, want) {
					t.Errorf("remediation %q does not contain %q", f.Remediation, want)
				}
			}
			if strings.Contains(f.Remediation, "except") {
				t.Errorf("remediation %q gives the NetworkPolicy advice", f.Remediation)
			}
			if len(f.Related) != 1 || f.Related[0].Object.Name != "allow-imds" || f.Related[0].Source != at("allow-imds.yaml", 9) ||
				!strings.Contains(f.Related[0].Note, "egress rule 0 allows it, ahead of every NetworkPolicy: network 169.254.0.0/16 contains 169.254.169.254") {
				t.Errorf("related %+v, want the admin rule", f.Related)
			}
		})
	}
	b := newInventory(t)
	b.deployment("default", "web")
	fs := only(b.run(), "IMDS-001")
	if len(fs) != 1 || fs[0].Remediation != rules.Default().Get("IMDS-001").Remediation {
		t.Errorf("a workload no policy isolates: %+v, want the rule's remediation", fs)
	}
}
