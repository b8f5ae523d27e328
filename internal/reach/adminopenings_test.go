package reach_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/reach"
)

// TestAdminOpenings checks which Allow and Accept rules of an admin policy
// open the IPv4 IMDS target: the first rule that matches decides, as in
// the datapath; a rule above that may match makes the opening uncertain;
// a baseline policy opens nothing, as it never decides for isolated pods.
func TestAdminOpenings(t *testing.T) {
	const passIMDS = "{action: Pass, to: [{networks: [169.254.169.254/32]}]}"
	for _, tc := range []struct {
		name string
		doc  string
		want string // "rule:certain" for the IPv4 target, "" for none
	}{
		{"an Allow", anp("a", 1, allowIMDS4), "0:true"},
		{"an Accept", cnp("a", "Admin", 1, acceptIMDS4), "0:true"},
		{"a Deny above closes it first", anp("a", 1, denyIMDS4, allowIMDS4), ""},
		{"a Pass above hands it to NetworkPolicy first", cnp("a", "Admin", 1, passIMDS, acceptIMDS4), ""},
		{"a Deny above that may match", anp("a", 1, "{action: Deny, to: [{domainNames: [example.com]}]}", allowIMDS4), "1:false"},
		{"a Deny of another port", anp("a", 1, "{action: Deny, to: [{networks: [169.254.169.254/32]}], ports: [{portNumber: {port: 443}}]}", allowIMDS4), "1:true"},
		{"the Baseline tier", cnp("a", "Baseline", 1, acceptIMDS4), ""},
		{"the BaselineAdminNetworkPolicy", banp(allowIMDS4), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv := loadYAML(t, tc.doc)
			if len(inv.AdminPolicies) != 1 {
				t.Fatalf("%d admin policies", len(inv.AdminPolicies))
			}
			var got []string
			for _, o := range reach.AdminOpenings(inv.AdminPolicies[0], allTargets) {
				if o.Target.String() == imds4 {
					got = append(got, fmt.Sprintf("%d:%t", o.Rule, o.Certain))
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("openings of %s: %q, want %q", imds4, g, tc.want)
			}
		})
	}
}
