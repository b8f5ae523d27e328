package generate

import (
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/imdsguard/imdsguard/internal/model"
)

func policyFromYAML(t *testing.T, y string) (*model.NetworkPolicy, *FileOriginals) {
	t.Helper()
	objs, err := decodeAll([]byte(y))
	if err != nil || len(objs) != 1 {
		t.Fatalf("decoding: %v (%d objects)", err, len(objs))
	}
	np := &model.NetworkPolicy{Ref: model.ObjectRef{Kind: "NetworkPolicy", Namespace: "default", Name: objs[0].GetName()},
		Source: model.Source{File: "-", Line: 1}}
	return np, &FileOriginals{Stdin: []byte(y)}
}

var awsDeny = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}

func TestPatchPolicy(t *testing.T) {
	const head = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, labels: {team: a}}\nspec:\n  podSelector: {matchLabels: {app: a}}\n  ingress: [{from: [{podSelector: {}}]}]\n  egress:\n"
	cases := []struct {
		name   string
		egress string
		rules  []int
		want   string // the patched egress list, as JSON
		change string
	}{
		{"except added to a block without one", "  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n    ports: [{port: 80}]\n", []int{0},
			`[{"ports":[{"port":80}],"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["169.254.169.254/32"]}}]}]`, "except 169.254.169.254/32 added"},
		{"except appended, other entries kept", "  - to: [{ipBlock: {cidr: 169.254.0.0/16, except: [169.254.20.10/32]}}, {podSelector: {}}]\n", []int{0},
			`[{"to":[{"ipBlock":{"cidr":"169.254.0.0/16","except":["169.254.20.10/32","169.254.169.254/32"]}},{"podSelector":{}}]}]`, "except 169.254.169.254/32 added"},
		{"both families", "  - to: [{ipBlock: {cidr: 0.0.0.0/0}}, {ipBlock: {cidr: '::/0', except: ['fd00::/64']}}]\n", []int{0},
			`[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["169.254.169.254/32"]}},{"ipBlock":{"cidr":"::/0","except":["fd00::/64","fd00:ec2::254/128"]}}]}]`, "fd00:ec2::254/128 added"},
		{"empty to", "  - {}\n  - to: [{podSelector: {}}]\n", []int{0},
			`[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["169.254.169.254/32"]}},{"ipBlock":{"cidr":"::/0","except":["fd00:ec2::254/128"]}},{"namespaceSelector":{}}]},{"to":[{"podSelector":{}}]}]`, "empty `to`"},
		{"a peer that is exactly metadata is removed", "  - to: [{ipBlock: {cidr: 169.254.169.254/32}}, {ipBlock: {cidr: 10.0.0.0/8}}]\n", []int{0},
			`[{"to":[{"ipBlock":{"cidr":"10.0.0.0/8"}}]}]`, "is a metadata address; removed"},
		{"a rule left with no peer is removed", "  - to: [{podSelector: {}}]\n  - to: [{ipBlock: {cidr: 169.254.169.254/32}}]\n    ports: [{port: 80}]\n", []int{1},
			`[{"to":[{"podSelector":{}}]}]`, "rule 1 removed"},
		{"IPv4-mapped block rewritten", "  - to: [{ipBlock: {cidr: '::ffff:0.0.0.0/96', except: ['::ffff:10.0.0.0/104']}}]\n", []int{0},
			`[{"to":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.0/8","169.254.169.254/32"]}}]}]`, "IPv4-mapped"},
		{"two rules, removal and except in one patch", "  - to: [{ipBlock: {cidr: 169.254.169.254/32}}]\n  - to: [{ipBlock: {cidr: 169.254.0.0/16}}]\n", []int{0, 1},
			`[{"to":[{"ipBlock":{"cidr":"169.254.0.0/16","except":["169.254.169.254/32"]}}]}]`, "rule 0 removed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			np, orig := policyFromYAML(t, head+c.egress)
			o, err := orig.Original(np)
			if err != nil {
				t.Fatal(err)
			}
			p, err := patchPolicy(np, o, append([]int(nil), c.rules...), awsDeny, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(p.Patched.Object["spec"].(map[string]any)["egress"])
			if string(got) != c.want {
				t.Errorf("patched egress\n got %s\nwant %s", got, c.want)
			}
			if !strings.Contains(strings.Join(p.Changes, "; "), c.change) {
				t.Errorf("changes %q do not say %q", p.Changes, c.change)
			}
			// Everything but spec.egress is as written.
			for _, k := range []string{"metadata", "apiVersion", "kind"} {
				if !reflect.DeepEqual(p.Patched.Object[k], o.Object[k]) {
					t.Errorf("%s changed: %v -> %v", k, o.Object[k], p.Patched.Object[k])
				}
			}
			for _, k := range []string{"podSelector", "ingress"} {
				if !reflect.DeepEqual(p.Patched.Object["spec"].(map[string]any)[k], o.Object["spec"].(map[string]any)[k]) {
					t.Errorf("spec.%s changed", k)
				}
			}
			// The operations alone produce the patched object.
			again, err := apply(o, p.Ops)
			if err != nil || !reflect.DeepEqual(again.Object, p.Patched.Object) {
				t.Errorf("replaying the ops: %v", err)
			}
		})
	}
}

func TestPatchPolicyErrors(t *testing.T) {
	const y = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: '::/0', except: ['::ffff:0:0/96']}}]\n"
	np, orig := policyFromYAML(t, y)
	o, _ := orig.Original(np)
	_, err := patchPolicy(np, o, []int{0}, awsDeny, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "rewrite it by hand") {
		t.Errorf("mixed mapped block: got %v", err)
	}
	if _, err := patchPolicy(np, o, []int{3}, awsDeny, nil, nil); err == nil || !strings.Contains(err.Error(), "egress rule 3 is not in the object") {
		t.Errorf("rule out of range: got %v", err)
	}
	np.Ref.Name = "absent"
	if _, err := orig.Original(np); err == nil || !strings.Contains(err.Error(), "not found on reading the file again") {
		t.Errorf("absent policy: got %v", err)
	}
}

// TestPatchKeepsEgressIsolation: a policy without policyTypes governs
// egress only while it has egress rules; removing the last one must not
// turn it into an ingress-only policy.
func TestPatchKeepsEgressIsolation(t *testing.T) {
	const y = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 169.254.169.254/32}}]\n"
	np, orig := policyFromYAML(t, y)
	o, _ := orig.Original(np)
	p, err := patchPolicy(np, o, []int{0}, awsDeny, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(p.Patched.Object["spec"])
	if want := `{"egress":[],"podSelector":{},"policyTypes":["Ingress","Egress"]}`; string(got) != want {
		t.Errorf("patched spec\n got %s\nwant %s", got, want)
	}
}
