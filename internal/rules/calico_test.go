package rules_test

import (
	"net/netip"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/model"
	"github.com/imdsguard/imdsguard/internal/rules"
)

// TestCalicoAllowIsRelated checks that a finding names the Calico rule
// that let the pod reach the metadata service, as it does for
// NetworkPolicy.
func TestCalicoAllowIsRelated(t *testing.T) {
	b := newInventory(t)
	b.deployment("default", "web")
	src := model.Source{File: "calico.yaml", Line: 7}
	b.inv.CalicoPolicies = append(b.inv.CalicoPolicies, &model.CalicoPolicy{
		Ref:    model.ObjectRef{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy", Name: "open-imds"},
		Global: true,
		Tier:   model.CalicoDefaultTier,
		Egress: true,
		EgressRules: []model.CalicoRule{{Action: model.CalicoAllow, Src: src,
			Destination: model.CalicoEntity{Nets: []netip.Prefix{netip.MustParsePrefix("169.254.169.254/32")}}}},
		Source: model.Source{File: "calico.yaml", Line: 1},
	})
	assertFindings(t, only(b.run(endpoints.AWS), "IMDS-001"), []rules.Finding{{
		RuleID: "IMDS-001", Severity: rules.High, Namespace: "default",
		Object: deploymentRef("default", "web"), Source: at("web.yaml", 1),
		Targets: []string{awsIMDS4},
		Message: "Deployment default/web can reach 169.254.169.254:80/TCP: tier default: selected by open-imds; " +
			"allowed by open-imds egress rule 0 (Allow)",
		Related: []rules.Location{{Object: model.ObjectRef{APIVersion: "projectcalico.org/v3", Kind: "GlobalNetworkPolicy", Name: "open-imds"},
			Source: src, Note: "egress rule 0 allows it: destination net 169.254.169.254/32 contains 169.254.169.254"}},
	}})
}
