package generate

import (
	"bytes"
	"context"
	"net/netip"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/imdsguard/imdsguard/internal/reach"
	"github.com/imdsguard/imdsguard/internal/source/manifest"
)

// FuzzPatchPolicy feeds arbitrary NetworkPolicies to the patcher, through
// the scan's own loader. Whatever the input, patching must not panic; when
// it succeeds, the patched object must load without error and no egress
// rule of it may open a metadata address. When the loader rejects the input,
// there is nothing to patch.
func FuzzPatchPolicy(f *testing.F) {
	for _, s := range []string{
		"egress: [{}]",
		"egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]",
		"egress: [{to: [{ipBlock: {cidr: 169.254.169.254/32}}], ports: [{port: 80}]}]",
		"egress: [{to: [{ipBlock: {cidr: '::ffff:0.0.0.0/96', except: ['::ffff:10.0.0.0/104']}}]}]",
		"egress: [{to: [{ipBlock: {cidr: '::/0', except: ['fd00::/8']}}, {podSelector: {}}]}, {to: [{ipBlock: {cidr: 169.254.0.0/16}}]}]",
		"policyTypes: [Ingress, Egress]\n  egress: [{to: [{ipBlock: {cidr: 169.254.169.254/32}}]}]",
	} {
		f.Add(s)
	}
	deny := []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("168.63.129.16")}
	targets := []reach.Target{}
	for _, a := range deny {
		targets = append(targets, reach.Target{Addr: a, Port: 80, Protocol: "TCP"})
	}
	f.Fuzz(func(t *testing.T, spec string) {
		doc := "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: n}\nspec:\n  podSelector: {}\n  " + spec + "\n"
		loaded := manifest.Load(context.Background(), []string{"-"}, manifest.Options{Stdin: bytes.NewReader([]byte(doc))})
		if len(loaded.Errors) > 0 || len(loaded.Inventory.NetworkPolicies) != 1 {
			return
		}
		np := loaded.Inventory.NetworkPolicies[0]
		rules := openingRules(np, targets)
		if len(rules) == 0 {
			return
		}
		orig, err := (&FileOriginals{Stdin: []byte(doc)}).Original(np)
		if err != nil {
			t.Fatalf("the loader read the policy, reading it again failed: %v", err)
		}
		p, err := patchPolicy(np, orig, rules, deny, nil, nil)
		if err != nil {
			return // reported to the user as a policy that cannot be patched
		}
		y, err := yaml.Marshal(p.Patched.Object)
		if err != nil {
			t.Fatal(err)
		}
		again := manifest.Load(context.Background(), []string{"-"}, manifest.Options{Stdin: bytes.NewReader(y)})
		if len(again.Errors) > 0 {
			t.Fatalf("patched policy does not load: %v\n%s", again.Errors[0], y)
		}
		pp := again.Inventory.NetworkPolicies[0]
		if pp.Egress != np.Egress {
			t.Fatalf("patch changed whether the policy governs egress:\n%s", y)
		}
		if still := openingRules(pp, targets); len(still) > 0 {
			t.Fatalf("patched rules %v still open a metadata address:\n%s", still, y)
		}
	})
}
