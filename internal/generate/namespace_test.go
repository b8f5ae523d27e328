package generate

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/endpoints"
	"github.com/imdsguard/imdsguard/internal/reach"
)

func TestNamespacePolicyVariants(t *testing.T) {
	keep := reach.Targets(endpoints.KeepOpen(endpoints.AWS))
	reach.SortTargets(keep)
	deny := []netip.Addr{netip.MustParseAddr("168.63.129.16"), netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
	render := func(o Options) string {
		t.Helper()
		nps, ok := namespacePolicies("apps", nil, keep, &o)
		if !ok || len(nps) != 1 {
			t.Fatalf("got %d policies, ok %v", len(nps), ok)
		}
		b, _ := json.Marshal(nps[0].Spec)
		return string(b)
	}
	allow := render(Options{Deny: deny})
	for _, want := range []string{
		`"ipBlock":{"cidr":"0.0.0.0/0","except":["168.63.129.16/32","169.254.169.254/32"]}`,
		`"ipBlock":{"cidr":"::/0","except":["fd00:ec2::254/128"]}`,
		`{"to":[{"namespaceSelector":{}}]}`,
		`"podSelector":{"matchLabels":{"k8s-app":"kube-dns"}}`,
		// Azure DNS stays open on the WireServer address, port 53 only.
		`{"ports":[{"protocol":"TCP","port":53},{"protocol":"UDP","port":53}],"to":[{"ipBlock":{"cidr":"168.63.129.16/32"}}]}`,
		`"to":[{"ipBlock":{"cidr":"169.254.170.23/32"}}]`,
		`"to":[{"ipBlock":{"cidr":"169.254.20.10/32"}}]`,
	} {
		if !strings.Contains(allow, want) {
			t.Errorf("allow-all-but-metadata policy lacks %s:\n%s", want, allow)
		}
	}
	deny2 := render(Options{Deny: deny, DefaultDeny: true})
	for _, gone := range []string{`"cidr":"0.0.0.0/0"`, `"cidr":"::/0"`, `{"namespaceSelector":{}}`} {
		if strings.Contains(deny2, gone) {
			t.Errorf("default-deny policy still has %s:\n%s", gone, deny2)
		}
	}
	for _, want := range []string{`"k8s-app":"kube-dns"`, `"cidr":"169.254.170.23/32"`} {
		if !strings.Contains(deny2, want) {
			t.Errorf("default-deny policy lacks %s:\n%s", want, deny2)
		}
	}
}
