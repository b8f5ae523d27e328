package generate

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/imdsguard/imdsguard/internal/golden"
)

func TestClusterGolden(t *testing.T) {
	arts, err := Cluster(clusterTestOptions())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/cluster.golden.yaml", renderArtifacts(t, arts))
}

func TestClusterErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(*Options)
		want string
	}{
		{"no addresses", func(o *Options) { o.Deny = nil }, "no metadata addresses"},
		{"unknown kind", func(o *Options) { o.ClusterKinds = []string{"anp", "calico-enterprise"} }, `unknown kind "calico-enterprise"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := clusterTestOptions()
			tc.opts(o)
			_, err := Cluster(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestClusterKindsSelectOutput(t *testing.T) {
	o := clusterTestOptions()
	o.ClusterKinds = []string{KindCalico, KindANP}
	arts, err := Cluster(o)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range arts {
		got = append(got, a.Object.GetKind())
		if a.Group != GroupCluster {
			t.Errorf("%s: group %q", a.File, a.Group)
		}
	}
	want := []string{"AdminNetworkPolicy", "Tier", "GlobalNetworkPolicy"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("kinds (-got +want):\n%s", diff)
	}
}

// TestExemptNamespaceSelector evaluates the selector with apimachinery, as
// the network policy implementations and the API server do.
func TestExemptNamespaceSelector(t *testing.T) {
	sel, err := metav1.LabelSelectorAsSelector(ExemptNamespaceSelector(clusterTestOptions()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{"kubernetes.io/metadata.name": "apps"}, true},
		{map[string]string{"kubernetes.io/metadata.name": "apps", DefaultExemptLabel: "deny"}, true},
		{map[string]string{"kubernetes.io/metadata.name": "apps", DefaultExemptLabel: DefaultExemptValue}, false},
		{map[string]string{"kubernetes.io/metadata.name": "kube-system"}, false},
		{map[string]string{"kubernetes.io/metadata.name": "monitoring"}, false},
	} {
		if got := sel.Matches(labels.Set(tc.labels)); got != tc.want {
			t.Errorf("selector %s matches %v = %v, want %v", sel, tc.labels, got, tc.want)
		}
	}
}

// networksOf collects the CIDRs of every deny rule's peers.
func networksOf(t *testing.T, u *unstructured.Unstructured) []string {
	t.Helper()
	rules, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
	var out []string
	for _, r := range rules {
		rule := r.(map[string]any)
		if rule["action"] != "Deny" {
			t.Errorf("%s: rule action %v, want Deny", u.GetKind(), rule["action"])
		}
		for _, p := range rule["to"].([]any) {
			nets, _, _ := unstructured.NestedStringSlice(p.(map[string]any), "networks")
			if len(nets) > maxNetworks {
				t.Errorf("%s: a peer holds %d networks, over the limit of %d", u.GetKind(), len(nets), maxNetworks)
			}
			out = append(out, nets...)
		}
	}
	return out
}

func TestNetworkPolicyAPIDenyEveryAddress(t *testing.T) {
	for _, n := range []int{5, 30} {
		o := clusterTestOptions()
		o.ClusterKinds = []string{KindANP, KindBANP, KindCNP}
		if n > len(o.Deny) {
			o.Deny = nil
			for i := range n {
				o.Deny = append(o.Deny, netip.AddrFrom4([4]byte{169, 254, 169, byte(i)}))
			}
		}
		var want []string
		for _, a := range o.Deny {
			want = append(want, fmt.Sprintf("%s/%d", a, a.BitLen()))
		}
		arts, err := Cluster(o)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range arts {
			got := networksOf(t, a.Object)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("%d addresses: %s networks (-got +want):\n%s", n, a.Object.GetKind(), diff)
			}
			prio, found, _ := unstructured.NestedInt64(a.Object.Object, "spec", "priority")
			if a.Object.GetKind() != "BaselineAdminNetworkPolicy" && (!found || prio != ANPPriority) {
				t.Errorf("%s: priority %d (set %v), want %d", a.Object.GetKind(), prio, found, ANPPriority)
			}
		}
		if name := arts[1].Object.GetName(); name != BANPName {
			t.Errorf("BaselineAdminNetworkPolicy named %q, want %q", name, BANPName)
		}
		if tier, _, _ := unstructured.NestedString(arts[2].Object.Object, "spec", "tier"); tier != "Admin" {
			t.Errorf("ClusterNetworkPolicy tier %q, want Admin", tier)
		}
	}
}

// TestCiliumLeavesOtherEgressAlone checks the policy cannot put pods in
// default-deny: it opts out, and it has no allow rules that would be
// unioned with other policies.
func TestCiliumLeavesOtherEgressAlone(t *testing.T) {
	o := clusterTestOptions()
	o.ClusterKinds = []string{KindCilium}
	arts, err := Cluster(o)
	if err != nil {
		t.Fatal(err)
	}
	spec := arts[0].Object.Object["spec"].(map[string]any)
	if dd, _, _ := unstructured.NestedFieldNoCopy(spec, "enableDefaultDeny", "egress"); dd != false {
		t.Errorf("enableDefaultDeny.egress = %v, want false", dd)
	}
	if dd, _, _ := unstructured.NestedFieldNoCopy(spec, "enableDefaultDeny", "ingress"); dd != false {
		t.Errorf("enableDefaultDeny.ingress = %v, want false", dd)
	}
	for _, k := range []string{"egress", "ingress", "ingressDeny"} {
		if _, ok := spec[k]; ok {
			t.Errorf("policy has %s rules; it must only deny egress", k)
		}
	}
	var cidrs []string
	for _, r := range spec["egressDeny"].([]any) {
		for _, c := range r.(map[string]any)["toCIDRSet"].([]any) {
			cidrs = append(cidrs, c.(map[string]any)["cidr"].(string))
		}
	}
	want := []string{"100.100.100.200/32", "168.63.129.16/32", "169.254.169.254/32", "fd00:ec2::254/128", "fd20:ce::254/128"}
	if diff := cmp.Diff(cidrs, want); diff != "" {
		t.Errorf("denied CIDRs (-got +want):\n%s", diff)
	}
	exprs, _, _ := unstructured.NestedSlice(spec, "endpointSelector", "matchExpressions")
	wantExprs := []any{
		map[string]any{"key": "k8s:io.kubernetes.pod.namespace", "operator": "Exists"},
		map[string]any{"key": "k8s:io.kubernetes.pod.namespace", "operator": "NotIn", "values": []any{"kube-system", "monitoring"}},
		map[string]any{"key": "k8s:io.cilium.k8s.namespace.labels." + DefaultExemptLabel, "operator": "NotIn", "values": []any{DefaultExemptValue}},
	}
	if diff := cmp.Diff(exprs, wantExprs); diff != "" {
		t.Errorf("endpointSelector (-got +want):\n%s", diff)
	}
}

// TestCalicoPassesEverythingElse checks the Calico policy denies only the
// metadata addresses and hands all other traffic to the next tier, so it
// neither default-denies pods nor skips their NetworkPolicies.
func TestCalicoPassesEverythingElse(t *testing.T) {
	o := clusterTestOptions()
	o.ClusterKinds = []string{KindCalico}
	arts, err := Cluster(o)
	if err != nil {
		t.Fatal(err)
	}
	tier, gnp := arts[0].Object, arts[1].Object
	if tier.GetKind() != "Tier" || tier.GetName() != CalicoTier {
		t.Fatalf("first object is %s %q, want Tier %q", tier.GetKind(), tier.GetName(), CalicoTier)
	}
	if got, _, _ := unstructured.NestedString(gnp.Object, "spec", "tier"); got != CalicoTier {
		t.Errorf("policy tier %q, want %q", got, CalicoTier)
	}
	if !strings.HasPrefix(gnp.GetName(), CalicoTier+".") {
		t.Errorf("policy name %q lacks the tier prefix", gnp.GetName())
	}
	rules, _, _ := unstructured.NestedSlice(gnp.Object, "spec", "egress")
	var actions []string
	nets := map[int64][]string{}
	for _, r := range rules {
		rule := r.(map[string]any)
		actions = append(actions, rule["action"].(string))
		if rule["action"] == "Deny" {
			n, _, _ := unstructured.NestedStringSlice(rule, "destination", "nets")
			nets[rule["ipVersion"].(int64)] = n
		}
	}
	if diff := cmp.Diff(actions, []string{"Deny", "Deny", "Pass"}); diff != "" {
		t.Errorf("rule actions (-got +want):\n%s", diff)
	}
	if last := rules[len(rules)-1].(map[string]any); len(last) != 1 {
		t.Errorf("the final Pass rule has match criteria: %v", last)
	}
	wantNets := map[int64][]string{
		4: {"100.100.100.200/32", "168.63.129.16/32", "169.254.169.254/32"},
		6: {"fd00:ec2::254/128", "fd20:ce::254/128"},
	}
	if diff := cmp.Diff(nets, wantNets); diff != "" {
		t.Errorf("denied nets by IP version (-got +want):\n%s", diff)
	}
	types, _, _ := unstructured.NestedStringSlice(gnp.Object, "spec", "types")
	if !slices.Equal(types, []string{"Egress"}) {
		t.Errorf("types %v, want [Egress]", types)
	}
	sel, _, _ := unstructured.NestedString(gnp.Object, "spec", "namespaceSelector")
	wantSel := `projectcalico.org/name not in {"kube-system", "monitoring"} && imdsguard.io/metadata-access not in {"allow"}`
	if sel != wantSel {
		t.Errorf("namespaceSelector\n got %s\nwant %s", sel, wantSel)
	}
}
